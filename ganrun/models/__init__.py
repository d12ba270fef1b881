"""Generator / discriminator pairs. Each model module exposes `build(...) -> (G, D)`.

Conventions shared by every model:
- G has an attribute `latent_dim` and maps z of shape (B, latent_dim) to samples
  of the dataset's shape.
- D returns one raw score per input row, shape (B,): no sigmoid, since the loss
  owns the link function (GAN_NOTES §2). With `autoencoder=True` (BEGAN) D is an
  autoencoder and its score is the per-sample L1 reconstruction error.
- D is built for `packed_shape(data_shape, pack)`: PacGAN concatenates `pack`
  samples along the first (feature / channel) dimension.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


def packed_shape(data_shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """The shape of one D input when `pack` samples are concatenated (PacGAN)."""
    return (data_shape[0] * pack, *data_shape[1:])


ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh")


def activation(name: str, leak: float = 0.2) -> nn.Module:
    if name == "leaky_relu":
        return nn.LeakyReLU(leak, inplace=True)
    return {"relu": nn.ReLU(inplace=True), "elu": nn.ELU(inplace=True), "gelu": nn.GELU(),
            "silu": nn.SiLU(inplace=True), "tanh": nn.Tanh()}[name]


class ReconstructionEnergy(nn.Module):
    """BEGAN's critic: D(v) = mean |v - AE(v)| per sample (GAN_NOTES §2, `began`)."""

    def __init__(self, autoencoder: nn.Module):
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return (v - self.autoencoder(v)).abs().flatten(1).mean(1)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every conv and linear layer of `module`
    that does not have it yet."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and not parametrize.is_parametrized(m, "weight"):
            spectral_norm(m)
    return module
