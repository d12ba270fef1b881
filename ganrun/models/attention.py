"""Self-attention (SAGAN, Zhang et al. 2019; GAN_NOTES §7.4) and BigGAN's orthogonal regulariser.

SelfAttention: f = W_f x and g = W_g x (1x1 convs to C/8 channels), h = W_h x (C/2); the
attention map beta = softmax(f^T g) over the positions; o = W_o (h beta) (1x1 conv back to C);
y = gamma * o + x, gamma a learned scalar initialised at 0 (the block starts as the identity).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SelfAttention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        inner = max(1, channels // 8)
        self.f = nn.Conv2d(channels, inner, 1, bias=False)
        self.g = nn.Conv2d(channels, inner, 1, bias=False)
        self.h = nn.Conv2d(channels, max(1, channels // 2), 1, bias=False)
        self.o = nn.Conv2d(max(1, channels // 2), channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        b, c, hgt, wid = x.shape
        f = self.f(x).flatten(2)                             # (b, c/8, n)
        g = self.g(x).flatten(2)
        h = self.h(x).flatten(2)                             # (b, c/2, n)
        beta = torch.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)    # (b, n, n): over positions i for each j
        o = self.o(torch.bmm(h, beta).view(b, -1, hgt, wid))
        return x + self.gamma * o


def orthogonal_penalty(module: nn.Module) -> Tensor:
    """BigGAN's orthogonal regulariser without its beta: the sum over the conv and linear weights W
    (one row per filter) of ||W W^T * (1 - I)||_F^2 (only the filters' cosines, not their norms),
    on the raw parameters (before spectral normalisation), in float32. BigGAN's code adds the
    gradient 2 (W W^T * (1 - I)) W, half this term's: its beta is twice ganrun's for the same push."""
    total = None
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            parametrized = getattr(m, "parametrizations", None)
            w = parametrized.weight.original if parametrized is not None and "weight" in parametrized else m.weight
            if isinstance(m, nn.ConvTranspose2d):
                w = w.transpose(0, 1)                  # (in, out, k, k): the filters are along dim 1
            w = w.float().flatten(1)
            gram = w @ w.t()
            off = gram * (1 - torch.eye(len(gram), device=gram.device, dtype=gram.dtype))
            term = (off ** 2).sum()
            total = term if total is None else total + term
    return total if total is not None else torch.zeros(())


def attention_at(resolution: int, wanted: int) -> bool:
    return wanted > 0 and resolution == wanted
