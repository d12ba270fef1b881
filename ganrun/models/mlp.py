"""Fully connected G and D (the original GAN paper's kind, and the notes' toy MLP)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
from torch import nn

from ganrun.config import bounded, choice, register
from ganrun.models import ACTIVATIONS, Conditioning, DOut, ReconstructionEnergy, activation, packed_shape


@dataclass
class MLPConfig:
    """Fully connected G and D; images are flattened (the original GAN paper's set-up)."""
    type: str = "mlp"
    latent_dim: int = bounded(8, ge=1)
    g_hidden: List[int] = bounded([128, 128], ge=1)
    d_hidden: List[int] = bounded([128, 128], ge=1)
    g_activation: str = choice("relu", *ACTIVATIONS)
    d_activation: str = choice("leaky_relu", *ACTIVATIONS)
    leak: float = bounded(0.2, ge=0)          # LeakyReLU slope
    out_activation: str = choice("none", "tanh")   # tanh for data in [-1, 1]


def mlp(sizes: Sequence[int], act: str, leak: float) -> nn.Sequential:
    """Linear layers of the given sizes with `act` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation(act, leak))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """z (plus InfoGAN's codes, plus a class embedding when conditional) through the MLP. On the
    MLP, which has no batch norm, both conditional forms join the class embedding to z."""

    def __init__(self, latent_dim: int, hidden: Sequence[int], data_shape: tuple[int, ...],
                 act: str, leak: float, out_activation: str, cond: Conditioning):
        super().__init__()
        self.latent_dim = latent_dim
        self.data_shape = tuple(data_shape)
        embed = cond.embed_dim if cond.g != "none" else 0
        self.net = mlp([latent_dim + cond.g_extra + embed, *hidden, math.prod(data_shape)], act, leak)
        self.out = nn.Tanh() if out_activation == "tanh" else nn.Identity()
        if embed:
            self.embed = nn.Embedding(cond.num_classes, embed)

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if y is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.out(self.net(z)).view(len(z), *self.data_shape)


class Discriminator(nn.Module):
    """phi(x) = the hidden layers, then one linear score. Conditional forms: concat joins
    embed(y) to the flattened input; projection adds <embed(y), phi(x)>; AC-GAN adds class logits."""

    def __init__(self, in_shape: tuple[int, ...], hidden: Sequence[int], act: str, leak: float,
                 cond: Conditioning):
        super().__init__()
        self.cond = cond
        extra = cond.embed_dim if cond.d == "concat" else 0
        self.net = mlp([math.prod(in_shape) + extra, *hidden, 1], act, leak)
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


def build(latent_dim: int, g_hidden: Sequence[int], d_hidden: Sequence[int], g_activation: str,
          d_activation: str, leak: float, out_activation: str, *, data_shape: tuple[int, ...],
          pack: int = 1, autoencoder: bool = False, preferred_d_norm: str = "none",
          cond: Conditioning = Conditioning()) -> tuple[nn.Module, nn.Module]:
    """G and D for samples of `data_shape`. The MLP has no normalisation layers, so the loss's
    preferred D normalisation (`preferred_d_norm`) does not apply to it."""
    G = Generator(latent_dim, g_hidden, data_shape, g_activation, leak, out_activation, cond)
    d_shape = packed_shape(data_shape, pack)
    if autoencoder:
        D: nn.Module = ReconstructionEnergy(Autoencoder(d_shape, d_hidden, d_activation, leak))
    else:
        D = Discriminator(d_shape, d_hidden, d_activation, leak, cond)
    return G, D


register("model", MLPConfig, build)
