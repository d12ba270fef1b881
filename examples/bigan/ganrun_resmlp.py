"""A model as a ganrun plugin, in one file: `model=resmlp`, G and D of residual MLP blocks.

Each block is x + W2 act(W1 x); G maps z to the sample's size, D the flattened sample to one raw
score (the loss applies its link). For toy data and flattened images alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganrun.config import bounded, register


@dataclass
class ResMLPConfig:
    type: str = "resmlp"
    latent_dim: int = bounded(8, ge=1, le=8192)
    width: int = bounded(128, ge=1, le=16384)
    blocks: int = bounded(2, ge=1, le=32)


register("model", ResMLPConfig, "ganrun_resmlp:build")


def build(latent_dim, width, blocks, *, data_shape, **context):
    import math

    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, width))

        def forward(self, x):
            return x + self.net(x)

    size = math.prod(data_shape)

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.latent_dim = latent_dim
            self.net = nn.Sequential(nn.Linear(latent_dim, width), *[Block() for _ in range(blocks)],
                                     nn.Linear(width, size))

        def forward(self, z):
            return self.net(z).view(len(z), *data_shape)

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(size * context.get("pack", 1), width),
                                     *[Block() for _ in range(blocks)], nn.Linear(width, 1))

        def forward(self, x):
            return self.net(x.flatten(1)).view(len(x))

    return G(), D()
