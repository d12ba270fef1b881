"""Metrics of image-to-image translations (GAN_NOTES §7.3), on held-out images.

Paired (pix2pix): `l1` (mean absolute error, images in [0, 1]), `psnr` (dB) and `ssim` of the
outputs against their targets, with torchmetrics' implementations. Unpaired (CycleGAN):
`cycle_A` and `cycle_B`, the L1 error of A -> B -> A (and B -> A -> B) against the input.
With class labels (the built-in digits sets), a classifier of each domain's training images
(ganrun/metrics/classifier.py, cached) gives `class_kept` (the share of outputs it assigns to
the input's class; `class_kept_AB`, `class_kept_BA` both ways) and the Fréchet distance of the
outputs to the target domain's training images in its feature space (`fd_B`, `fd_A`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ganrun.data import Batch
from ganrun.metrics.classifier import (frechet_distance, gaussian_stats, held_out_accuracy, load_or_train,
                                       predict)


def unit(x: Tensor) -> Tensor:
    return ((x.float() + 1) / 2).clamp(0, 1)


def paired_scores(out: Tensor, target: Tensor) -> dict:
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    o, t = unit(out), unit(target)
    return {"l1": float((o - t).abs().mean()),
            "psnr": float(peak_signal_noise_ratio(o, t, data_range=1.0, dim=(1, 2, 3))),   # mean over images
            "ssim": float(structural_similarity_index_measure(o, t, data_range=1.0))}


class PairedMetrics:
    def __call__(self, batch: Batch) -> tuple[dict, dict]:
        n = len(batch)
        values = paired_scores(batch.x, batch.target)
        pairs = f"{n} held-out pairs (the test split, else val; training pairs where the set has neither)"
        protocol = {"l1": f"mean |output - target| of {pairs}, images in [0, 1]",
                    "psnr": f"mean per-image PSNR (dB, data range 1) of the outputs of {pairs} against their "
                            f"targets, torchmetrics",
                    "ssim": f"SSIM (Gaussian window 11, sigma 1.5) of the outputs of {pairs} against their "
                            f"targets, torchmetrics"}
        return values, protocol


class CycleMetrics:
    def __call__(self, batch: Batch) -> tuple[dict, dict]:
        values, protocol = {}, {}
        for name, b in (("A", batch), ("B", batch.reverse)):
            if b is None or b.reconstruction is None:
                continue
            values[f"cycle_{name}"] = float((unit(b.reconstruction) - unit(b.source)).abs().mean())
            other = "B" if name == "A" else "A"
            protocol[f"cycle_{name}"] = (f"mean |{name} -> {other} -> {name} - {name}| of {len(b)} held-out "
                                         f"{name} images, in [0, 1]")
        return values, protocol


class DomainClassifier:
    """A classifier of one domain's labelled training images: class_kept and the Fréchet distance
    of translations into that domain."""

    def __init__(self, domain, heldout, cache: Path, device: torch.device):
        self.name = domain.name
        self.model, self.accuracy = load_or_train(domain, heldout, cache, device)[:2]
        features, _ = predict(self.model, domain.reference(None).x)
        self.real_stats, self.n_real = gaussian_stats(features), len(features)

    def __call__(self, out: Tensor, labels: Tensor, suffix: str) -> tuple[dict, dict]:
        features, logits = predict(self.model, out)
        net = f"a small CNN trained on the {self.name} training images ({held_out_accuracy(self.accuracy)})"
        values = {f"class_kept{suffix}": float((logits.argmax(1) == labels).float().mean())}
        protocol = {f"class_kept{suffix}": f"share of {len(out)} translations of held-out images that {net} "
                                           f"assigns to the input's class"}
        if len(out) > 1:
            fd_key = f"fd_{suffix[-1]}" if suffix else "fd_B"
            values[fd_key] = frechet_distance(gaussian_stats(features), self.real_stats)
            protocol[fd_key] = (f"Fréchet distance of {len(out)} translations to the {self.n_real} {self.name} "
                                f"training images in the 128-d feature space of {net}")
        return values, protocol


class ClassKept:
    """class_kept and fd for each direction that has a labelled target domain."""

    def __init__(self, data, cache: Path, device: torch.device, unpaired: bool):
        held = data.heldout()
        self.to_b = DomainClassifier(data.domain("B"), held.domain("B") if held else None, cache, device) \
            if data.labels_b is not None else None
        self.to_a = DomainClassifier(data.domain("A"), held.domain("A") if held else None, cache, device) \
            if unpaired and data.labels_a is not None else None
        self.unpaired = unpaired

    def __call__(self, batch: Batch) -> tuple[dict, dict]:
        values, protocol = {}, {}
        parts = [(self.to_b, batch, "_AB" if self.unpaired else "")]
        if self.unpaired:
            parts.append((self.to_a, batch.reverse, "_BA"))
        for clf, b, suffix in parts:
            if clf is not None and b is not None and b.y is not None:
                v, p = clf(b.x, b.y, suffix)
                values.update(v)
                protocol.update(p)
        return values, protocol
