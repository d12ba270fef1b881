"""Did the augmentation leak into G's samples? (DiffAugment/ADA; GAN_NOTES §7.4)

When D is shown augmented images only, G can learn to produce the augmentation's artefacts.
Two of them are visible in pixels (model space [-1, 1], where the augmentations fill with 0):
- leak_translation: the share of images with an outer row or column that is flat at the fill
  value (|x| < 0.05 in every channel over 90% of it), as translation's zero fill leaves;
- leak_cutout: the share of images holding a flat square at the fill value of side round(H/4)
  (cutout zeroes a square of side H/2).
Each is measured only when its augmentation was in the policy, and on the real training images
too (`_real`); samples well above the real rate mean the augmentation leaked. An image flat at 0
over most of its area (the grey output of an untrained or collapsed G) is not counted: its
borders and squares are flat because everything is. Colour jitter leaves no such trace and is
not measured.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

FLAT = 0.05
GREY = 0.5      # an image flat at 0 over more than this share of its area is grey, not leaking


def flat_mask(x: Tensor) -> Tensor:
    """(N, 1, H, W): pixels at the fill value in every channel."""
    return (x.float().abs() < FLAT).all(dim=1, keepdim=True).float()


def share(found: Tensor, m: Tensor) -> float:
    """The share of images where the artefact is found, grey images counted as not leaking."""
    grey = m.flatten(1).mean(1) > GREY
    return float((found & ~grey).float().mean())


def border_rate(x: Tensor) -> float:
    m = flat_mask(x)[:, 0]
    sides = torch.stack([m[:, 0, :].mean(1), m[:, -1, :].mean(1), m[:, :, 0].mean(1), m[:, :, -1].mean(1)], 1)
    return share((sides >= 0.9).any(1), m)


def square_rate(x: Tensor) -> float:
    side = max(2, int(x.shape[-1] / 4 + 0.5))
    m = flat_mask(x)
    pooled = F.avg_pool2d(m, side, stride=1)
    return share(pooled.flatten(1).max(1).values >= 1 - 1e-6, m)


CHECKS = {"translation": border_rate, "cutout": square_rate}     # the augmentations that leave a trace


class AugmentLeak:
    """The checks of the augmentations in `ops` that leave a trace, on samples and real images."""

    def __init__(self, real: Tensor, name: str, ops: tuple[str, ...] = tuple(CHECKS)):
        real = real[:5000]
        self.name, self.n_real = name, len(real)
        self.checks = {op: rate for op, rate in CHECKS.items() if op in ops}
        self.real = {f"leak_{op}_real": rate(real) for op, rate in self.checks.items()}

    def __call__(self, fake: Tensor) -> tuple[dict, dict]:
        fake = fake[:5000]
        values = {**{f"leak_{op}": rate(fake) for op, rate in self.checks.items()}, **self.real}
        side = max(2, int(fake.shape[-1] / 4 + 0.5))
        grey = f"images flat at 0 over more than {GREY:.0%} of their area not counted"
        protocol = {
            "leak_translation": f"share of {len(fake)} samples with an outer row or column flat at 0 (|x| < "
                                f"{FLAT} on 90% of it), translation's fill ({grey}): well above "
                                f"leak_translation_real means the augmentation leaked",
            "leak_cutout": f"share of {len(fake)} samples holding a {side}x{side} square flat at 0, cutout's "
                           f"fill ({grey}); compare leak_cutout_real",
            "leak_translation_real": f"the same for {self.n_real} real {self.name} training images",
            "leak_cutout_real": f"the same for {self.n_real} real {self.name} training images",
        }
        return values, {k: v for k, v in protocol.items() if k in values}
