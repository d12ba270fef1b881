"""Did the augmentation leak into G's samples? (DiffAugment/ADA; GAN_NOTES §7.4)

When D is shown augmented images only, G can learn to produce the augmentation's artefacts.
Two of them are visible in pixels (model space [-1, 1], where the augmentations fill with 0):
- leak_translation: the share of images with an outer row or column that is flat at the fill
  value (|x| < 0.05 in every channel over 90% of it), as translation's zero fill leaves;
- leak_cutout: the share of images holding a flat square at the fill value of side round(H/4)
  (cutout zeroes a square of side H/2).
Both are measured on the real training images too (`_real`); samples well above the real rate
mean the augmentation leaked. Colour jitter leaves no such trace and is not measured.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

FLAT = 0.05


def flat_mask(x: Tensor) -> Tensor:
    """(N, 1, H, W): pixels at the fill value in every channel."""
    return (x.float().abs() < FLAT).all(dim=1, keepdim=True).float()


def border_rate(x: Tensor) -> float:
    m = flat_mask(x)[:, 0]
    sides = torch.stack([m[:, 0, :].mean(1), m[:, -1, :].mean(1), m[:, :, 0].mean(1), m[:, :, -1].mean(1)], 1)
    return float((sides >= 0.9).any(1).float().mean())


def square_rate(x: Tensor) -> float:
    side = max(2, int(x.shape[-1] / 4 + 0.5))
    pooled = F.avg_pool2d(flat_mask(x), side, stride=1)
    return float((pooled.flatten(1).max(1).values >= 1 - 1e-6).float().mean())


class AugmentLeak:
    def __init__(self, real: Tensor, name: str):
        real = real[:5000]
        self.name, self.n_real = name, len(real)
        self.real = {"leak_translation_real": border_rate(real), "leak_cutout_real": square_rate(real)}

    def __call__(self, fake: Tensor) -> tuple[dict, dict]:
        fake = fake[:5000]
        values = {"leak_translation": border_rate(fake), "leak_cutout": square_rate(fake), **self.real}
        side = max(2, int(fake.shape[-1] / 4 + 0.5))
        protocol = {
            "leak_translation": f"share of {len(fake)} samples with an outer row or column flat at 0 (|x| < "
                                f"{FLAT} on 90% of it), translation's fill: well above leak_translation_real "
                                f"means the augmentation leaked",
            "leak_cutout": f"share of {len(fake)} samples holding a {side}x{side} square flat at 0, cutout's "
                           f"fill; compare leak_cutout_real",
            "leak_translation_real": f"the same for {self.n_real} real {self.name} training images",
            "leak_cutout_real": f"the same for {self.n_real} real {self.name} training images",
        }
        return values, protocol
