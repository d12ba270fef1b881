"""Toy distributions, generated as tensors on the training device (GAN_NOTES §3-4).

Sampling a batch is one or two tensor ops on the device: no DataLoader and no
per-step Python data work. Each one is a `Dataset` (ganrun/data/__init__.py) of its
kind: "points" (2-D mixtures), "density1d" (the 1-D Gaussian) or "curves" (sines).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganrun.data import Batch, BaseData


class GaussianMixture2d(BaseData):
    """Equal-weight isotropic Gaussians at `centers` (ring, grid)."""

    def __init__(self, name: str, centers: Tensor, std: float, device):
        super().__init__(name, device)
        self.centers = centers.to(self.device, torch.float32)
        self.std = float(std)

    @property
    def shape(self):
        return (2,)

    def sample(self, n, generator=None):
        mode = torch.randint(len(self.centers), (n,), device=self.device, generator=generator)
        return Batch(self.centers[mode] + self.std * torch.randn(n, 2, device=self.device, generator=generator))


class Ring(GaussianMixture2d):
    """`modes` Gaussians at angles 2*pi*i/modes (not linspace(0, 2*pi, modes), which repeats one)."""

    def __init__(self, name: str = "ring", modes: int = 8, radius: float = 1.0, std: float = 0.01,
                 device="cpu"):
        angle = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
        centers = radius * torch.stack([angle.cos(), angle.sin()], dim=1)
        super().__init__(name, centers, std, device)


class Grid(GaussianMixture2d):
    """side x side Gaussians spaced `spacing` apart, centred on 0 ({-4,-2,0,2,4}^2 by default)."""

    def __init__(self, name: str = "grid", side: int = 5, spacing: float = 2.0, std: float = 0.05,
                 device="cpu"):
        axis = spacing * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)
        centers = torch.cartesian_prod(axis, axis)
        super().__init__(name, centers, std, device)


class SineCurves(BaseData):
    """The notes' curves sin(a*t): a in linspace(a_min, a_max, curves), t in linspace(t_min, t_max, length).

    A batch draws curves with replacement, as the notes do.
    """

    kind = "curves"

    def __init__(self, name: str = "sine", curves: int = 10, a_min: float = 1.0, a_max: float = 1.2,
                 t_min: float = -2.5, t_max: float = 3.5, length: int = 32, device="cpu"):
        super().__init__(name, device)
        self.t = torch.linspace(t_min, t_max, length, device=self.device)
        self.a = torch.linspace(a_min, a_max, curves, device=self.device)
        self.curves = torch.sin(self.a[:, None] * self.t[None, :])

    @property
    def shape(self):
        return (len(self.t),)

    def sample(self, n, generator=None):
        return Batch(self.curves[torch.randint(len(self.curves), (n,), device=self.device, generator=generator)])


class Gaussian1d(BaseData):
    """N(mean, std^2). With `standardize`, models see (x - mean) / std and samples map back."""

    kind = "density1d"

    def __init__(self, name: str = "gaussian1d", mean: float = 4.0, std: float = 0.5,
                 standardize: bool = True, device="cpu"):
        super().__init__(name, device)
        self.mean, self.std = float(mean), float(std)
        self.shift, self.scale = (self.mean, self.std) if standardize else (0.0, 1.0)

    @property
    def shape(self):
        return (1,)

    def sample(self, n, generator=None):
        x = self.mean + self.std * torch.randn(n, 1, device=self.device, generator=generator)
        return Batch((x - self.shift) / self.scale)

    def to_data(self, x: Tensor) -> Tensor:
        return x * self.scale + self.shift

    def to_model(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale


# dataset=ring, grid, sine, gaussian1d (the classes above): schema (keys, ranges, defaults) and registration in ganrun/schemas/dataset.py
