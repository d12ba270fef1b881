"""Each kind of data in one place: its picture and its metrics.

A dataset says what its samples are (`Dataset.kind`): 2-D points, a 1-D density, curves or
images. The kind decides how a batch of generated samples is drawn for TensorBoard and
<run>/samples/, and which metrics measure them (GAN_NOTES §4, §6). A new kind of data is one
class here (plus its dataset); a new metric for a kind is one line in its `metrics`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor

from ganrun import visualize
from ganrun.data import Batch

Part = Callable[[Batch], tuple[dict, dict]]    # generated samples (model space) -> (values, protocol)
Curve = Callable[[Tensor], Tensor]             # model-space inputs -> D(x) after the loss's link
Notes = list[tuple[int, str]]                  # (log level, message): what was skipped and why


class Kind:
    name = ""
    image_like = False  # samples are images (grids, PNG folders, image models)
    tag = ""            # TensorBoard tag of the picture: fixed per kind, so a sweep's runs overlay
    preview = 64        # how many fixed-noise samples the picture shows
    trained_by = ""     # the game its samples are for, when only one game can use them (translation data)

    def picture(self, data, fake: Tensor, d_curve: Optional[Curve] = None) -> Tensor:
        """uint8 C x H x W picture of generated samples (model space)."""
        raise NotImplementedError

    def real_picture(self, data) -> Optional[Tensor]:
        """A picture of real samples, logged once at step 0 (None: the picture of fakes shows them)."""
        return None

    def metrics(self, cfg, data, device: torch.device, cache: Path) -> tuple[list[Part], Notes]:
        raise NotImplementedError


class Points(Kind):
    """2-D Gaussian mixtures (ring, grid): the PacGAN protocol."""
    name, tag, preview = "points", "samples/scatter", 1000

    def picture(self, data, fake, d_curve=None):
        fixed = torch.Generator(data.device).manual_seed(0)    # the same real points at every step
        real = data.to_data(data.sample(len(fake), generator=fixed).x).float().cpu()
        return visualize.scatter_2d(real, data.to_data(fake.detach()).float().cpu())

    def metrics(self, cfg, data, device, cache):
        from ganrun.metrics.toy import mixture_metrics

        return [lambda b: mixture_metrics(data.to_data(b.x), data.centers, data.std, data.name)], []


class Density1d(Kind):
    """The 1-D Gaussian: target density, generated histogram and D(x) (GAN_NOTES §4)."""
    name, tag, preview = "density1d", "samples/density", 5000

    def picture(self, data, fake, d_curve=None):
        return visualize.density_1d(data, data.to_data(fake.detach()).float().cpu(), d_curve)

    def metrics(self, cfg, data, device, cache):
        from ganrun.metrics.toy import gaussian1d_metrics

        return [lambda b: gaussian1d_metrics(data.to_data(b.x), data.mean, data.std, data.name)], []


class Curves(Kind):
    """The notes' sine curves."""
    name, tag, preview = "curves", "samples/curves", 20

    def picture(self, data, fake, d_curve=None):
        return visualize.curves(data, data.to_data(fake.detach()).float().cpu())

    def metrics(self, cfg, data, device, cache):
        from ganrun.metrics.toy import curve_metrics

        return [lambda b: curve_metrics(data.to_data(b.x), data.curves, data.name)], []


class Images(Kind):
    """Image sets: a grid; classifier metrics for labelled sets, memorisation, Inception."""
    name, tag, preview = "images", "samples/grid", 64
    image_like = True

    def picture(self, data, fake, d_curve=None):
        return visualize.image_grid(fake.detach().float().cpu())

    def real_picture(self, data):
        fixed = torch.Generator(data.device).manual_seed(0)
        return visualize.image_grid(data.sample(self.preview, generator=fixed).x.cpu())

    def metrics(self, cfg, data, device, cache):
        parts: list[Part] = []
        heldout = data.heldout()
        if cfg.classifier and data.num_classes:
            from ganrun.metrics.classifier import ClassifierMetrics

            parts.append(ClassifierMetrics(data, heldout, cache, device))
        real = data.reference(cfg.ref_n).x
        if cfg.memorisation:
            from ganrun.metrics.memorisation import Memorisation

            held = heldout.reference(None).x if heldout is not None else None
            memorisation = Memorisation(real, held, data.name, batch=cfg.dup_batch)
            parts.append(lambda b: memorisation(b.x))
        inception, notes = inception_part(cfg, data, device, cache, real)
        return parts + inception, notes


class Stacked(Images):
    """Stacked digits: images whose three channels are three digits (1000 modes)."""
    name = "stacked"

    def metrics(self, cfg, data, device, cache):
        from ganrun.metrics.classifier import StackedModes

        parts: list[Part] = [StackedModes(data, cache, device)] if cfg.classifier else []
        inception, notes = inception_part(cfg, data, device, cache, data.reference(cfg.ref_n).x)
        return parts + inception, notes


class Translations(Kind):
    """Image-to-image data (ganrun/data/translation.py): the games draw their own pictures (input |
    output | target rows); the metrics compare held-out translations with their targets
    (paired) or the target domain (unpaired), ganrun/metrics/translation.py."""
    name, tag, preview = "paired", "samples/translation", 8
    image_like = True
    trained_by = "pix2pix"

    def picture(self, data, fake, d_curve=None):
        return visualize.image_grid(fake.detach().float().cpu())

    def metrics(self, cfg, data, device, cache):
        from ganrun.metrics import translation

        unpaired = self.name == "unpaired"
        parts: list[Part] = [translation.CycleMetrics() if unpaired else translation.PairedMetrics()]
        if cfg.classifier and data.labels_a is not None:
            parts.append(translation.ClassKept(data, cache, device, unpaired))
        return parts, []


class Unpaired(Translations):
    name, tag = "unpaired", "samples/A_to_B_to_A"
    trained_by = "cyclegan"


def inception_part(cfg, data, device, cache: Path, real: Tensor) -> tuple[list[Part], Notes]:
    """FID, IS and KID with the standard Inception weights, when wanted and available."""
    if not inception_wanted(cfg.inception, device):
        note = ("Inception metrics (fid, is, kid) are off on the CPU (slow); eval.inception=true turns them on "
                "(ganrun-eval: --inception on)")
        return [], [(logging.INFO, note)] if cfg.inception is None else []
    from ganrun.metrics.inception import InceptionMetrics, how_to_provide, resolve_weights

    weights, why = resolve_weights(cfg.inception_weights, cfg.download_timeout)
    if weights is None:
        return [], [(logging.WARNING, f"Inception metrics (fid, is, kid) skipped: {why}. To get them, "
                                      f"{how_to_provide()}")]
    inception = InceptionMetrics(weights, real, data.name, data.split, cache, device)
    return [lambda b: inception(b.x)], []


def inception_wanted(setting: Optional[bool], device: torch.device) -> bool:
    """eval.inception: true / false, or null for "on when training on a GPU"."""
    return device.type == "cuda" if setting is None else bool(setting)


KINDS: dict[str, Kind] = {kind.name: kind for kind in (Points(), Density1d(), Curves(), Images(), Stacked(),
                                                      Translations(), Unpaired())}
