"""Fully connected G and D (the original GAN paper's kind, and the notes' toy MLP)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
from torch import nn

from ganrun.config import bounded, choice, register
from ganrun.errors import ConfigError
from ganrun.models import ACTIVATIONS, Conditioning, DOut, ReconstructionEnergy, activation, packed_shape


class Maxout(nn.Module):
    """The maximum over `pieces` consecutive linear units (Goodfellow et al. 2013)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.view(len(h), -1, self.pieces).amax(dim=2)


def mlp(sizes: Sequence[int], act: str, leak: float, norm: str = "none", pieces: int = 5) -> nn.Sequential:
    """Linear layers of the given sizes with `act` between them (none after the last). With
    `norm=batch`, each hidden layer is linear without bias, batch norm, then `act`; with
    act=maxout, each hidden unit is the maximum of `pieces` linear units."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        if hidden and act == "maxout":
            layers += [nn.Linear(n_in, n_out * pieces), Maxout(pieces)]
            continue
        layers.append(nn.Linear(n_in, n_out, bias=not (hidden and norm == "batch")))
        if hidden:
            if norm == "batch":
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(activation(act, leak))
    return nn.Sequential(*layers)


def init_normal(module: nn.Module, std: float) -> None:
    """Linear weights ~ N(0, std^2), biases 0 (PacGAN's initialisation)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (plus InfoGAN's codes, plus a class embedding when conditional) through the MLP. On the
    MLP, which has no batch norm, the cgan and projection forms join the class embedding to z;
    AC-GAN's (mul) multiplies z by it."""

    def __init__(self, latent_dim: int, hidden: Sequence[int], data_shape: tuple[int, ...],
                 act: str, leak: float, out_activation: str, cond: Conditioning, norm: str = "none"):
        super().__init__()
        self.latent_dim = latent_dim
        self.data_shape = tuple(data_shape)
        self.mul = cond.g == "mul"
        embed = cond.embed_dim if cond.g != "none" and not self.mul else 0
        self.net = mlp([latent_dim + cond.g_extra + embed, *hidden, math.prod(data_shape)], act, leak, norm)
        self.out = nn.Tanh() if out_activation == "tanh" else nn.Identity()
        if embed or self.mul:
            self.embed = nn.Embedding(cond.num_classes, embed or latent_dim + cond.g_extra)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if y is not None:
            z = z * self.embed(y) if self.mul else torch.cat([z, self.embed(y)], dim=1)
        return self.out(self.net(z)).view(len(z), *self.data_shape)


class Discriminator(nn.Module):
    """phi(x) = the hidden layers, then one linear score. Conditional forms: concat joins
    embed(y) to the flattened input; projection adds <embed(y), phi(x)>; AC-GAN adds class logits."""

    def __init__(self, in_shape: tuple[int, ...], hidden: Sequence[int], act: str, leak: float,
                 cond: Conditioning, pieces: int = 5):
        super().__init__()
        self.cond = cond
        extra = cond.embed_dim if cond.d == "concat" else 0
        self.net = mlp([math.prod(in_shape) + extra, *hidden, 1], act, leak, pieces=pieces)
        self.layers = list(self.net)           # body = all but the last layer (not registered twice)
        if cond.d == "concat":
            self.embed = nn.Embedding(cond.num_classes, cond.embed_dim)
        elif cond.d == "projection":
            self.embed = nn.Embedding(cond.num_classes, hidden[-1])
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        if cond.classifier:
            self.classify = nn.Linear(hidden[-1], cond.num_classes)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None):
        h = x.flatten(1)
        if self.cond.d == "concat":
            h = torch.cat([h, self.embed(y)], dim=1)
        for layer in self.layers[:-1]:
            h = layer(h)
        score = self.layers[-1](h).squeeze(1)
        if self.cond.d == "projection":
            score = score + (self.embed(y) * h).sum(1)
        if not self.cond.d_outputs:
            return score
        return DOut(score, self.classify(h) if self.cond.classifier else None,
                    h if self.cond.features else None)


class Autoencoder(nn.Module):
    """BEGAN's D for vectors: encoder through `hidden`, mirrored decoder back."""

    def __init__(self, in_shape: tuple[int, ...], hidden: Sequence[int], act: str, leak: float):
        super().__init__()
        n = math.prod(in_shape)
        self.in_shape = tuple(in_shape)
        self.net = mlp([n, *hidden, *reversed(hidden[:-1]), n], act, leak)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).view(len(x), *self.in_shape)


@dataclass
class MLPConfig:
    """Fully connected G and D; on image data they flatten the images (the original GAN paper's set-up)."""
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


def build(latent_dim: int, g_hidden: Sequence[int], d_hidden: Sequence[int], g_activation: str,
          d_activation: str, leak: float, out_activation: str, g_norm: str, pieces: int, init_std: float, *,
          data_shape: tuple[int, ...], pack: int = 1, autoencoder: bool = False, preferred_d_norm: str = "none",
          cond: Conditioning = Conditioning()) -> tuple[nn.Module, nn.Module]:
    """G and D for samples of `data_shape`. D has no normalisation layers, so the loss's
    preferred D normalisation (`preferred_d_norm`) does not apply to it."""
    if g_activation == "maxout":
        raise ConfigError("model.g_activation=maxout: maxout is for D (model.d_activation=maxout)")
    G = Generator(latent_dim, g_hidden, data_shape, g_activation, leak, out_activation, cond, g_norm)
    d_shape = packed_shape(data_shape, pack)
    if autoencoder:
        if d_activation == "maxout":
            raise ConfigError("model.d_activation=maxout with loss=began: BEGAN's autoencoder D takes another activation")
        D: nn.Module = ReconstructionEnergy(Autoencoder(d_shape, d_hidden, d_activation, leak))
    else:
        D = Discriminator(d_shape, d_hidden, d_activation, leak, cond, pieces)
    if init_std > 0:
        init_normal(G, init_std)
        init_normal(D, init_std)
    return G, D


register("model", MLPConfig, build)
