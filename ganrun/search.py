"""Hyperparameter search (hydra/sweeper=search): Optuna's sweeper (hydra-optuna-sweeper), where
each trial is trained once per seed and scored by the mean of one metrics.json value. (Hydra
takes sweepers only from the hydra_plugins package: the sweeper itself is
hydra_plugins/ganrun_search/search_sweeper.py, and this module holds what it does.)

    ganrun -m hydra/sweeper=search hydra.sweeper.metric=modes hydra.sweeper.seeds=[0,1,2] \\
        dataset=grid loss=wgan_gp 'optimizer.g.lr=tag(log, interval(1e-5, 1e-3))' \\
        'optimizer.d.lr=tag(log, interval(1e-5, 1e-3))'

Lucic et al. (2018) found that one seed per setting ranks GANs wrongly: the spread over seeds
is as large as the gaps between settings. So a trial is the mean over `seeds`, each seed a
job of its own (own folder, own TensorBoard run, run side by side by a parallel launcher), and
the sweep's report shows each trial's mean ± std. A trial whose runs failed, diverged or did
not report the metric is told to Optuna as failed (the search goes on), not as a crash.
"""

from __future__ import annotations

import logging
import math
import statistics
from typing import Any, Sequence

from hydra.core.utils import JobReturn, JobStatus

log = logging.getLogger("ganrun")


class TrialFailed(Exception):
    """Why a trial has no score (Optuna records the trial as failed)."""


class SeedAveraging:
    """Stands in for the sweep's launcher: runs each trial's overrides once per seed and returns,
    per trial, one result whose value is the mean of the metric over those runs."""

    def __init__(self, launcher: Any, metric: str, seeds: list[int]) -> None:
        self.launcher, self.metric, self.seeds = launcher, metric, seeds
        self.next_job = 0      # job numbers (folder prefixes) count runs, not trials

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
        runs = [list(trial) + [f"seed={s}"] for trial in job_overrides for s in self.seeds]
        returns = self.launcher.launch(runs, initial_job_idx=self.next_job)
        self.next_job += len(runs)
        k = len(self.seeds)
        return [self.trial(list(trial), returns[i * k:(i + 1) * k]) for i, trial in enumerate(job_overrides)]

    def trial(self, overrides: list[str], returns: Sequence[JobReturn]) -> JobReturn:
        result = JobReturn(overrides=overrides)
        try:
            values = [self.value(r) for r in returns]
            mean = statistics.fmean(values)
            spread = f" ± {statistics.stdev(values):.4g}" if len(values) > 1 else ""
            log.info("trial %s: %s = %.4g%s over seeds %s", " ".join(overrides) or "(defaults)", self.metric, mean,
                     spread, ",".join(map(str, self.seeds)))
            result.status, result._return_value = JobStatus.COMPLETED, mean
        except TrialFailed as e:
            log.warning("trial %s failed: %s", " ".join(overrides) or "(defaults)", e)
            result.status, result._return_value = JobStatus.FAILED, e
        return result

    def value(self, run: JobReturn) -> float:
        """The metric of one seed's run (ganrun's task returns the run's metrics.json)."""
        if run.status != JobStatus.COMPLETED:
            raise TrialFailed(f"a run raised {type(run._return_value).__name__}: {run._return_value}")
        metrics = run.return_value
        if not isinstance(metrics, dict) or metrics.get("status") not in ("finished", "stopped_early"):
            status = metrics.get("status") if isinstance(metrics, dict) else "failed"
            raise TrialFailed(f"a run did not finish ({status}); its metrics.json says why")
        value = metrics.get(self.metric)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            numeric = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
            raise TrialFailed(f"its metrics.json has no number {self.metric!r} (it has: {', '.join(numeric)})")
        if not math.isfinite(value):
            raise TrialFailed(f"{self.metric} is {value}")
        return float(value)
