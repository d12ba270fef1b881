"""Generator / discriminator pairs. Each model module exposes `build(...) -> (G, D)`.

Conventions shared by every model:
- G has an attribute `latent_dim` and maps z of shape (B, latent_dim + cond.g_extra) (and class
  labels y, when conditional) to samples of the dataset's shape: G(z, y=None).
- D returns one raw score per input row, shape (B,): no sigmoid, since the loss
  owns the link function (GAN_NOTES §2): D(x, y=None). With `autoencoder=True` (BEGAN) D is an
  autoencoder and its score is the per-sample L1 reconstruction error. When the game asks for
  class logits (AC-GAN) or features (InfoGAN's Q), D returns a `DOut` instead of the score.
- D is built for `packed_shape(data_shape, pack)`: PacGAN concatenates `pack`
  samples along the first (feature / channel) dimension.
- `Conditioning` (from the game) says how G and D see the class; its default builds the
  unconditional pair, parameter for parameter the same as before conditioning existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class Conditioning:
    """How the game wants G and D conditioned (GAN_NOTES §7.1-7.2)."""
    num_classes: int = 0       # 0: unconditional
    g: str = "none"            # none; concat: embed(y) joined to z; mul: z * embed(y); cbn: class-conditional BN
    d: str = "none"            # none; concat: embed(y) joined to D's input; projection: + <embed(y), phi(x)>
    embed_dim: int = 0         # size of the class embedding for concat
    classifier: bool = False   # D also returns class logits (AC-GAN)
    features: bool = False     # D also returns its features (InfoGAN's Q head reads them)
    g_extra: int = 0           # extra G inputs beside z (InfoGAN's codes)

    @property
    def d_outputs(self) -> bool:
        return self.classifier or self.features


class DOut(NamedTuple):
    """What a D returns when the game needs more than the score."""
    score: torch.Tensor
    logits: Optional[torch.Tensor] = None     # class logits (AC-GAN)
    features: Optional[torch.Tensor] = None   # the body's features (InfoGAN)


def score_of(out) -> torch.Tensor:
    return out.score if isinstance(out, DOut) else out


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose gain and bias are class embeddings (Miyato & Koyama 2018; BigGAN): the
    normalisation is shared, each class has its own affine (gain initialised at 1, bias at 0)."""

    def __init__(self, channels: int, num_classes: int, dims: int = 2):
        super().__init__()
        self.bn = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shape = (len(x), -1) + (1,) * (x.dim() - 2)
        return self.bn(x) * self.gain(y).view(shape) + self.bias(y).view(shape)


def packed_shape(data_shape: tuple[int, ...], pack: int) -> tuple[int, ...]:
    """The shape of one D input when `pack` samples are concatenated (PacGAN)."""
    return (data_shape[0] * pack, *data_shape[1:])


# the hidden activations of the MLPs (model.g_activation, model.d_activation)
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
