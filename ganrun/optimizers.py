"""Optimizers (config group `optimizer`: one for G, one for D) and learning-rate schedules.

The optimizers are PyTorch's own; ganrun only declares their keys, ranges and defaults
(ganrun/schemas/optimizer.py, which builds them with the names below).
"""

from __future__ import annotations

from typing import Optional

import torch

# The builders of optimizer=adam, rmsprop and sgd, as ganrun/schemas/optimizer.py names them.
# Each takes PyTorch's for-each implementation (a few ops over all parameters at once) wherever it
# is not fused: PyTorch's default on a CPU is a Python loop over the parameters, with the same
# numbers (tools/same_numbers.py), and slower (about 70 us per step of a small MLP's Adam).


def Adam(params, fused: Optional[bool] = None, **keys) -> torch.optim.Adam:
    """torch.optim.Adam, fused (one kernel updates every parameter) by default when the
    parameters are on a GPU; elsewhere the for-each implementation."""
    params = list(params)
    if fused is None:
        fused = bool(params) and all(p.is_cuda for p in params)
    return torch.optim.Adam(params, fused=fused or None, foreach=None if fused else True, **keys)


def RMSprop(params, **keys) -> torch.optim.RMSprop:
    return torch.optim.RMSprop(params, foreach=True, **keys)


def SGD(params, **keys) -> torch.optim.SGD:
    return torch.optim.SGD(params, foreach=True, **keys)


def lr_schedule(opt: torch.optim.Optimizer, kind: str, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per G update: constant, linear decay to 0 at the last step, or (hold_linear,
    pix2pix's and CycleGAN's) constant for the first half, then linear decay to 0."""
    if kind == "linear":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / steps))
    if kind == "hold_linear":
        half = steps // 2
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, max(0.0, (steps - s) / max(1, steps - half))))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
