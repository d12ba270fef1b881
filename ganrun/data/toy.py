"""Toy distributions, generated as tensors on the training device (GAN_NOTES §3-4).

Sampling a batch is one or two tensor ops on the device: no DataLoader and no
per-step Python data work. Each one is a `Dataset` (ganrun/data/__init__.py) of its
kind: "points" (2-D mixtures), "density1d" (the 1-D Gaussian) or "curves" (sines).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ganrun.config import bounded, name_field, register
from ganrun.data import Batch, BaseData


class StandardizedToy(BaseData):
    """Toy data that models may see in standardized units: (x - shift) / scale, mapped back by
    `to_data` (pictures, metrics and saved samples stay in the data's own units). The identity,
    shift 0 and scale 1, costs no tensor operation."""

    shift, scale = 0.0, 1.0

    def _identity(self) -> bool:
        return self.shift == 0.0 and self.scale == 1.0

    def to_data(self, x: Tensor) -> Tensor:
        return x if self._identity() else x * self.scale + self.shift

    def to_model(self, x: Tensor) -> Tensor:
        return x if self._identity() else (x - self.shift) / self.scale


class GaussianMixture2d(StandardizedToy):
    """Equal-weight isotropic Gaussians at `centers` (ring, grid). With `standardize`, models see the
    points divided by the mixture's standard deviation per coordinate."""

    def __init__(self, name: str, centers: Tensor, std: float, device, standardize: bool = False):
        super().__init__(name, device)
        self.centers = centers.to(self.device, torch.float32)
        self.std = float(std)
        # Var of one coordinate = the centres' spread + std^2 (the grid's: 8 + 0.05^2, i.e. 2.83^2)
        spread = float(centers.double().var(dim=0, unbiased=False).mean())
        self.scale = math.sqrt(spread + self.std ** 2) if standardize else 1.0

    @property
    def shape(self):
        return (2,)

    def sample(self, n, generator=None):
        mode = torch.randint(len(self.centers), (n,), device=self.device, generator=generator)
        x = self.centers[mode] + self.std * torch.randn(n, 2, device=self.device, generator=generator)
        return Batch(self.to_model(x))


class Ring(GaussianMixture2d):
    """`modes` Gaussians at angles 2*pi*i/modes (not linspace(0, 2*pi, modes), which repeats one)."""

    def __init__(self, name: str = "ring", modes: int = 8, radius: float = 1.0, std: float = 0.01,
                 standardize: bool = False, device="cpu"):
        angle = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
        centers = radius * torch.stack([angle.cos(), angle.sin()], dim=1)
        super().__init__(name, centers, std, device, standardize)


@dataclass
class RingConfig:
    """PacGAN's ring: 8 modes at angles 2*pi*i/8 on a circle (GAN_NOTES §4)."""
    kind: ClassVar[str] = "points"      # what a sample is (ganrun/kinds.py)
    type: str = "ring"
    name: str = name_field("ring")                  # the data's name in cache files and metric keys
    modes: int = bounded(8, ge=1, le=100_000)       # Gaussians on the circle
    radius: float = bounded(1.0, gt=0)              # the circle's radius
    std: float = bounded(0.01, gt=0)                # each Gaussian's standard deviation
    # Train on the points divided by their standard deviation per coordinate (0.707 here), samples
    # mapped back; metrics and pictures in the data's units (GAN_NOTES §5 trick 1, "scale the data").
    standardize: bool = False


register("dataset", RingConfig, Ring)


class Grid(GaussianMixture2d):
    """side x side Gaussians spaced `spacing` apart, centred on 0 ({-4,-2,0,2,4}^2 by default)."""

    def __init__(self, name: str = "grid", side: int = 5, spacing: float = 2.0, std: float = 0.05,
                 standardize: bool = False, device="cpu"):
        axis = spacing * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)
        centers = torch.cartesian_prod(axis, axis)
        super().__init__(name, centers, std, device, standardize)


@dataclass
class GridConfig:
    """PacGAN's grid: 25 modes at {-4,-2,0,2,4}^2 (GAN_NOTES §4)."""
    kind: ClassVar[str] = "points"      # what a sample is (ganrun/kinds.py)
    type: str = "grid"
    name: str = name_field("grid")                  # the data's name in cache files and metric keys
    side: int = bounded(5, ge=1, le=300)            # Gaussians per side of the square grid
    spacing: float = bounded(2.0, gt=0)             # distance between neighbouring modes
    std: float = bounded(0.05, gt=0)                # each Gaussian's standard deviation
    # Train on the points divided by their standard deviation per coordinate (2.83 here, as the WGAN-GP
    # authors' gan_toy.py does), samples mapped back; metrics and pictures in the data's units.
    standardize: bool = False


register("dataset", GridConfig, Grid)


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


@dataclass
class SineConfig:
    """The notes' 10 sine curves sin(a*t), a in linspace(1, 1.2, 10), 32 points (GAN_NOTES §3)."""
    kind: ClassVar[str] = "curves"      # what a sample is (ganrun/kinds.py)
    type: str = "sine"
    name: str = name_field("sine")                  # the data's name in cache files and metric keys
    curves: int = bounded(10, ge=1, le=10_000)      # curves sin(a t), a evenly spaced
    a_min: float = 1.0                              # smallest frequency a
    a_max: float = 1.2                              # largest frequency a
    t_min: float = -2.5                             # first t
    t_max: float = 3.5                              # last t
    length: int = bounded(32, ge=2, le=4096)        # points per curve


register("dataset", SineConfig, SineCurves)


class Gaussian1d(StandardizedToy):
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
        return Batch(self.to_model(x))


@dataclass
class Gaussian1dConfig:
    """A 1-D Gaussian target N(mean, std^2) (GAN_NOTES §4)."""
    kind: ClassVar[str] = "density1d"      # what a sample is (ganrun/kinds.py)
    type: str = "gaussian1d"
    name: str = name_field("gaussian1d")            # the data's name in cache files and metric keys
    mean: float = 4.0                               # the target's mean
    std: float = bounded(0.5, gt=0)                 # the target's standard deviation
    # Train on (x - mean) / std and map samples back: G's output layer then works
    # at unit scale for any target (see GAN_NOTES §5 trick 1, "scale the data").
    standardize: bool = True


register("dataset", Gaussian1dConfig, Gaussian1d)

