"""Options of the `model` group: G/D architectures (ganrun/models/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, List

from ganrun.config import bounded, choice, register

# auto: batch norm in G; in D, what the loss prefers (layer norm for gradient penalties)
NORMS = ("batch", "layer", "instance", "spectral", "none")
# the hidden activations of the MLPs (ganrun/models/__init__.py `activation`)
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh")


@dataclass
class DCGANConfig:
    """DCGAN for any power-of-two resolution 8-256 and any channel count (GAN_NOTES §3)."""
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


@dataclass
class DCGANNotesConfig:
    """The notes' exact 64x64 anime-face pair (GAN_NOTES §3)."""
    type: str = "dcgan_notes"
    latent_dim: int = bounded(100, ge=1, le=8192)   # size of z
    leak: float = bounded(0.2, ge=0)                # D's LeakyReLU slope


@dataclass
class MLPConfig:
    """Fully connected G and D; images are flattened (the original GAN paper's set-up)."""
    type: str = "mlp"
    latent_dim: int = bounded(8, ge=1, le=8192)     # size of z
    g_hidden: List[int] = bounded([128, 128], ge=1, le=16384, max_length=32)  # G's hidden layer widths
    d_hidden: List[int] = bounded([128, 128], ge=1, le=16384, max_length=32)  # D's hidden layer widths
    g_activation: str = choice("relu", *ACTIVATIONS)  # G's hidden activation
    # D's hidden activation (maxout: each unit the maximum of `pieces` linear units)
    d_activation: str = choice("leaky_relu", *ACTIVATIONS, "maxout")
    leak: float = bounded(0.2, ge=0)          # LeakyReLU slope
    out_activation: str = choice("none", "tanh")   # tanh for data in [-1, 1]
    g_norm: str = choice("none", "batch")     # batch: G's hidden layers are linear (no bias), BN, activation
    pieces: int = bounded(5, ge=2, le=64)     # maxout: linear pieces per unit (d_activation=maxout)
    init_std: float = bounded(0.0, ge=0)      # >0: weights ~ N(0, init_std^2), biases 0; 0: PyTorch's default


@dataclass
class ResNetConfig:
    """SNGAN's ResNet pair for 32, 64 and 128 px (GAN_NOTES §7.4)."""
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


@dataclass
class Pix2PixModelConfig:
    """pix2pix's pair: U-Net G, PatchGAN D on (input, output) pairs."""
    type: str = "pix2pix"
    g_width: int = bounded(64, ge=4, le=1024)     # ngf
    d_width: int = bounded(64, ge=4, le=1024)     # ndf
    d_layers: int = bounded(3, ge=1, le=6)   # n_layers_D: 3 gives 70x70 patches at 256 px
    norm: str = choice("batch", "instance")         # norm_layer of the official code
    dropout: bool = True                 # dropout 0.5 in G's inner decoder layers (its noise)


@dataclass
class CycleGANModelConfig:
    """CycleGAN's networks: two ResNet generators, two PatchGAN discriminators."""
    type: str = "cyclegan"
    g_width: int = bounded(64, ge=4, le=1024)       # ngf
    d_width: int = bounded(64, ge=4, le=1024)       # ndf
    d_layers: int = bounded(3, ge=1, le=6)          # n_layers_D: 3 gives 70x70 patches at 256 px
    generator: str = choice("resnet", "unet")   # the official code's netG: resnet_Nblocks, or unet_R
    blocks: int = bounded(0, ge=0, le=32)   # residual blocks; 0: 6 up to 128 px, 9 above (the paper)
    norm: str = choice("instance", "batch")         # norm_layer of the official code (instance, not affine)


register("model", DCGANConfig, "ganrun.models.dcgan:build")
register("model", DCGANNotesConfig, "ganrun.models.dcgan:build_notes")
register("model", MLPConfig, "ganrun.models.mlp:build")
register("model", ResNetConfig, "ganrun.models.resnet:build")
register("model", Pix2PixModelConfig, "ganrun.models.translation:pix2pix_networks")
register("model", CycleGANModelConfig, "ganrun.models.translation:cyclegan_networks")
