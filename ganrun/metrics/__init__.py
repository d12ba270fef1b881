"""What ganrun measures about a generator, chosen by the kind of data (GAN_NOTES §4, §6).

- 2-D mixtures (ring, grid): modes, hq, rkl (the PacGAN protocol).
- 1-D Gaussian: mean, std, w1, ks.
- sine curves: curve_err, curves_hit.
- images with labels (digits, MNIST, CIFAR-10, ...): fd_<name>, is_<name>, classes_covered,
  class_kl from a small classifier of the real data; for conditional runs also cond_acc and
  intra_fd, for InfoGAN code_acc.
- images: fid, is, kid with the standard Inception weights (when enabled and available),
  and memorisation checks (mem_*, dup_rate, support).

Every evaluation draws `eval.n` samples from a fixed seed (`eval.seed`) inside a forked RNG,
so it never changes the training run, and evaluating a checkpoint later reproduces it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable

import torch

from ganrun.data import Batch
from ganrun.errors import GanrunError, oom_line
from ganrun.kinds import KINDS

log = logging.getLogger(__name__)


class Evaluator:
    """The metrics of the data's kind (ganrun/kinds.py), run on `eval.n` samples from fixed noise."""

    def __init__(self, cfg_eval, data, device: torch.device, augmented: tuple[str, ...] = ()):
        self.n, self.seed, self.truncation = cfg_eval.n, cfg_eval.seed, cfg_eval.get("truncation")
        cache = Path(cfg_eval.cache_dir).expanduser()
        # Evaluation must not move the training RNG (classifier training, random draws).
        self._rng_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=self._rng_devices):
            self.parts, notes = KINDS[data.kind].metrics(cfg_eval, data, device, cache)
            self.parts += registered_metrics(cfg_eval, data, device, cache)
            if KINDS[data.kind].image_like and augmented:
                from ganrun.metrics.leak import CHECKS, AugmentLeak

                if CHECKS.keys() & set(augmented):        # D saw their artefacts: did G copy them?
                    leak = AugmentLeak(data.reference(cfg_eval.ref_n).x, data.name, augmented)
                    self.parts.append(lambda batch: leak(batch.x))
        for level, note in notes:
            log.log(level, note)

    @torch.no_grad()
    def __call__(self, generate: Callable[..., Batch]) -> tuple[dict, dict]:
        """Draw eval.n samples with generate(n, seed, truncation=...) and measure them: (values, protocol)."""
        values: dict = {}
        protocol: dict = {}
        with torch.random.fork_rng(devices=self._rng_devices):
            try:
                fake = generate(self.n, self.seed, truncation=self.truncation)
                if not bool(torch.isfinite(fake.x).all()):
                    raise GanrunError("the generator's samples hold NaN or infinite values: its weights are not "
                                      "finite (a diverged run); evaluate an earlier checkpoint")
                for part in self.parts:
                    v, p = part(fake)
                    values.update(v)
                    protocol.update(p)
            except Exception as e:
                if oom_line(e):
                    raise GanrunError(f"out of memory during evaluation: lower eval.n (now {self.n}) or "
                                      f"eval.ref_n") from None
                raise
        if self.truncation is not None:
            protocol["truncation"] = (f"samples drawn with the truncation trick: noise components beyond "
                                      f"{self.truncation} redrawn")
        # JSON has no NaN: a value that could not be measured is null in metrics.json.
        values = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in values.items()}
        return values, protocol


def registered_metrics(cfg_eval, data, device: torch.device, cache: Path) -> list:
    """The metric parts that plugins registered for this kind of data (config.register_metric)."""
    from ganrun.config import METRICS, _import_option_modules, _load

    _import_option_modules()
    return [(_load(build) if isinstance(build, str) else build)(cfg_eval, data, device, cache)
            for build in METRICS.get(data.kind, [])]


def augmented(cfg) -> tuple[str, ...]:
    """The augmentations D saw in this run (DiffAugment/ADA), for the leak check; () if none."""
    from ganrun.augment import parse_policy

    return parse_policy(cfg.tricks.get("diffaug", "none"))
