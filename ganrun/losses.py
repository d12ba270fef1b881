"""The GAN loss family, one class per row of GAN_NOTES §2.

D(x) is always the raw score ("logit"); sigmoids live inside numerically stable
softplus / BCE-with-logits forms, never as sigmoid-then-log. Each class writes
its row of the table in `d_loss` and `g_loss`; the loop calls `discriminator`
and `generator`, which evaluate D and collect the terms to log, so the loop has
no per-loss branches. After each class: its options (the schema: `loss.<key>` on the command
line, with ranges and defaults) and the line that makes it `loss=<type>`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganrun import distributed, terms as stats
from ganrun.config import bounded, register
from ganrun.models import DOut, score_of
from ganrun.terms import Terms, later, now


def bce(logits: Tensor, target: Tensor) -> Tensor:
    """-E[y log s(l) + (1 - y) log(1 - s(l))], stable for any logit."""
    return F.binary_cross_entropy_with_logits(logits, target)


class Labels:
    """D's targets for the label-based losses: real 1, fake 0, unless a trick changes them
    (GAN_NOTES §5, trick 4): one-sided smoothing (real 1 - s), noisy labels (real ~ U[0.8, 1.2],
    fake ~ U[0, 0.3]) and flips (each target swapped with probability p)."""

    def __init__(self, smoothing: float = 0.0, noisy: bool = False, flip: float = 0.0):
        self.smoothing, self.noisy, self.flip = smoothing, noisy, flip

    @property
    def changed(self) -> bool:
        return self.smoothing > 0 or self.noisy or self.flip > 0

    def __call__(self, scores: Tensor) -> tuple[Tensor, Tensor]:
        """(real targets, fake targets) for a batch of D scores: same shape, dtype and device."""
        if self.noisy:
            real = torch.empty_like(scores).uniform_(0.8, 1.2)
            fake = torch.empty_like(scores).uniform_(0.0, 0.3)
        else:
            real = torch.full_like(scores, 1.0 - self.smoothing)
            fake = torch.zeros_like(scores)
        if self.flip > 0:
            swap = torch.rand(scores.shape, device=scores.device) < self.flip
            real, fake = torch.where(swap, fake, real), torch.where(swap, real, fake)
        return real, fake


class GANLoss(nn.Module):
    """Base class. Subclasses write their formulas; state (BEGAN's k) lives in buffers."""

    # What a loss is, for the parts that depend on it (declared here, never a list of names elsewhere):
    uses_labels = False        # label tricks (smoothing, noisy labels, flips) apply
    autoencoder = False        # D must be an autoencoder (BEGAN)
    needs_real_for_g = False   # the G loss looks at D(x) too (relativistic losses)
    preferred_d_norm = "batch"      # D's normalisation under model.d_norm=auto (GAN_NOTES §2 recipes)
    logit_zero_point = False   # D's raw score has a zero point between real and fake (ADA steers by its sign)

    @property
    def double_backward(self) -> bool:
        """Whether D's loss differentiates through a gradient (a gradient penalty): torch.compile cannot."""
        return getattr(self, "gp_weight", 0) > 0

    def __init__(self, joint_batches: bool = False, labels: Labels | None = None):
        super().__init__()
        self.joint_batches = joint_batches
        self.labels = labels or Labels()

    # -- the formulas ---------------------------------------------------------
    def d_loss(self, d_real: Tensor, d_fake: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, d_fake: Tensor, d_real: Tensor | None) -> Tensor:
        raise NotImplementedError

    def penalty(self, D: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None = None) -> Tensor | None:
        """A regulariser added to the D loss (gradient penalties); None if the loss has none.
        `y`: the real labels, for a conditional D (the points penalised are scored as real's class)."""
        return None

    def extra_terms(self, d_real: Tensor, d_fake: Tensor) -> Terms:
        """Loss-specific scalars to log after each D step."""
        return {}

    def after_d_step(self, D: nn.Module, terms: Terms) -> None:
        """Runs after each optimizer step of D (weight clipping, BEGAN's k update; an override that changes
        weights or buffers does it under torch.no_grad())."""

    def link(self, scores: Tensor) -> Tensor:
        """Turns raw D scores into what plots call D(x): a probability where the loss has one."""
        return scores

    # -- what the games call --------------------------------------------------
    def scores(self, D: nn.Module, real: Tensor, fake: Tensor, y_real: Tensor | None = None,
               y_fake: Tensor | None = None) -> tuple[Any, Any]:
        """D's outputs on real and fake: two forward passes, or one on the concatenated batch.
        With labels (a conditional game) D sees each batch's own; outputs are scores or DOuts."""
        if self.joint_batches:
            y = None if y_real is None else torch.cat([y_real, y_fake])
            out = call(D, torch.cat([real, fake]), y)
            if isinstance(out, DOut):
                parts = [o.split([len(real), len(fake)]) if o is not None else (None, None) for o in out]
                return DOut(*(p[0] for p in parts)), DOut(*(p[1] for p in parts))
            return out.split([len(real), len(fake)])
        return call(D, real, y_real), call(D, fake, y_fake)

    def discriminator(self, D: nn.Module, real: Tensor, fake: Tensor, y_real: Tensor | None = None,
                      y_fake: Tensor | None = None, outputs: dict | None = None) -> Terms:
        """D's loss terms; `outputs`, if given, receives D's full outputs ("real", "fake")."""
        out_real, out_fake = self.scores(D, real, fake, y_real, y_fake)
        if outputs is not None:
            outputs.update(real=out_real, fake=out_fake)
        return self.d_terms(D, out_real, out_fake, real, fake, y_real)

    def d_terms(self, D: nn.Module, out_real, out_fake, real: Tensor, fake: Tensor,
                y_real: Tensor | None = None) -> Terms:
        """D's loss terms from its outputs on real and fake (computed once, e.g. for several fakes)."""
        d_real, d_fake = score_of(out_real), score_of(out_fake)
        loss = self.d_loss(d_real, d_fake)
        # The statistics of D's scores are computed at log time, for the whole window (ganrun/terms.py).
        s_real, s_fake = d_real.detach(), d_fake.detach()
        terms: Terms = {"D/real": later(stats.mean, s_real), "D/fake": later(stats.mean, s_fake)}
        penalty = self.penalty(D, real, fake, y_real)
        if penalty is not None:
            terms["loss/gp"] = penalty
            loss = loss + penalty
        terms.update(self.extra_terms(s_real, s_fake))
        if not self.autoencoder:            # training-health signals (ganrun/health.py)
            terms["health/d_acc_real"] = later(stats.share_positive, s_real)
            terms["health/d_acc_fake"] = later(stats.share_negative, s_fake)
            terms["health/r_t"] = later(stats.mean_sign, s_real)
        terms["loss/D"] = loss
        return terms

    def generator(self, D: nn.Module, real: Tensor, fake: Tensor, y_real: Tensor | None = None,
                  y_fake: Tensor | None = None, outputs: dict | None = None) -> Terms:
        """G's loss terms; `outputs`, if given, receives D's full output on the fakes ("fake")."""
        out_fake = call(D, fake, y_fake)
        if outputs is not None:
            outputs["fake"] = out_fake
        d_real = score_of(call(D, real, y_real)) if self.needs_real_for_g else None
        return {"loss/G": self.g_loss(score_of(out_fake), d_real)}


def call(D: nn.Module, x: Tensor, y: Tensor | None):
    """D(x), or D(x, y) for a conditional D."""
    return D(x) if y is None else D(x, y)


def input_gradient_norms(D: nn.Module, x: Tensor, y: Tensor | None = None) -> Tensor:
    """||grad_x D(x)||_2 of each D input row, the norm over all its non-batch dimensions (with
    PacGAN packing, a pack is one row). The graph is kept so that a penalty on it trains D.
    Computed in float32 even under mixed precision: float16 gradients of D could underflow."""
    mixed = torch.is_autocast_enabled(x.device.type)
    with torch.autocast(x.device.type, enabled=False) if mixed else contextlib.nullcontext():
        x = x.detach()
        x = (x if x.dtype == torch.float32 else x.float()).requires_grad_(True)
        out = score_of(call(D, x, y))
        out = out if out.dtype == torch.float32 else out.float()
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
        return grad.reshape(len(out), -1).norm(2, dim=1)


def gradient_penalty(D: nn.Module, x_hat: Tensor, y: Tensor | None = None) -> Tensor:
    """E[(||grad D(x_hat)||_2 - 1)^2] (WGAN-GP, DRAGAN): D's slope pulled towards 1 at x_hat."""
    return ((input_gradient_norms(D, x_hat, y) - 1) ** 2).mean()


def r1_penalty(D: nn.Module, real: Tensor, y: Tensor | None = None) -> Tensor:
    """E[||grad D(x)||_2^2] on real data (Mescheder et al. 2018's R1, without its gamma / 2): D's
    slope pulled towards 0 where the data is, so that D and G can settle at the equilibrium
    instead of circling it."""
    return (input_gradient_norms(D, real, y) ** 2).mean()


def per_sample(shape_like: Tensor) -> Tensor:
    """U[0, 1] drawn once per sample, broadcastable over its other dimensions."""
    return torch.rand(len(shape_like), *[1] * (shape_like.dim() - 1), device=shape_like.device)


class Minimax(GANLoss):
    """`mm` (Goodfellow 2014): D: -E[log s(D(x))] - E[log(1 - s(D(x~)))]; G: E[log(1 - s(D(x~)))]."""

    uses_labels = True
    logit_zero_point = True     # logit 0 is D's 50/50

    def d_loss(self, d_real, d_fake):
        real_target, fake_target = self.labels(d_real)
        return bce(d_real, real_target) + bce(d_fake, fake_target)

    def g_loss(self, d_fake, d_real):
        return -F.softplus(d_fake).mean()          # log(1 - s(l)) = -softplus(l): saturates

    def link(self, scores):
        return torch.sigmoid(scores)


@dataclass
class MinimaxLossConfig:
    """Minimax GAN (Goodfellow 2014): G minimises log(1 - D(G(z))), which saturates early on."""
    type: str = "mm"


register("loss", MinimaxLossConfig, Minimax)


class NonSaturating(Minimax):
    """`ns`: D as in mm; G: -E[log s(D(x~))]."""

    def g_loss(self, d_fake, d_real):
        return F.softplus(-d_fake).mean()          # -log s(l) = softplus(-l)


@dataclass
class NonSaturatingLossConfig:
    """Non-saturating GAN: D as minimax, G maximises log D(G(z)) (GAN_NOTES §2)."""
    type: str = "ns"


register("loss", NonSaturatingLossConfig, NonSaturating)


class Wasserstein(GANLoss):
    """`wgan` (Arjovsky 2017): D: -E[D(x)] + E[D(x~)], then every D weight clipped to [-c, c];
    G: -E[D(x~)]."""

    def __init__(self, clip: float, **kwargs):
        super().__init__(**kwargs)
        self.clip = clip

    def d_loss(self, d_real, d_fake):
        return d_fake.mean() - d_real.mean()       # -E[D(x)] + E[D(x~)]

    def g_loss(self, d_fake, d_real):
        return -d_fake.mean()

    def extra_terms(self, d_real, d_fake):
        return {"loss/wasserstein": later(stats.mean_difference, d_real, d_fake)}   # E[D(x)] - E[D(x~)]

    def after_d_step(self, D, terms):
        if self.clip > 0:
            with torch.no_grad():
                for p in D.parameters():
                    p.clamp_(-self.clip, self.clip)


@dataclass
class WGANLossConfig:
    type: str = "wgan"
    clip: float = bounded(0.01, ge=0)        # every D weight clipped to [-clip, clip]


register("loss", WGANLossConfig, Wasserstein)


class WassersteinGP(Wasserstein):
    """`wgan_gp` (Gulrajani 2017): the wgan loss without clipping, plus
    lambda E[(||grad D(x^)||_2 - 1)^2] at x^ = t x + (1 - t) x~, t ~ U[0, 1] drawn per sample."""

    preferred_d_norm = "layer"      # no batch norm in the critic: the penalty is per sample

    def __init__(self, gp_weight: float, **kwargs):
        super().__init__(clip=0.0, **kwargs)
        self.gp_weight = gp_weight

    def penalty(self, D, real, fake, y=None):
        t = per_sample(real)
        return self.gp_weight * gradient_penalty(D, t * real + (1 - t) * fake, y)


@dataclass
class WGANGPLossConfig:
    type: str = "wgan_gp"
    gp_weight: float = bounded(10.0, ge=0)   # lambda


register("loss", WGANGPLossConfig, WassersteinGP)


class LeastSquares(GANLoss):
    """`lsgan` (Mao 2017): D: E[(D(x) - 1)^2] + E[D(x~)^2]; G: E[(D(x~) - 1)^2] (the unhalved form)."""

    uses_labels = True

    def d_loss(self, d_real, d_fake):
        real_target, fake_target = self.labels(d_real)
        return ((d_real - real_target) ** 2).mean() + ((d_fake - fake_target) ** 2).mean()

    def g_loss(self, d_fake, d_real):
        return ((d_fake - 1) ** 2).mean()


@dataclass
class LSGANLossConfig:
    """Least-squares GAN (Mao 2017): D regresses real to 1 and fake to 0, G pushes D(x~) to 1.
    Recipe: the DCGAN Adam settings."""
    type: str = "lsgan"


register("loss", LSGANLossConfig, LeastSquares)


class DRAGAN(NonSaturating):
    """`dragan` (Kodali 2017): the mm/ns D loss plus lambda E[(||grad D(x^)||_2 - 1)^2] around the
    real data only: x^ = x + a * delta, delta = c * std(x) * u, u ~ U[0, 1] per element and
    a ~ U[0, 1] per sample (the authors' code); G: the ns loss."""

    preferred_d_norm = "layer"

    def __init__(self, gp_weight: float, perturb: float, **kwargs):
        super().__init__(**kwargs)
        self.gp_weight, self.perturb = gp_weight, perturb

    def penalty(self, D, real, fake, y=None):
        delta = self.perturb * real.std() * torch.rand_like(real)
        return self.gp_weight * gradient_penalty(D, real + per_sample(real) * delta, y)


@dataclass
class DRAGANLossConfig:
    type: str = "dragan"
    gp_weight: float = bounded(10.0, ge=0)   # lambda
    perturb: float = bounded(0.5, ge=0)      # c in x + a * c * std(x) * u


register("loss", DRAGANLossConfig, DRAGAN)


class BEGAN(GANLoss):
    """`began` (Berthelot 2017): D is an autoencoder scoring L(v) = E|v - AE(v)|;
    D: L(x) - k_t L(x~); G: L(x~); k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(x~)), 0, 1)."""

    autoencoder = True
    preferred_d_norm = "none"

    def __init__(self, gamma: float, lambda_k: float, k_init: float, **kwargs):
        super().__init__(**kwargs)
        self.gamma, self.lambda_k = gamma, lambda_k
        self.register_buffer("k", torch.tensor(float(k_init)))   # saved with the checkpoint

    def d_loss(self, d_real, d_fake):
        return d_real.mean() - self.k * d_fake.mean()

    def g_loss(self, d_fake, d_real):
        return d_fake.mean()

    def extra_terms(self, d_real, d_fake):
        L_real, L_fake = d_real.mean(), d_fake.mean()
        return {"began/k": self.k.clone(),
                "began/M": L_real + (self.gamma * L_real - L_fake).abs()}   # convergence measure

    def check_state(self) -> str | None:
        k = float(self.k)
        return None if 0.0 <= k <= 1.0 else f"BEGAN's k is {k}, outside [0, 1]"

    @torch.no_grad()
    def after_d_step(self, D, terms):
        balance = distributed.mean(self.gamma * now(terms["D/real"]) - now(terms["D/fake"]))   # the same k on every rank
        self.k.add_(self.lambda_k * balance).clamp_(0.0, 1.0)


@dataclass
class BEGANLossConfig:
    """Boundary equilibrium GAN (Berthelot 2017): D is an autoencoder (the chosen model's
    autoencoder form); k_t balances the two players and is kept in checkpoints.
    Logs began/k and the convergence measure began/M."""
    type: str = "began"
    gamma: float = bounded(0.5, gt=0, le=1)  # diversity ratio E[L(x~)] / E[L(x)] it aims for
    lambda_k: float = bounded(0.001, ge=0)   # learning rate of k_t
    k_init: float = bounded(0.0, ge=0, le=1)        # k_0, the starting weight of L(x~) in D's loss


register("loss", BEGANLossConfig, BEGAN)


class Hinge(GANLoss):
    """`hinge` (Lim & Ye 2017; SNGAN, BigGAN): D: E[relu(1 - D(x))] + E[relu(1 + D(x~))]; G: -E[D(x~)]."""

    logit_zero_point = True     # the margins are at -1 and 1 around 0

    def d_loss(self, d_real, d_fake):
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()

    def g_loss(self, d_fake, d_real):
        return -d_fake.mean()


@dataclass
class HingeLossConfig:
    type: str = "hinge"


register("loss", HingeLossConfig, Hinge)


class RelativisticStandard(GANLoss):
    """`rsgan` (Jolicoeur-Martineau 2018): D: -E[log s(D(x) - D(x~))]; G: -E[log s(D(x~) - D(x))]."""

    needs_real_for_g = True

    def d_loss(self, d_real, d_fake):
        return F.softplus(-(d_real - d_fake)).mean()

    def g_loss(self, d_fake, d_real):
        return F.softplus(-(d_fake - d_real)).mean()


@dataclass
class RSGANLossConfig:
    """Relativistic standard GAN (Jolicoeur-Martineau 2018): D judges whether real looks more real than fake."""
    type: str = "rsgan"


register("loss", RSGANLossConfig, RelativisticStandard)


class RelativisticAverage(GANLoss):
    """`ragan` (Jolicoeur-Martineau 2018): D: -E[log s(D(x) - E D(x~))] - E[log(1 - s(D(x~) - E D(x)))];
    G: the same with real and fake swapped."""

    needs_real_for_g = True

    def d_loss(self, d_real, d_fake):
        return F.softplus(-(d_real - d_fake.mean())).mean() + F.softplus(d_fake - d_real.mean()).mean()

    def g_loss(self, d_fake, d_real):
        return F.softplus(-(d_fake - d_real.mean())).mean() + F.softplus(d_real - d_fake.mean()).mean()


@dataclass
class RaGANLossConfig:
    """Relativistic average GAN (Jolicoeur-Martineau 2018): each sample against the other side's mean score."""
    type: str = "ragan"


register("loss", RaGANLossConfig, RelativisticAverage)

