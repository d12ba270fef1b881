"""Options of the `loss` group: the loss pairs of GAN_NOTES §2 (ganrun/losses.py).

Each schema holds its loss's constants and their defaults; the YAML file of the option adds
the recipe (optimizer, n_critic) that goes with it."""

from __future__ import annotations

from dataclasses import dataclass

from ganrun.config import bounded, register


@dataclass
class MinimaxLossConfig:
    type: str = "mm"


@dataclass
class NonSaturatingLossConfig:
    type: str = "ns"


@dataclass
class WGANLossConfig:
    type: str = "wgan"
    clip: float = bounded(0.01, ge=0)        # every D weight clipped to [-clip, clip]


@dataclass
class WGANGPLossConfig:
    type: str = "wgan_gp"
    gp_weight: float = bounded(10.0, ge=0)   # lambda


@dataclass
class LSGANLossConfig:
    type: str = "lsgan"


@dataclass
class DRAGANLossConfig:
    type: str = "dragan"
    gp_weight: float = bounded(10.0, ge=0)   # lambda
    perturb: float = bounded(0.5, ge=0)      # c in x + a * c * std(x) * u


@dataclass
class BEGANLossConfig:
    type: str = "began"
    gamma: float = bounded(0.5, gt=0, le=1)  # diversity ratio E[L(x~)] / E[L(x)] it aims for
    lambda_k: float = bounded(0.001, ge=0)   # learning rate of k_t
    k_init: float = bounded(0.0, ge=0, le=1)        # k_0, the starting weight of L(x~) in D's loss


@dataclass
class HingeLossConfig:
    type: str = "hinge"


@dataclass
class RSGANLossConfig:
    type: str = "rsgan"


@dataclass
class RaGANLossConfig:
    type: str = "ragan"


register("loss", MinimaxLossConfig, "ganrun.losses:Minimax")
register("loss", NonSaturatingLossConfig, "ganrun.losses:NonSaturating")
register("loss", WGANLossConfig, "ganrun.losses:Wasserstein")
register("loss", WGANGPLossConfig, "ganrun.losses:WassersteinGP")
register("loss", LSGANLossConfig, "ganrun.losses:LeastSquares")
register("loss", DRAGANLossConfig, "ganrun.losses:DRAGAN")
register("loss", BEGANLossConfig, "ganrun.losses:BEGAN")
register("loss", HingeLossConfig, "ganrun.losses:Hinge")
register("loss", RSGANLossConfig, "ganrun.losses:RelativisticStandard")
register("loss", RaGANLossConfig, "ganrun.losses:RelativisticAverage")
