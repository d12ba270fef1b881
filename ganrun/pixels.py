"""Pixel conversions shared by datasets, pictures and metrics: uint8 [0, 255] <-> float [-1, 1]
(GAN_NOTES §5, trick 1: images are scaled to [-1, 1], G ends in tanh), and resizing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255] (clamped)."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def resize_batch(images: Tensor, resolution: int) -> Tensor:
    """Resize a uint8 (N, C, H, W) batch of square images to `resolution`, antialiased."""
    if images.shape[-1] == resolution and images.shape[-2] == resolution:
        return images
    out = []
    for chunk in images.split(4096):
        x = F.interpolate(chunk.float(), size=(resolution, resolution), mode="bilinear",
                          align_corners=False, antialias=True)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)
