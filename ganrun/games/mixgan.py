"""MIX+GAN (Arora et al. 2017; GAN_NOTES §7.5): a mixture of T generators against a mixture of
T discriminators, the approximate mixed equilibrium that a pure GAN may not reach.

Player G holds the T generators and their mixture weights w_u = softmax(alpha_u); player D the
T discriminators and w_v = softmax(alpha_v) (one optimizer each: Adam on the T networks at
once is T Adams with equal settings). Every step plays the mixed payoff, the loss of every
(G_i, D_j) pair weighted by w_u[i] * w_v[j]:

    (1) D: minimise  sum_ij w_u[i] w_v[j] L_D(D_j; x, G_i(z))  - lambda * H(w_v)
    (2) G: minimise  sum_ij w_u[i] w_v[j] L_G(D_j; G_i(z))     - lambda * H(w_u)

the entropy H of the weights (weight `game.entropy`) keeping the mixture from collapsing onto
one component. Each D scores the real batch once and each generator's fakes once. A sample of
the mixture comes from a generator drawn by its weight: samples, metrics, ganrun-sample and
exports all use the mixture. Logged: mix/w_<i> (the generators' weights), mix/wd_<j> (the
discriminators'), loss/G_<i> and loss/D_<j> (each component's payoff, averaged over the other side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor, nn

from ganrun.config import bounded, register
from ganrun.data import Batch
from ganrun.errors import ConfigError
from ganrun.games.gan import GAN
from ganrun.kinds import KINDS
from ganrun.losses import call
from ganrun.terms import Terms, now
from ganrun.tricks import DView, instance_noise_std


class Mixture(nn.Module):
    """T networks built one after another (each its own initialisation) and their mixture weights
    softmax(logits), which start uniform."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.logits = nn.Parameter(torch.zeros(len(members)))
        self.latent_dim = getattr(members[0], "latent_dim", None)

    def weights(self) -> Tensor:
        return torch.softmax(self.logits, dim=0)

    def sample(self, z: Tensor, which: Tensor) -> Tensor:
        """Member which[i] applied to z[i]."""
        parts = [(chosen, self.members[c](z[chosen])) for c in range(len(self.members))
                 if len(chosen := (which == c).nonzero().squeeze(1))]
        out = parts[0][1].new_empty(len(z), *parts[0][1].shape[1:])
        for chosen, x in parts:
            out[chosen] = x
        return out


def entropy(w: Tensor) -> Tensor:
    return -(w * w.clamp_min(1e-12).log()).sum()


@dataclass
class MixGANGameConfig:
    """MIX+GAN (Arora et al. 2017, GAN_NOTES §7.5): T generators against T discriminators, each side a
    mixture with learned weights, trained on the payoff averaged over the mixtures, with an entropy
    regulariser on the weights."""
    type: str = "mixgan"
    components: int = bounded(5, ge=1, le=32)       # T generators and T discriminators (the paper's 5)
    entropy: float = bounded(0.01, ge=0)            # weight of the entropy regulariser on the weights


class MixGAN(GAN):
    simultaneous_updates = False       # its phases share the fakes of D's last update

    def __init__(self, components: int, entropy: float, *, cfg, data, device: torch.device):
        self.components, self.entropy_weight = components, entropy
        super().__init__(cfg, data, device)
        self.views = [DView(D, cfg.tricks.pack) for D in self.D.module.members]
        self.d_view = self.views[0]          # status() reads the noise level here
        # The phases are the classic game's (GAN.phase_table): (1) the discriminators and their
        # weights n_critic times, (2) the generators and theirs; the losses below are the mixed payoffs.

    def check(self, cfg) -> None:
        super().check(cfg)
        for key, on, why in [("loss=began", self.loss.autoencoder, "BEGAN's k_t balances one G against one D"),
                             ("tricks.replay", cfg.tricks.replay > 0, "the buffer would mix the generators' fakes"),
                             ("tricks.joint_batches", cfg.tricks.joint_batches, "each D scores the real batch "
                                                                               "once and every generator's fakes"),
                             ("tricks.diffaug", cfg.tricks.diffaug not in ("none", ""),
                              "the mixture's discriminators see un-augmented images"),
                             ("tricks.ortho", cfg.tricks.ortho > 0, "the mixture's generators are not regularised"),
                             ("tricks.r1", cfg.tricks.r1 > 0, "the discriminators' payoff is a mixture, "
                                                              "which the penalty is not written for"),
                             ("tricks.mode_seeking", cfg.tricks.mode_seeking > 0,
                              "each generator draws its own unpaired batch, which the term cannot compare"),
                             (f"train.g_steps={cfg.train.g_steps}", cfg.train.g_steps > 1,
                              "the generators are updated once a step, on the fakes D's last update scored")]:
            if on:
                raise ConfigError(f"{key} with game=mixgan: {why}; turn it off or use game=gan")

    def networks(self, cfg, data) -> tuple[nn.Module, nn.Module]:
        pairs = [super(MixGAN, self).networks(cfg, data) for _ in range(self.components)]
        return Mixture([g for g, _ in pairs]), Mixture([d for _, d in pairs])

    def d_loss(self, step: int, i: int, scratch: dict) -> Terms:
        """The discriminators' mixed payoff on a fresh real batch and each generator's fakes."""
        G, D, loss, B, autocast = self.G, self.D, self.loss, self.batch_size, self.precision.autocast
        real = self.data.sample(B).x
        # The last fakes keep their graphs: the generators' update reuses them.
        with torch.set_grad_enabled(i == self.n_critic - 1), autocast():
            fakes = [g(self.z(B)) for g in G.module.members]
        with autocast():
            w_u, w_v = G.module.weights().detach(), D.module.weights()
            pairs = {}
            for j, view in enumerate(self.views):
                on_real = call(view, real, None)
                for k, fake in enumerate(fakes):
                    pairs[k, j] = loss.d_terms(view, on_real, call(view, fake.detach(), None), real, fake.detach())
            terms = self.payoff(pairs, w_u, w_v, "loss/D")
            terms["loss/D"] = terms["loss/D"] - self.entropy_weight * entropy(w_v)
            terms.update({f"mix/wd_{j}": w_v[j].detach() for j in range(self.components)})
        scratch.update(real=real, fakes=fakes)
        return terms

    def before_d(self, step: int, scratch: dict) -> None:
        noise = instance_noise_std(self.noise_start, self.noise_steps, step - 1)
        for view in self.views:
            view.noise_std = noise

    def after_d_update(self, terms: Terms, scratch: dict) -> None:
        for member in self.D.module.members:
            self.loss.after_d_step(member, terms)

    def g_loss(self, step: int, j: int, scratch: dict) -> Terms:
        """The generators' mixed payoff on the fakes of D's last update."""
        real, fakes = scratch["real"], scratch["fakes"]
        with self.precision.autocast():
            w_u, w_v = self.G.module.weights(), self.D.module.weights().detach()
            pairs = {(k, j): self.loss.generator(view, real, fake)
                     for j, view in enumerate(self.views) for k, fake in enumerate(fakes)}
            terms = self.payoff(pairs, w_u, w_v, "loss/G")
            terms["loss/G"] = terms["loss/G"] - self.entropy_weight * entropy(w_u)
            terms.update({f"mix/w_{k}": w_u[k].detach() for k in range(self.components)})
        return terms

    def payoff(self, pairs: dict, w_u: Tensor, w_v: Tensor, total: str) -> Terms:
        """sum over (generator k, discriminator j) of w_u[k] w_v[j] * that pair's terms (the total
        keeps its graph; the rest are for logging), and each component's payoff: the generators'
        (loss/G_<k>) or the discriminators' (loss/D_<j>), averaged over the other side."""
        T = self.components
        out: Terms = {}
        for (k, j), terms in pairs.items():
            weight = w_u[k] * w_v[j]
            for name, term in terms.items():
                value = now(term)           # the mix needs every value at once
                part = weight * value if name == total else (weight * value).detach()
                out[name] = out[name] + part if name in out else part
        side = 0 if total == "loss/G" else 1
        for c in range(T):
            mine = [terms[total].detach() for pair, terms in pairs.items() if pair[side] == c]
            out[f"{total}_{c}"] = torch.stack(mine).mean()
        return out

    def real_scores(self, batch: Batch) -> Optional[Tensor]:
        return None         # T discriminators: no single score to follow

    # -- samples of the mixture -----------------------------------------------
    def fixed_inputs(self, seed: int) -> dict:
        rng = torch.Generator(self.device).manual_seed(seed)
        kind = KINDS[self.data.kind]
        n = max(1, kind.preview // self.components) if kind.image_like else kind.preview
        return {"z": self.z(n, generator=rng), "pick": torch.Generator(self.device).manual_seed(seed + 1)}

    @torch.no_grad()
    def pictures(self, fixed: dict) -> list[tuple[str, Tensor]]:
        """Images: one row per generator, its weight on the left; toy data: the mixture's samples,
        and (2-D points) the same samples coloured by the generator that drew them."""
        from ganrun import visualize

        kind, z = KINDS[self.data.kind], fixed["z"]
        with self.players.evaluating():
            G = self.G.eval_module
            w = G.weights().float()
            if kind.image_like:
                fake = torch.cat([g(z) for g in G.members]).float().cpu()
                names = [f"w={v:.2f}" for v in w.tolist()]
                return [("samples/components", visualize.labelled_rows(fake, len(z), names))]
            pick = torch.Generator(self.device).manual_seed(fixed["pick"].initial_seed())
            which = torch.multinomial(w, len(z), replacement=True, generator=pick)
            fake = G.sample(z, which)
            pictures = [(kind.tag, kind.picture(self.data, fake))]
            if kind.name == "points":
                pictures.append(("samples/components", visualize.scatter_components(
                    self.data.to_data(fake).float().cpu(), which.cpu(), w.cpu())))
            return pictures

    @torch.no_grad()
    def generate(self, n: int, seed: int, batch_size: int = 500, label: Optional[int] = None,
                 code: Optional[int] = None, truncation: Optional[float] = None) -> Batch:
        rng = torch.Generator(self.device).manual_seed(seed)
        G = self.G.eval_module
        xs = []
        self.truncation = truncation
        try:
            with self.players.evaluating():
                w = G.weights().float()
                for start in range(0, n, batch_size):
                    m = min(batch_size, n - start)
                    z = self.z(m, rng)
                    xs.append(G.sample(z, torch.multinomial(w, m, replacement=True, generator=rng)))
        finally:
            self.truncation = None
        return Batch(torch.cat(xs))


register("game", MixGANGameConfig, MixGAN)

