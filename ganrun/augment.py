"""Differentiable augmentation of everything D sees: DiffAugment and ADA's adaptive probability.

DiffAugment (Zhao et al. 2020; GAN_NOTES §7.4, §9.6, read from mit-han-lab/data-efficient-gans,
DiffAugment_pytorch.py) applies one transform T to real and fake images in D's step and to fakes
in G's step, so D never learns the augmented distribution as "real" and G is trained through
D(T(G(z))). Each op draws its parameters per image, on the device, and is differentiable in the
image:
- color: brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5);
- translation: an integer shift of up to round(H/8) pixels per axis, zero fill;
- cutout: a zeroed square of side round(H/2), its centre uniform (it may leave the image).

ADA (Karras et al. 2020, NVlabs/stylegan2-ada-pytorch): each op is applied to an image with
probability p, and every `interval` steps p moves by sign(r_t - target) * batch * interval /
(kimg * 1000), where r_t = E[sign D(x_real)] over those steps: D too sure of the training images
(r_t above the target) means it is overfitting, so augment more. p starts at 0, never goes below
it, and is kept on the device (no synchronisation per step) and in the checkpoint.
"""

from __future__ import annotations

import math

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganrun import distributed
from ganrun.errors import ConfigError

OPS = ("color", "translation", "cutout")       # DiffAugment's order


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,cutout' -> ('color', 'cutout') in DiffAugment's order; '' or 'none' -> ()."""
    names = [p.strip() for p in policy.split(",") if p.strip()] if policy not in ("", "none") else []
    for name in names:
        if name not in OPS:
            raise ConfigError(f"tricks.diffaug: unknown augmentation '{name}'; choose any of "
                              f"{', '.join(OPS)} separated by commas, or none")
    return tuple(op for op in OPS if op in names)


def color(x: Tensor) -> Tensor:
    b = len(x)
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1), device=x.device)
    # Output pixel (i, j) reads input (i - dy, j - dx) of the zero-padded image.
    rows = (torch.arange(h, device=x.device)[None] - dy + sh)       # (b, h), indices into the padding
    cols = (torch.arange(w, device=x.device)[None] - dx + sw)       # (b, w)
    padded = F.pad(x, (sw, sw, sh, sh))
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]    # (b, h, w, c)
    return out.permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    top, left = cy - ch // 2, cx - cw // 2                  # the square's corner, maybe outside
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~inside)[:, None].to(x.dtype)


TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


class Augment(nn.Module):
    """T: the policy's ops in order, each applied to an image with probability p (1 without ADA)."""

    def __init__(self, policy: tuple[str, ...], ada_target: Optional[float] = None, ada_kimg: float = 100,
                 ada_interval: int = 4, images_per_step: int = 64):
        super().__init__()
        self.policy, self.ada_target = policy, ada_target
        self.ada_interval = ada_interval
        # p moves by this much per adjustment: the real images D saw since the last one, in kimg.
        self.ada_step = images_per_step * ada_interval / (ada_kimg * 1000)
        # Persistent buffers: ADA's p and the r_t sums since the last adjustment join checkpoints.
        self.register_buffer("p", torch.tensor(0.0 if ada_target is not None else 1.0))
        self.register_buffer("r_sum", torch.zeros(()))
        self.register_buffer("r_count", torch.zeros(()))

    @property
    def adaptive(self) -> bool:
        return self.ada_target is not None

    def check_state(self) -> Optional[str]:
        values = (float(self.p), float(self.r_sum), float(self.r_count))
        ok = all(math.isfinite(v) for v in values) and values[0] >= 0 and values[2] >= 0 \
            and abs(values[1]) <= values[2]
        return None if ok else f"ADA's p, r_sum, r_count are {values}: p must be 0 or more, |r_sum| <= r_count"

    def forward(self, x: Tensor) -> Tensor:
        for name in self.policy:
            out = TRANSFORMS[name](x)
            if self.adaptive:
                keep = torch.rand(len(x), 1, 1, 1, device=x.device) >= self.p
                out = torch.where(keep, x, out)
            x = out
        return x

    @torch.no_grad()
    def observe(self, r_t: Tensor) -> None:
        """Add one D update's r_t = E[sign D(x_real)] (a device tensor: no synchronisation)."""
        if self.adaptive:
            self.r_sum += r_t.float()
            self.r_count += 1

    @torch.no_grad()
    def adjust(self, step: int) -> None:
        """ADA's rule, every `ada_interval` steps, from the mean r_t observed since the last time."""
        if self.adaptive and step % self.ada_interval == 0:
            r_sum, r_count = distributed.mean(self.r_sum), distributed.mean(self.r_count)   # all ranks agree
            mean = r_sum / r_count.clamp(min=1)
            moved = (self.p + torch.sign(mean - self.ada_target) * self.ada_step).clamp(min=0)
            self.p.copy_(torch.where(r_count > 0, moved, self.p))    # nothing observed: p stays
            self.r_sum.zero_()
            self.r_count.zero_()


def ada_adjust(p: float, r_t: float, target: float, batch: int, interval: int, kimg: float) -> float:
    """ADA's rule for one adjustment, in plain numbers (the closed form the tests check against).
    p is kept at 0 or above and, as in StyleGAN2-ADA's training loop, not capped at 1."""
    sign = (r_t > target) - (r_t < target)
    return max(0.0, p + sign * batch * interval / (kimg * 1000))
