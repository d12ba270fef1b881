"""DCGAN generators and discriminators (Radford et al. 2015; GAN_NOTES §3).

`model=dcgan` builds a pair for any power-of-two resolution from 8 to 256 and any
channel count, following the guidelines: strided convolutions in D and
transposed ones in G (no pooling), no fully connected hidden layers, ReLU in G
with a tanh output, LeakyReLU(0.2) in D, weights drawn from N(0, 0.02), and
normalisation everywhere except G's output and D's input.

`model=dcgan_notes` is the notes' exact 64x64 anime-face pair.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import nn

from ganrun.config import bounded, choice, register, unsupported_resolution
from ganrun.errors import ConfigError
from ganrun.models.attention import SelfAttention
from ganrun.models import (ConditionalBatchNorm, Conditioning, DOut, ReconstructionEnergy, add_spectral_norm,
                           packed_shape)

log = logging.getLogger(__name__)
# G's and D's normalisation (model.g_norm, model.d_norm; `norm_layer`). auto: batch norm in G; in D,
# what the loss prefers (layer norm for gradient penalties)
NORMS = ("batch", "layer", "instance", "spectral", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """The feature-map normalisation after a conv (identity for spectral / none)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)              # LayerNorm over (C, H, W), per sample
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def conv(kind: str, *args, transpose: bool = False, **kwargs) -> nn.Module:
    """A conv layer; biased only where no normalisation follows (a bias before a norm is wasted)."""
    return (nn.ConvTranspose2d if transpose else nn.Conv2d)(*args, bias=kind in ("none", "spectral"), **kwargs)


def stages(resolution: int) -> int:
    """Number of 2x up/down-sampling steps between 4x4 and `resolution`."""
    why = unsupported_resolution("dcgan", DCGANConfig.resolutions, resolution)
    if why:
        raise ConfigError(why)
    return int(math.log2(resolution)) - 2


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights ~ N(0, 0.02); norm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def upsampling_body(in_channels: int, out_channels: int, width: int, n: int, norm: str,
                    num_classes: int = 0, attention: int = 0) -> list[nn.Module]:
    """z-like (in_channels x 1 x 1) -> 4x4 -> ... -> (out_channels x 2^(n+2) x 2^(n+2)), no output
    activation. With `num_classes`, batch norm is class-conditional."""
    def normed(c: int) -> nn.Module:
        return ConditionalBatchNorm(c, num_classes) if num_classes else norm_layer(norm, c)

    c = width * 2 ** (n - 1)
    layers: list[nn.Module] = [conv(norm, in_channels, c, 4, 1, 0, transpose=True), normed(c),
                               nn.ReLU(inplace=True)]
    resolution = 4
    for _ in range(n - 1):
        if attention == resolution:
            layers.append(SelfAttention(c))
        layers += [conv(norm, c, c // 2, 4, 2, 1, transpose=True), normed(c // 2), nn.ReLU(inplace=True)]
        c //= 2
        resolution *= 2
    if attention == resolution:
        layers.append(SelfAttention(c))
    layers.append(nn.ConvTranspose2d(c, out_channels, 4, 2, 1, bias=False))
    return layers


def downsampling_body(in_channels: int, width: int, n: int, norm: str, leak: float,
                      attention: int = 0) -> list[nn.Module]:
    """(in_channels x R x R) -> (width * 2^(n-1) x 4 x 4); no normalisation on the input layer."""
    c = width
    layers: list[nn.Module] = [conv("none", in_channels, c, 4, 2, 1), nn.LeakyReLU(leak, inplace=True)]
    resolution = 2 ** (n + 1)
    for _ in range(n - 1):
        if attention == resolution:
            layers.append(SelfAttention(c))
        layers += [conv(norm, c, c * 2, 4, 2, 1), norm_layer(norm, c * 2), nn.LeakyReLU(leak, inplace=True)]
        c *= 2
        resolution //= 2
    if attention == resolution:
        layers.append(SelfAttention(c))
    return layers


class Generator(nn.Module):
    """z (plus InfoGAN's codes) as a 1x1 map, up to the image. Conditional: concat joins a class
    embedding to z; cbn makes every batch norm class-conditional (the projection form's G)."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, int, int], width: int, norm: str,
                 cond: Conditioning = Conditioning(), attention: int = 0):
        super().__init__()
        self.latent_dim = latent_dim
        channels, resolution = data_shape[0], data_shape[1]
        embed = cond.embed_dim if cond.g == "concat" else 0
        self.net = nn.Sequential(*upsampling_body(latent_dim + cond.g_extra + embed, channels, width,
                                                  stages(resolution), norm,
                                                  cond.num_classes if cond.g == "cbn" else 0, attention),
                                 nn.Tanh())
        self.cond = cond
        if embed:
            self.embed = nn.Embedding(cond.num_classes, embed)
        elif cond.g == "mul":
            self.embed = nn.Embedding(cond.num_classes, latent_dim + cond.g_extra)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.cond.g == "none":
            return self.net(z.view(len(z), -1, 1, 1))
        if self.cond.g == "concat":
            return self.net(torch.cat([z, self.embed(y)], dim=1).view(len(z), -1, 1, 1))
        if self.cond.g == "mul":
            return self.net((z * self.embed(y)).view(len(z), -1, 1, 1))
        h = z.view(len(z), -1, 1, 1)
        for layer in self.net:
            h = layer(h, y) if isinstance(layer, ConditionalBatchNorm) else layer(h)
        return h


class Discriminator(nn.Module):
    """Strided convs down to 4x4 (phi(x)), then a 4x4 conv to one score. Conditional forms: concat
    joins embed(y) as extra input planes; projection adds <embed(y), sum-pooled phi(x)>; AC-GAN
    adds class logits from phi(x)."""

    def __init__(self, in_shape: tuple[int, int, int], width: int, norm: str, leak: float,
                 cond: Conditioning = Conditioning(), attention: int = 0):
        super().__init__()
        n = stages(in_shape[1])
        c = width * 2 ** (n - 1)
        extra = cond.embed_dim if cond.d == "concat" else 0
        self.net = nn.Sequential(*downsampling_body(in_shape[0] + extra, width, n, norm, leak, attention),
                                 nn.Conv2d(c, 1, 4, 1, 0, bias=True))
        self.cond = cond
        if cond.d == "concat":
            self.embed = nn.Embedding(cond.num_classes, cond.embed_dim)
        elif cond.d == "projection":
            self.embed = nn.Embedding(cond.num_classes, c)
        if cond.classifier:
            self.classify = nn.Linear(c * 16, cond.num_classes)

    def input_layer_with_planes(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """D's input conv on [x, e(y) as constant planes], computed as conv(x) plus the planes' part.
        A constant plane's convolution is one fixed map per embedding channel (zero padding shapes
        its border), so that part is e(y) times those maps, instead of a convolution over the batch
        of (channels + embed_dim) planes, which cost as much as the rest of D (GAN_NOTES §7.1: the
        same function; summed in another order, so equal to rounding)."""
        conv = self.net[0]
        w = conv.weight                   # read once: spectral norm's power iteration runs on each read
        k, j = x.shape[1], e.shape[1]
        out = nn.functional.conv2d(x, w[:, :k], conv.bias, conv.stride, conv.padding)
        # channel j of the embedding alone, through its slice of every filter: (1, j*out + o, H', W')
        maps = nn.functional.conv2d(x.new_ones(1, j, *x.shape[2:]), w[:, k:].transpose(0, 1).reshape(-1, 1, *w.shape[2:]),
                                    None, conv.stride, conv.padding, groups=j)
        return out + torch.einsum("bj,johw->bohw", e, maps.view(j, w.shape[0], *out.shape[2:]))

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None):
        if self.cond.d == "none" and not self.cond.d_outputs:
            return self.net(x).view(len(x))
        h, first = x, 0
        if self.cond.d == "concat":
            h, first = self.input_layer_with_planes(x, self.embed(y)), 1
        for layer in itertools.islice(self.net, first, len(self.net) - 1):
            h = layer(h)
        score = self.net[-1](h).view(len(x))
        if self.cond.d == "projection":
            score = score + (self.embed(y) * h.sum(dim=(2, 3))).sum(1)
        if not self.cond.d_outputs:
            return score
        flat = h.flatten(1)
        return DOut(score, self.classify(flat) if self.cond.classifier else None,
                    flat if self.cond.features else None)


class ConvAutoencoder(nn.Module):
    """BEGAN's D for images: the DCGAN D body down to 4x4, a `code_dim` bottleneck, a G-like decoder."""

    def __init__(self, in_shape: tuple[int, int, int], width: int, norm: str, leak: float, code_dim: int):
        super().__init__()
        n = stages(in_shape[1])
        c = width * 2 ** (n - 1)
        self.encode = nn.Sequential(*downsampling_body(in_shape[0], width, n, norm, leak),
                                    nn.Conv2d(c, code_dim, 4, 1, 0))
        self.decode = nn.Sequential(*upsampling_body(code_dim, in_shape[0], width, n, norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def resolve_norm(requested: str, preferred: str, player: str) -> str:
    if requested == "auto":
        return preferred
    if player == "D" and requested == "batch" and preferred == "layer":
        log.warning("model.d_norm=batch with a gradient penalty (a penalty loss or tricks.r1): batch norm mixes "
                    "the samples whose gradients are penalised; the recipe is layer norm (GAN_NOTES §2)")
    return requested


def _finish(G: nn.Module, D: nn.Module, g_norm: str, d_norm: str) -> tuple[nn.Module, nn.Module]:
    init_dcgan_weights(G)
    init_dcgan_weights(D)
    if g_norm == "spectral":
        add_spectral_norm(G)
    if d_norm == "spectral":
        add_spectral_norm(D)
    return G, D


@dataclass
class DCGANConfig:
    """DCGAN (Radford et al. 2015, GAN_NOTES §3), generated for the dataset's resolution
    (8-256, powers of two) and channels: transposed convs in G, strided convs in D,
    ReLU/tanh in G, LeakyReLU in D, weights ~ N(0, 0.02)."""
    resolutions: ClassVar[tuple[int, ...]] = (8, 16, 32, 64, 128, 256)
    type: str = "dcgan"
    latent_dim: int = bounded(100, ge=1, le=8192)   # size of z
    g_width: int = bounded(64, ge=1, le=1024)        # G's channels at its last hidden layer (doubling inwards)
    d_width: int = bounded(64, ge=1, le=1024)        # D's channels at its first layer (doubling inwards)
    g_norm: str = choice("auto", *NORMS)            # G's normalisation; auto: batch norm
    # D's normalisation; auto: what the loss's recipe asks (batch; layer under gradient penalties; none for BEGAN)
    d_norm: str = choice("auto", *NORMS)
    leak: float = bounded(0.2, ge=0)                # D's LeakyReLU slope
    code_dim: int = bounded(64, ge=1, le=8192)       # BEGAN's autoencoder bottleneck (loss=began only)
    attention: int = bounded(0, ge=0, le=256)   # SAGAN's self-attention at this feature resolution (0: none)


def build(latent_dim: int, g_width: int, d_width: int, g_norm: str, d_norm: str, leak: float,
          code_dim: int, attention: int, *, data_shape: tuple[int, ...], pack: int = 1, autoencoder: bool = False,
          preferred_d_norm: str = "batch", cond: Conditioning = Conditioning()) -> tuple[nn.Module, nn.Module]:
    """G and D for images of `data_shape` = (C, R, R). `preferred_d_norm` is the loss's preference
    for D's normalisation, used when model.d_norm=auto (layer norm for gradient penalties)."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise ConfigError(f"model=dcgan needs square images, but the dataset gives samples of shape "
                          f"{tuple(data_shape)}: use model=mlp for toy data")
    g_norm = resolve_norm(g_norm, "batch", "G")
    d_norm = resolve_norm(d_norm, preferred_d_norm, "D")
    if cond.g == "cbn" and g_norm != "batch":
        raise ConfigError(f"the projection form's G uses class-conditional batch norm, but model.g_norm="
                          f"{g_norm}: set model.g_norm=auto (or batch), or use game.form=cgan")
    if attention and autoencoder:
        raise ConfigError("model.attention with loss=began: BEGAN's autoencoder D has no attention block; "
                          "use another loss or model.attention=0")
    if attention and (attention < 4 or attention >= data_shape[1] or attention & (attention - 1)):
        raise ConfigError(f"model.attention={attention}: choose a feature resolution inside the model (4 to "
                          f"{data_shape[1] // 2}, a power of two) or 0")
    G = Generator(latent_dim, tuple(data_shape), g_width, g_norm, cond, attention)
    d_shape = packed_shape(tuple(data_shape), pack)
    if autoencoder:
        D: nn.Module = ReconstructionEnergy(ConvAutoencoder(d_shape, d_width, d_norm, leak, code_dim))
    else:
        D = Discriminator(d_shape, d_width, d_norm, leak, cond, attention)
    return _finish(G, D, g_norm, d_norm)


register("model", DCGANConfig, build)


# --------------------------------------------------------------------------- the notes' pair
class NotesGenerator(nn.Module):
    """GAN_NOTES §3: z (100) -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64xC, BN+ReLU, tanh, no biases."""

    def __init__(self, latent_dim: int, channels: int):
        super().__init__()
        self.latent_dim = latent_dim
        chans = [latent_dim, 512, 256, 128, 64]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):
            layers += [nn.ConvTranspose2d(a, b, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                       nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(64, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), -1, 1, 1))


class NotesDiscriminator(nn.Module):
    """GAN_NOTES §3: convs 64, 128, 256 (4x4, stride 2) then 512, 1024 (3x3, stride 1), BN + LeakyReLU
    (no BN on the input layer), global average pooling, one linear unit."""

    def __init__(self, channels: int, leak: float):
        super().__init__()
        spec = [(channels, 64, 4, 2, 1), (64, 128, 4, 2, 1), (128, 256, 4, 2, 1),
                (256, 512, 3, 1, 1), (512, 1024, 3, 1, 1)]
        layers: list[nn.Module] = []
        for i, (a, b, k, s, p) in enumerate(spec):
            layers += [nn.Conv2d(a, b, k, s, p, bias=i == 0)]
            if i > 0:
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.LeakyReLU(leak, inplace=True))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(1024, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3))).view(len(x))


@dataclass
class DCGANNotesConfig:
    """The notes' exact 64x64 anime-face pair (GAN_NOTES §3): G 512-256-128-64-C transposed
    convs from a 100-d latent; D convs 64-128-256 (4x4, stride 2) and 512-1024 (3x3,
    stride 1), global average pooling, one linear unit. Batch norm throughout."""
    type: str = "dcgan_notes"
    latent_dim: int = bounded(100, ge=1, le=8192)   # size of z
    leak: float = bounded(0.2, ge=0)                # D's LeakyReLU slope


def build_notes(latent_dim: int, leak: float, *, data_shape: tuple[int, ...], pack: int = 1,
                autoencoder: bool = False, preferred_d_norm: str = "batch",
                cond: Conditioning = Conditioning()) -> tuple[nn.Module, nn.Module]:
    """The notes' 64x64 anime-face pair. It has batch norm throughout and no autoencoder form."""
    if tuple(data_shape[1:]) != (64, 64):
        raise ConfigError(f"model=dcgan_notes is the notes' 64x64 pair, but the dataset gives "
                          f"{tuple(data_shape)} images: set dataset.resolution=64 or use model=dcgan")
    if autoencoder:
        raise ConfigError("model=dcgan_notes has no autoencoder form for loss=began: use model=dcgan")
    if cond != Conditioning():
        raise ConfigError("model=dcgan_notes is the notes' unconditional pair: use model=dcgan for "
                          "conditional games and InfoGAN")
    if preferred_d_norm != "batch":
        log.warning("model=dcgan_notes keeps batch norm in D although this loss prefers %s norm; "
                    "model=dcgan follows the loss's recipe", preferred_d_norm)
    G = NotesGenerator(latent_dim, data_shape[0])
    D = NotesDiscriminator(packed_shape(tuple(data_shape), pack)[0], leak)
    return _finish(G, D, "batch", "batch")


register("model", DCGANNotesConfig, build_notes)
