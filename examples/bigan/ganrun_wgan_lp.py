"""A loss as a ganrun plugin, in one file: `loss=wgan_lp`, WGAN-LP (Petzka, Fischer & Lukovnikov 2018).

The WGAN-GP critic with a one-sided penalty: only gradients steeper than 1 are penalised,
lambda E[max(0, ||grad D(x^)||_2 - 1)^2] at x^ = t x + (1 - t) x~. Its recipe is WGAN-GP's, as a
built-in loss's YAML file would set it; here the user gives it (`optimizer=adam_gp train.n_critic=5`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ganrun.config import bounded, register


@dataclass
class WGANLPLossConfig:
    type: str = "wgan_lp"
    gp_weight: float = bounded(10.0, ge=0)     # lambda


register("loss", WGANLPLossConfig, "ganrun_wgan_lp:build")


def build(gp_weight, **context):
    import torch

    from ganrun.losses import WassersteinGP, per_sample

    class WassersteinLP(WassersteinGP):
        def penalty(self, D, real, fake, y=None):
            from ganrun.models import score_of

            t = per_sample(real)
            x_hat = (t * real + (1 - t) * fake).detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(score_of(D(x_hat)).sum(), x_hat, create_graph=True)
            slope = grad.flatten(1).norm(dim=1)
            return self.gp_weight * (slope - 1).clamp(min=0).pow(2).mean()

    return WassersteinLP(gp_weight=gp_weight, **context)
