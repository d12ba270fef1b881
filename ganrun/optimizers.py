"""Optimizers (config group `optimizer`: one for G, one for D) and learning-rate schedules.

The optimizers are PyTorch's own; ganrun only declares their keys, ranges and defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch

from ganrun.config import bounded, register


@dataclass
class AdamConfig:
    type: str = "adam"
    lr: float = bounded(2e-4, gt=0)
    betas: Tuple[float, float] = bounded((0.5, 0.999), ge=0, lt=1)
    eps: float = bounded(1e-8, gt=0)
    weight_decay: float = bounded(0.0, ge=0)


@dataclass
class RMSpropConfig:
    type: str = "rmsprop"
    lr: float = bounded(5e-5, gt=0)
    alpha: float = bounded(0.99, ge=0, lt=1)
    momentum: float = bounded(0.0, ge=0, lt=1)
    eps: float = bounded(1e-8, gt=0)
    weight_decay: float = bounded(0.0, ge=0)


@dataclass
class SGDConfig:
    type: str = "sgd"
    lr: float = bounded(1e-3, gt=0)
    momentum: float = bounded(0.0, ge=0, lt=1)
    weight_decay: float = bounded(0.0, ge=0)


register("optimizer", AdamConfig, torch.optim.Adam, legacy_target="torch.optim.Adam")
register("optimizer", RMSpropConfig, torch.optim.RMSprop, legacy_target="torch.optim.RMSprop")
register("optimizer", SGDConfig, torch.optim.SGD, legacy_target="torch.optim.SGD")


def lr_schedule(opt: torch.optim.Optimizer, kind: str, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per G update: constant, linear decay to 0 at the last step, or (hold_linear,
    pix2pix's and CycleGAN's) constant for the first half, then linear decay to 0."""
    if kind == "linear":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / steps))
    if kind == "hold_linear":
        half = steps // 2
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, max(0.0, (steps - s) / max(1, steps - half))))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
