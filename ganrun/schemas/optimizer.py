"""Options of the `optimizer` group (one for G, one for D): PyTorch's optimizers, whose keys,
ranges and defaults ganrun declares here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ganrun.config import bounded, register


@dataclass
class AdamConfig:
    type: str = "adam"
    lr: float = bounded(2e-4, gt=0)                 # learning rate
    betas: Tuple[float, float] = bounded((0.5, 0.999), ge=0, lt=1)  # decay of the first and second moment estimates
    eps: float = bounded(1e-8, gt=0)                # added to the denominator
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty
    fused: Optional[bool] = None    # one kernel for all parameters; null: on when they are on a GPU


@dataclass
class RMSpropConfig:
    type: str = "rmsprop"
    lr: float = bounded(5e-5, gt=0)                 # learning rate
    alpha: float = bounded(0.99, ge=0, lt=1)        # decay of the squared-gradient average
    momentum: float = bounded(0.0, ge=0, lt=1)      # momentum factor
    eps: float = bounded(1e-8, gt=0)                # added to the denominator
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty


@dataclass
class SGDConfig:
    type: str = "sgd"
    lr: float = bounded(1e-3, gt=0)                 # learning rate
    momentum: float = bounded(0.0, ge=0, lt=1)      # momentum factor
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty


# ganrun.optimizers names torch.optim's classes; checkpoints of ganrun 0.1 stored torch's names.
register("optimizer", AdamConfig, "ganrun.optimizers:Adam", legacy_target="torch.optim.Adam")
register("optimizer", RMSpropConfig, "ganrun.optimizers:RMSprop", legacy_target="torch.optim.RMSprop")
register("optimizer", SGDConfig, "ganrun.optimizers:SGD", legacy_target="torch.optim.SGD")
