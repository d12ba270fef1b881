"""SNGAN's ResNet G and D (Miyato et al. 2018; GAN_NOTES §7.4, §9.5), with SAGAN's self-attention
and BigGAN's shared class embedding and hierarchical latent as options.

G: z -> linear to 4x4 x g_width -> up-blocks (BN, ReLU, nearest x2, 3x3 conv, BN, ReLU, 3x3
conv; a 1x1 conv shortcut on the up-sampled input), one per doubling (3 at 32 px, 4 at 64, 5 at
128) -> BN, ReLU, 3x3 conv to the image, tanh.
D: an optimised first block (conv, ReLU, conv, 2x2 average pool; shortcut: pool, 1x1 conv), then
down-blocks (ReLU, conv, ReLU, conv, pool; shortcut: 1x1 conv, pool) down to 8x8, then two blocks
at 8x8, ReLU, global sum pooling, one linear unit; spectral norm on every layer by default.

Conditional: G's batch norms become class-conditional (cbn) or the class embedding joins z
(concat); D adds the projection <embed(y), phi(x)>, takes the embedding as extra input planes
(concat), or also classifies (AC-GAN). BigGAN (`model.hierarchical`): z is split into one chunk
per block plus one for the input; each block's batch norms take their gain and bias from a
linear map of [its chunk, a shared class embedding of `model.shared_dim`].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganrun.config import bounded, register, unsupported_resolution
from ganrun.errors import ConfigError
from ganrun.models import ConditionalBatchNorm, Conditioning, DOut, add_spectral_norm, packed_shape
from ganrun.models.attention import SelfAttention


class VectorBatchNorm(nn.Module):
    """Batch norm whose gain and bias are linear maps of a vector (BigGAN's conditional BN from
    [z chunk, shared class embedding]); gain = 1 + W_g v so it starts near 1."""

    def __init__(self, channels: int, vector: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(vector, channels, bias=False)
        self.bias = nn.Linear(vector, channels, bias=False)

    def forward(self, x: Tensor, v: Tensor) -> Tensor:
        return self.bn(x) * (1 + self.gain(v))[:, :, None, None] + self.bias(v)[:, :, None, None]


def norm(channels: int, cond: Conditioning, vector: int) -> nn.Module:
    if vector:
        return VectorBatchNorm(channels, vector)
    if cond.g == "cbn":
        return ConditionalBatchNorm(channels, cond.num_classes)
    return nn.BatchNorm2d(channels)


def apply_norm(layer: nn.Module, x: Tensor, y: Optional[Tensor], v: Optional[Tensor]) -> Tensor:
    if isinstance(layer, VectorBatchNorm):
        return layer(x, v)
    if isinstance(layer, ConditionalBatchNorm):
        return layer(x, y)
    return layer(x)


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond: Conditioning, vector: int):
        super().__init__()
        self.bn1, self.bn2 = norm(cin, cond, vector), norm(cout, cond, vector)
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, y: Optional[Tensor] = None, v: Optional[Tensor] = None) -> Tensor:
        h = F.interpolate(F.relu(apply_norm(self.bn1, x, y, v)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(apply_norm(self.bn2, self.conv1(h), y, v)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1) if (cin != cout or down) else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:                        # the optimised block: pool, then the 1x1 conv
            s = self.shortcut(F.avg_pool2d(s, 2))
        else:
            s = self.shortcut(s) if self.shortcut is not None else s
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


def blocks_for(resolution: int) -> int:
    why = unsupported_resolution("resnet", ResNetConfig.resolutions, resolution)
    if why:
        raise ConfigError(why)
    return int(math.log2(resolution)) - 2


class Generator(nn.Module):
    def __init__(self, latent_dim: int, data_shape: tuple[int, int, int], width: int, attention: int,
                 hierarchical: bool, shared_dim: int, cond: Conditioning):
        super().__init__()
        self.latent_dim, self.cond, self.hierarchical = latent_dim, cond, hierarchical
        n = self.n_blocks = blocks_for(data_shape[1])
        z_in = latent_dim + cond.g_extra
        if hierarchical:
            self.chunk = z_in // (n + 1)
            if self.chunk < 1:
                raise ConfigError(f"model.hierarchical splits z into {n + 1} chunks: model.latent_dim="
                                  f"{latent_dim} is too small")
            shared = shared_dim if cond.num_classes else 0
            if shared:
                self.shared = nn.Embedding(cond.num_classes, shared)
            vector, first = self.chunk + shared, z_in - n * self.chunk
        else:
            vector, first = 0, z_in + (cond.embed_dim if cond.g == "concat" else 0)
            if cond.g in ("concat", "mul"):
                self.embed = nn.Embedding(cond.num_classes, cond.embed_dim if cond.g == "concat" else z_in)
        self.linear = nn.Linear(first, 4 * 4 * width)
        self.width = width
        self.blocks = nn.ModuleList()
        resolution = 4
        for _ in range(n):
            self.blocks.append(UpBlock(width, width, cond, vector))
            resolution *= 2
            if attention == resolution:
                self.blocks.append(SelfAttention(width))
        self.out_bn = nn.BatchNorm2d(width)
        self.out = nn.Conv2d(width, data_shape[0], 3, 1, 1)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        chunks: list[Optional[Tensor]] = []
        if self.hierarchical:
            n = self.n_blocks
            first, rest = z[:, :z.shape[1] - n * self.chunk], z[:, z.shape[1] - n * self.chunk:]
            shared = self.shared(y) if y is not None else None
            for c in rest.split(self.chunk, dim=1):
                chunks.append(c if shared is None else torch.cat([c, shared], dim=1))
            z = first
        elif self.cond.g == "concat":
            z = torch.cat([z, self.embed(y)], dim=1)
        elif self.cond.g == "mul":
            z = z * self.embed(y)
        h = self.linear(z).view(len(z), self.width, 4, 4)
        k = 0
        for block in self.blocks:
            if isinstance(block, UpBlock):
                h = block(h, y, chunks[k] if chunks else None)
                k += 1
            else:
                h = block(h)
        return torch.tanh(self.out(F.relu(self.out_bn(h))))


class Discriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, int, int], width: int, attention: int, cond: Conditioning):
        super().__init__()
        self.cond = cond
        extra = cond.embed_dim if cond.d == "concat" else 0
        n_down = blocks_for(in_shape[1]) - 1          # down to 8x8
        self.blocks = nn.ModuleList([DownBlock(in_shape[0] + extra, width, down=True, first=True)])
        resolution = in_shape[1] // 2
        if attention == resolution:
            self.blocks.append(SelfAttention(width))
        for _ in range(n_down - 1):
            self.blocks.append(DownBlock(width, width, down=True))
            resolution //= 2
            if attention == resolution:
                self.blocks.append(SelfAttention(width))
        self.blocks.extend([DownBlock(width, width, down=False), DownBlock(width, width, down=False)])
        self.linear = nn.Linear(width, 1)
        if cond.d == "concat":
            self.embed = nn.Embedding(cond.num_classes, cond.embed_dim)
        elif cond.d == "projection":
            self.embed = nn.Embedding(cond.num_classes, width)
        if cond.classifier:
            self.classify = nn.Linear(width, cond.num_classes)

    def forward(self, x: Tensor, y: Optional[Tensor] = None):
        if self.cond.d == "concat":
            x = torch.cat([x, self.embed(y)[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        h = x
        for block in self.blocks:
            h = block(h)
        phi = F.relu(h).sum(dim=(2, 3))               # global sum pooling
        score = self.linear(phi).squeeze(1)
        if self.cond.d == "projection":
            score = score + (self.embed(y) * phi).sum(1)
        if not self.cond.d_outputs:
            return score
        return DOut(score, self.classify(phi) if self.cond.classifier else None,
                    phi if self.cond.features else None)


@dataclass
class ResNetConfig:
    """SNGAN's ResNet G and D (Miyato et al. 2018, GAN_NOTES §7.4, §9.5) for 32, 64 and 128 px:
    up-sampling residual blocks with batch norm in G, down-sampling residual blocks with spectral
    norm on every layer of D, global sum pooling. Options: SAGAN's self-attention
    (model.attention=RES), spectral norm in G (model.g_spectral), BigGAN's hierarchical latent with
    a shared class embedding (model.hierarchical)."""
    resolutions: ClassVar[tuple[int, ...]] = (32, 64, 128)      # one up-sampling block per doubling from 4x4
    type: str = "resnet"
    latent_dim: int = bounded(128, ge=1, le=8192)   # size of z
    g_width: int = bounded(256, ge=8, le=2048)        # G's channels in every block (SNGAN CIFAR: 256)
    d_width: int = bounded(128, ge=8, le=2048)        # D's channels in every block (SNGAN CIFAR: 128)
    g_spectral: bool = False                 # spectral norm in G too (SAGAN, BigGAN)
    d_spectral: bool = True                  # spectral norm on every D layer (SNGAN)
    attention: int = bounded(0, ge=0, le=256)   # SAGAN's self-attention at this feature resolution (0: none)
    hierarchical: bool = False               # BigGAN: z split per block, joined to a shared class embedding
    shared_dim: int = bounded(128, ge=1, le=4096)     # BigGAN's shared class embedding size


def build(latent_dim: int, g_width: int, d_width: int, g_spectral: bool, d_spectral: bool, attention: int,
          hierarchical: bool, shared_dim: int, *, data_shape: tuple[int, ...], pack: int = 1,
          autoencoder: bool = False, preferred_d_norm: str = "none",
          cond: Conditioning = Conditioning()) -> tuple[nn.Module, nn.Module]:
    """G and D for images of `data_shape` = (C, R, R), R 32, 64 or 128. D has no batch norm (it is
    spectrally normalised), so the loss's preferred D normalisation does not apply."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ConfigError(f"model=resnet needs square images, but the dataset gives samples of shape "
                          f"{tuple(data_shape)}: use model=mlp for toy data")
    if autoencoder:
        raise ConfigError("model=resnet has no autoencoder form for loss=began: use model=dcgan")
    if attention and attention not in [2 ** k for k in range(3, int(math.log2(data_shape[1])))]:
        raise ConfigError(f"model.attention={attention}: choose a feature resolution of this model "
                          f"(8 to {data_shape[1] // 2}, a power of two) or 0")
    G = Generator(latent_dim, tuple(data_shape), g_width, attention, hierarchical, shared_dim, cond)
    D = Discriminator(packed_shape(tuple(data_shape), pack), d_width, attention, cond)
    for net in (G, D):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):       # SNGAN's: Xavier, gain sqrt(2) for 3x3 convs
                three = isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
                nn.init.xavier_uniform_(m.weight, math.sqrt(2) if three else 1.0)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    if d_spectral:
        add_spectral_norm(D)
        for m in D.modules():                          # the projection embedding is spectrally normed too
            if isinstance(m, nn.Embedding):
                torch.nn.utils.parametrizations.spectral_norm(m)
    if g_spectral:
        add_spectral_norm(G)
    return G, D


register("model", ResNetConfig, build)
