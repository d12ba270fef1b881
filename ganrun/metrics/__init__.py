"""What ganrun measures about a generator, chosen by the kind of data (GAN_NOTES §4, §6).

- 2-D mixtures (ring, grid): modes, hq, rkl (the PacGAN protocol).
- 1-D Gaussian: mean, std, w1, ks.
- sine curves: curve_err, curves_hit.
- images with labels (digits, MNIST, CIFAR-10, ...): fd_<name>, is_<name>, classes_covered,
  class_kl from a small classifier of the real data.
- images: fid, is, kid with the standard Inception weights (when enabled and available),
  and memorisation checks (mem_*, dup_rate, support).

Every evaluation draws `eval.n` samples from a fixed seed (`eval.seed`) inside a forked RNG,
so it never changes the training run, and evaluating a checkpoint later reproduces it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor

from ganrun.errors import GanrunError, oom_line
from ganrun.metrics.toy import curve_metrics, gaussian1d_metrics, mixture_metrics

log = logging.getLogger(__name__)
Part = Callable[[Tensor], tuple[dict, dict]]   # generated samples (model space) -> (values, protocol)


def real_images(data, limit: int) -> Tensor:
    """Up to `limit` real training images in [-1, 1]: all of a held set, a fixed draw of a stream."""
    from ganrun.data.images import to_unit_range

    if hasattr(data, "images"):
        return to_unit_range(data.images[:limit])
    # distinct files (drawing with replacement would repeat some, and fake "duplicates")
    keep = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:limit].tolist()
    return to_unit_range(torch.stack([data.files[i] for i in keep])).to(data.device)


def inception_wanted(setting: Optional[bool], device: torch.device) -> bool:
    """eval.inception: true / false, or null for "on when training on a GPU"."""
    return device.type == "cuda" if setting is None else bool(setting)


class Evaluator:
    def __init__(self, cfg_eval, data, device: torch.device):
        self.n, self.seed = cfg_eval.n, cfg_eval.seed
        self.parts: list[Part] = []
        self.notes: list[tuple[int, str]] = []     # what was skipped and why, said once
        cache = Path(cfg_eval.cache_dir).expanduser()
        # Evaluation must not move the training RNG (classifier training, random draws).
        self._rng_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=self._rng_devices):
            self._choose(cfg_eval, data, device, cache)
        for level, note in self.notes:
            log.log(level, note)

    def _choose(self, cfg, data, device, cache: Path) -> None:
        kind = data.kind
        if kind == "points":
            self.parts.append(lambda x: mixture_metrics(data.to_data(x), data.centers, data.std, data.name))
        elif kind == "density1d":
            self.parts.append(lambda x: gaussian1d_metrics(data.to_data(x), data.mean, data.std, data.name))
        elif kind == "curves":
            self.parts.append(lambda x: curve_metrics(data.to_data(x), data.curves, data.name))
        elif kind == "images":
            self._images(cfg, data, device, cache)

    def _images(self, cfg, data, device, cache: Path) -> None:
        from ganrun.data.images import to_unit_range

        heldout = data.heldout() if hasattr(data, "heldout") else None
        if cfg.classifier and getattr(data, "labels", None) is not None:
            from ganrun.metrics.classifier import ClassifierMetrics

            self.parts.append(ClassifierMetrics(data, heldout, cache, device))
        real = real_images(data, cfg.ref_n)
        if cfg.memorisation:
            from ganrun.metrics.memorisation import Memorisation

            held = to_unit_range(heldout.images) if heldout is not None else None
            self.parts.append(Memorisation(real, held, data.name, batch=cfg.dup_batch))
        if inception_wanted(cfg.inception, device):
            from ganrun.metrics.inception import InceptionMetrics, how_to_provide, resolve_weights

            weights, why = resolve_weights(cfg.inception_weights, cfg.download_timeout)
            if weights is None:
                self.notes.append((logging.WARNING, f"Inception metrics (fid, is, kid) skipped: {why}. "
                                                    f"To get them, {how_to_provide()}"))
            else:
                split = getattr(data, "split", "train")
                self.parts.append(InceptionMetrics(weights, real, data.name, split, cache, device))
        elif cfg.inception is None:
            self.notes.append((logging.INFO, "Inception metrics (fid, is, kid) are off on the CPU (slow); "
                                             "eval.inception=true turns them on"))

    @torch.no_grad()
    def __call__(self, generate: Callable[[int, int], Tensor]) -> tuple[dict, dict]:
        """Draw eval.n samples with generate(n, seed) and measure them: (values, protocol)."""
        values: dict = {}
        protocol: dict = {}
        with torch.random.fork_rng(devices=self._rng_devices):
            try:
                fake = generate(self.n, self.seed)
                for part in self.parts:
                    v, p = part(fake)
                    values.update(v)
                    protocol.update(p)
            except Exception as e:
                if oom_line(e):
                    raise GanrunError(f"out of memory during evaluation: lower eval.n (now {self.n}) or "
                                      f"eval.ref_n") from None
                raise
        # JSON has no NaN: a value that could not be measured is null in metrics.json.
        values = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}
        return values, protocol
