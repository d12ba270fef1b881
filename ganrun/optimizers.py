"""Optimizers (config group `optimizer`: one for G, one for D) and learning-rate schedules.

The optimizers are PyTorch's own; ganrun declares their keys, ranges and defaults here, and
builds each with PyTorch's for-each implementation (a few ops over all parameters at once)
wherever it is not fused: PyTorch's default on a CPU is a Python loop over the parameters, with
the same numbers (tools/same_numbers.py), and slower (about 70 us per step of a small MLP's Adam).
Checkpoints of ganrun 0.1 stored torch's names for them (`legacy_target`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from ganrun.config import bounded, register


def Adam(params, fused: Optional[bool] = None, **keys) -> torch.optim.Adam:
    """torch.optim.Adam, fused (one kernel updates every parameter) by default when the
    parameters are on a GPU; elsewhere the for-each implementation."""
    params = list(params)
    if fused is None:
        fused = bool(params) and all(p.is_cuda for p in params)
    return torch.optim.Adam(params, fused=fused or None, foreach=None if fused else True, **keys)


@dataclass
class AdamConfig:
    type: str = "adam"
    lr: float = bounded(2e-4, gt=0)                 # learning rate
    betas: Tuple[float, float] = bounded((0.5, 0.999), ge=0, lt=1)  # decay of the first and second moment estimates
    eps: float = bounded(1e-8, gt=0)                # added to the denominator
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty
    fused: Optional[bool] = None    # one kernel for all parameters; null: on when they are on a GPU


register("optimizer", AdamConfig, Adam, legacy_target="torch.optim.Adam")


def RMSprop(params, **keys) -> torch.optim.RMSprop:
    return torch.optim.RMSprop(params, foreach=True, **keys)


@dataclass
class RMSpropConfig:
    type: str = "rmsprop"
    lr: float = bounded(5e-5, gt=0)                 # learning rate
    alpha: float = bounded(0.99, ge=0, lt=1)        # decay of the squared-gradient average
    momentum: float = bounded(0.0, ge=0, lt=1)      # momentum factor
    eps: float = bounded(1e-8, gt=0)                # added to the denominator
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty


register("optimizer", RMSpropConfig, RMSprop, legacy_target="torch.optim.RMSprop")


def SGD(params, **keys) -> torch.optim.SGD:
    return torch.optim.SGD(params, foreach=True, **keys)


@dataclass
class SGDConfig:
    type: str = "sgd"
    lr: float = bounded(1e-3, gt=0)                 # learning rate
    momentum: float = bounded(0.0, ge=0, lt=1)      # momentum factor
    weight_decay: float = bounded(0.0, ge=0)        # L2 penalty


register("optimizer", SGDConfig, SGD, legacy_target="torch.optim.SGD")


def lr_schedule(opt: torch.optim.Optimizer, kind: str, steps: int, hold: int = 0) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per G update: constant, linear decay to 0 at the last step, or (hold_linear,
    pix2pix's and CycleGAN's) constant for `hold` updates (0: the first half), then linear decay to 0
    at the last step; a run no longer than `hold` keeps the full rate throughout."""
    if kind == "linear":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / steps))
    if kind == "hold_linear":
        start = hold or steps // 2
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, max(0.0, (steps - s) / max(1, steps - start))))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
