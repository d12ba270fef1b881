"""Image-to-image networks (GAN_NOTES §7.3, §9.4; read from junyanz/pytorch-CycleGAN-and-pix2pix,
models/networks.py):

- UNetGenerator (pix2pix): an encoder of 4x4 stride-2 convs (LeakyReLU 0.2; no norm on the first)
  down to 1x1, a decoder of 4x4 stride-2 transposed convs (ReLU) whose every layer also takes the
  encoder's layer of the same size (skip connections), dropout 0.5 in the decoder layers next to
  the innermost (3 at 256 px, 2 at 128, at least 1: G's only noise source), tanh. Depth follows the resolution: log2(R) downsamplings
  (8 at 256 px, as unet_256).
- ResNetGenerator (CycleGAN): reflection-padded 7x7 conv (64), two stride-2 convs (128, 256),
  `blocks` residual blocks (two 3x3 convs, reflection padding), two stride-2 transposed convs,
  7x7 conv, tanh. Blocks: 6 up to 128 px, 9 above (resnet_6blocks / resnet_9blocks).
- PatchDiscriminator (both): 4x4 convs 64 s2 (no norm), 128 s2, 256 s2, 512 s1, 1 s1 (LeakyReLU
  0.2): one real/fake score per overlapping patch (70x70 at 256 px). `d_layers` stride-2 convs
  (3), fewer when the image is too small for them.
Weights ~ N(0, 0.02), norm gains ~ N(1, 0.02) (the papers' init_type normal). Norm: batch (pix2pix)
or instance without affine parameters (CycleGAN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ganrun.config import bounded, choice, register
from ganrun.errors import ConfigError


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


class UNetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, resolution: int, width: int = 64, norm: str = "batch",
                 dropout: bool = True):
        super().__init__()
        depth = int(math.log2(resolution))
        if 2 ** depth != resolution or depth < 4:
            raise ConfigError(f"pix2pix's U-Net needs a power-of-two resolution of at least 16, not {resolution}")
        bias = norm == "instance"                       # batch norm has its own shift
        channels = [min(width * 2 ** i, width * 8) for i in range(depth)]   # 64, 128, 256, 512, 512, ...
        self.down = nn.ModuleList()
        c_in = in_channels
        for i, c in enumerate(channels):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=bias or i == 0))
            if 0 < i < depth - 1:                       # no norm on the outermost and the innermost
                layers.append(norm_layer(norm, c))
            self.down.append(nn.Sequential(*layers))
            c_in = c
        self.up = nn.ModuleList()
        # Dropout in the decoder layers just outside the innermost one: depth - 5 of them, as unet_256
        # has 3 and unet_128 has 2; at least one, so that small U-Nets keep their noise source.
        dropped = max(1, depth - 5) if dropout else 0
        for k, i in enumerate(reversed(range(depth))):
            c_skip_in = channels[i] if k == 0 else channels[i] * 2        # innermost: no skip yet
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(c_skip_in, out_channels, 4, 2, 1),
                                             nn.Tanh()))
                continue
            layers = [nn.ReLU(True), nn.ConvTranspose2d(c_skip_in, channels[i - 1], 4, 2, 1, bias=bias),
                      norm_layer(norm, channels[i - 1])]
            if 1 <= k <= dropped:
                layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()                                      # the innermost output is x itself
        for k, layer in enumerate(self.up):
            x = layer(x if k == 0 else torch.cat([x, skips.pop()], dim=1))
        return x


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str):
        super().__init__()
        bias = norm == "instance"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, width: int = 64, blocks: int = 9, norm: str = "instance"):
        super().__init__()
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias),
                                   norm_layer(norm, width), nn.ReLU(True)]
        c = width
        for _ in range(2):
            layers += [nn.Conv2d(c, c * 2, 3, 2, 1, bias=bias), norm_layer(norm, c * 2), nn.ReLU(True)]
            c *= 2
        layers += [ResidualBlock(c, norm) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias), norm_layer(norm, c // 2),
                       nn.ReLU(True)]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels: int, resolution: int, width: int = 64, layers: int = 3, norm: str = "batch"):
        super().__init__()
        # each stride-2 conv halves the size, then two 4x4 stride-1 convs take 3 pixels each
        layers = max(1, min(layers, int(math.log2(resolution)) - 3))
        bias = norm == "instance"
        seq: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for n in range(1, layers):
            c_out = width * min(2 ** n, 8)
            seq += [nn.Conv2d(c, c_out, 4, 2, 1, bias=bias), norm_layer(norm, c_out), nn.LeakyReLU(0.2, True)]
            c = c_out
        c_out = width * min(2 ** layers, 8)
        seq += [nn.Conv2d(c, c_out, 4, 1, 1, bias=bias), norm_layer(norm, c_out), nn.LeakyReLU(0.2, True),
                nn.Conv2d(c_out, 1, 4, 1, 1)]
        self.net = nn.Sequential(*seq)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)          # (N, 1, patches, patches): one logit per patch


def init_normal(net: nn.Module) -> nn.Module:
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net


def _square(shape: tuple[int, ...], what: str) -> int:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(f"{what} needs square images, not samples of shape {tuple(shape)}")
    return shape[1]


@dataclass
class Pix2PixModelConfig:
    """pix2pix's pair (GAN_NOTES §7.3, §9.4): a U-Net G with skip connections and dropout, whose depth
    follows the resolution, and a PatchGAN D on (input, output) pairs."""
    trained_by: ClassVar[str] = "pix2pix"   # image-to-image: only this game uses it
    type: str = "pix2pix"
    g_width: int = bounded(64, ge=4, le=1024)     # ngf
    d_width: int = bounded(64, ge=4, le=1024)     # ndf
    d_layers: int = bounded(3, ge=1, le=6)   # n_layers_D: 3 gives 70x70 patches at 256 px
    norm: str = choice("batch", "instance")         # norm_layer of the official code
    dropout: bool = True                 # dropout 0.5 in G's inner decoder layers (its noise)


def pix2pix_networks(g_width: int, d_width: int, d_layers: int, norm: str, dropout: bool, *,
                     source_shape: tuple[int, ...], data_shape: tuple[int, ...], **_) -> dict[str, nn.Module]:
    r = _square(data_shape, "model=pix2pix")
    G = UNetGenerator(source_shape[0], data_shape[0], r, g_width, norm, dropout)
    D = PatchDiscriminator(source_shape[0] + data_shape[0], r, d_width, d_layers, norm)
    return {"G": init_normal(G), "D": init_normal(D)}


register("model", Pix2PixModelConfig, pix2pix_networks)


@dataclass
class CycleGANModelConfig:
    """CycleGAN's networks (GAN_NOTES §7.3, §9.4): two ResNet generators (6 blocks up to 128 px, 9
    above), two PatchGAN discriminators, instance norm."""
    trained_by: ClassVar[str] = "cyclegan"  # image-to-image: only this game uses it
    type: str = "cyclegan"
    g_width: int = bounded(64, ge=4, le=1024)       # ngf
    d_width: int = bounded(64, ge=4, le=1024)       # ndf
    d_layers: int = bounded(3, ge=1, le=6)          # n_layers_D: 3 gives 70x70 patches at 256 px
    generator: str = choice("resnet", "unet")   # the official code's netG: resnet_Nblocks, or unet_R
    blocks: int = bounded(0, ge=0, le=32)   # residual blocks; 0: 6 up to 128 px, 9 above (the paper)
    norm: str = choice("instance", "batch")         # norm_layer of the official code (instance, not affine)


def cyclegan_networks(g_width: int, d_width: int, d_layers: int, generator: str, blocks: int, norm: str, *,
                      source_shape: tuple[int, ...], data_shape: tuple[int, ...], **_) -> dict[str, nn.Module]:
    r = _square(data_shape, "model=cyclegan")
    if r % 4:
        raise ConfigError(f"model=cyclegan down-samples twice: dataset.resolution={r} must be a multiple of 4")
    n = blocks or (6 if r <= 128 else 9)
    a, b = source_shape[0], data_shape[0]

    def G(cin: int, cout: int) -> nn.Module:
        if generator == "unet":           # the official netG=unet_*: skips carry the input's layout through
            return UNetGenerator(cin, cout, r, g_width, norm, dropout=False)
        return ResNetGenerator(cin, cout, g_width, n, norm)

    return {"G_AB": init_normal(G(a, b)), "G_BA": init_normal(G(b, a)),
            "D_A": init_normal(PatchDiscriminator(a, r, d_width, d_layers, norm)),
            "D_B": init_normal(PatchDiscriminator(b, r, d_width, d_layers, norm))}


register("model", CycleGANModelConfig, cyclegan_networks)
