"""A dataset as a ganrun plugin, in one file: `dataset=spiral`, Gaussians along an Archimedean spiral.

Its samples are 2-D points of the "points" kind, so ganrun draws and measures them as it does the
ring and the grid (modes, hq, rkl: the PacGAN protocol).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ganrun.config import bounded, name_field, register


@dataclass
class SpiralConfig:
    kind = "points"                      # what a sample is (ganrun/kinds.py): checked against checkpoints
    type: str = "spiral"
    name: str = name_field("spiral")
    modes: int = bounded(12, ge=2, le=1000)
    turns: float = bounded(1.5, gt=0, le=20)
    std: float = bounded(0.02, gt=0)


register("dataset", SpiralConfig, "ganrun_spiral:spiral")


def spiral(name, modes, turns, std, *, device):
    import torch

    from ganrun.data.toy import GaussianMixture2d

    t = torch.linspace(0.2, 1.0, modes, dtype=torch.float64)
    angle = 2 * math.pi * turns * t
    return GaussianMixture2d(name, torch.stack([t * angle.cos(), t * angle.sin()], dim=1), std, device)
