"""Optimizers (config group `optimizer`: one for G, one for D) and learning-rate schedules.

The optimizers are PyTorch's own; ganrun only declares their keys, ranges and defaults
(ganrun/schemas/optimizer.py, which builds them with the names below).
"""

from __future__ import annotations

import torch

# The builders of optimizer=adam, rmsprop and sgd, as ganrun/schemas/optimizer.py names them.
Adam, RMSprop, SGD = torch.optim.Adam, torch.optim.RMSprop, torch.optim.SGD


def lr_schedule(opt: torch.optim.Optimizer, kind: str, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per G update: constant, linear decay to 0 at the last step, or (hold_linear,
    pix2pix's and CycleGAN's) constant for the first half, then linear decay to 0."""
    if kind == "linear":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / steps))
    if kind == "hold_linear":
        half = steps // 2
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, max(0.0, (steps - s) / max(1, steps - half))))
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
