"""The GAN loss family, one class per row of GAN_NOTES §2.

D(x) is always the raw score ("logit"); sigmoids live inside numerically stable
softplus / BCE-with-logits forms, never as sigmoid-then-log. Each class writes
its row of the table in `d_loss` and `g_loss`; the loop calls `discriminator`
and `generator`, which evaluate D and collect the terms to log, so the loop has
no per-loss branches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Terms = dict[str, Tensor]


def bce(logits: Tensor, target: Tensor) -> Tensor:
    """-E[y log s(l) + (1 - y) log(1 - s(l))], stable for any logit."""
    return F.binary_cross_entropy_with_logits(logits, target)


class Labels:
    """The targets of the label-based losses: real 1, fake 0 unless a trick changes them."""

    def __init__(self, real: Tensor, fake: Tensor):
        self.real, self.fake = real, fake

    @classmethod
    def hard(cls, n: int, device: torch.device | str = "cpu") -> "Labels":
        return cls(torch.ones(n, device=device), torch.zeros(n, device=device))


class GANLoss(nn.Module):
    """Base class. Subclasses write their formulas; state (BEGAN's k) lives in buffers."""

    uses_labels = False        # label tricks (smoothing, noisy labels, flips) apply
    autoencoder = False        # D must be an autoencoder (BEGAN)
    needs_real_for_g = False   # the G loss looks at D(x) too (relativistic losses)
    critic_norm = "batch"      # D's normalisation under model.d_norm=auto (GAN_NOTES §2 recipes)

    def __init__(self, joint_batches: bool = False):
        super().__init__()
        self.joint_batches = joint_batches

    # -- the formulas ---------------------------------------------------------
    def d_loss(self, d_real: Tensor, d_fake: Tensor, labels: Labels) -> Tensor:
        raise NotImplementedError

    def g_loss(self, d_fake: Tensor, d_real: Tensor | None) -> Tensor:
        raise NotImplementedError

    def penalty(self, D: nn.Module, real: Tensor, fake: Tensor) -> Tensor | None:
        """A regulariser added to the D loss (gradient penalties); None if the loss has none."""
        return None

    def extra_terms(self, d_real: Tensor, d_fake: Tensor) -> Terms:
        """Loss-specific scalars to log after each D step."""
        return {}

    @torch.no_grad()
    def after_d_step(self, D: nn.Module, terms: Terms) -> None:
        """Runs after each optimizer step of D (weight clipping, BEGAN's k update)."""

    def link(self, scores: Tensor) -> Tensor:
        """Turns raw D scores into what plots call D(x): a probability where the loss has one."""
        return scores

    # -- what the training loop calls -----------------------------------------
    def scores(self, D: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """D(x) and D(x~): two forward passes, or one on the concatenated batch."""
        if self.joint_batches:
            return D(torch.cat([real, fake])).split([len(real), len(fake)])
        return D(real), D(fake)

    def discriminator(self, D: nn.Module, real: Tensor, fake: Tensor, labels: Labels) -> Terms:
        d_real, d_fake = self.scores(D, real, fake)
        loss = self.d_loss(d_real, d_fake, labels)
        terms: Terms = {"D/real": d_real.detach().mean(), "D/fake": d_fake.detach().mean()}
        penalty = self.penalty(D, real, fake)
        if penalty is not None:
            terms["loss/gp"] = penalty.detach()
            loss = loss + penalty
        terms.update(self.extra_terms(d_real.detach(), d_fake.detach()))
        terms["loss/D"] = loss
        return terms

    def generator(self, D: nn.Module, real: Tensor, fake: Tensor) -> Terms:
        d_fake = D(fake)
        d_real = D(real) if self.needs_real_for_g else None
        return {"loss/G": self.g_loss(d_fake, d_real)}


class Minimax(GANLoss):
    """`mm` (Goodfellow 2014): D: -E[log s(D(x))] - E[log(1 - s(D(x~)))]; G: E[log(1 - s(D(x~)))]."""

    uses_labels = True

    def d_loss(self, d_real, d_fake, labels):
        return bce(d_real, labels.real) + bce(d_fake, labels.fake)

    def g_loss(self, d_fake, d_real):
        return -F.softplus(d_fake).mean()          # log(1 - s(l)) = -softplus(l): saturates

    def link(self, scores):
        return torch.sigmoid(scores)


class NonSaturating(Minimax):
    """`ns`: D as in mm; G: -E[log s(D(x~))]."""

    def g_loss(self, d_fake, d_real):
        return F.softplus(-d_fake).mean()          # -log s(l) = softplus(-l)
