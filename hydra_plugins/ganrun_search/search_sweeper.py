"""ganrun's search sweeper (hydra/sweeper=search; ganrun/search.py explains it). Hydra imports every
module of the hydra_plugins package at start-up: this one imports nothing heavy."""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper

from ganrun.errors import ConfigError


class SeedAveragedSweeper(OptunaSweeper):
    """Optuna's sweeper with ganrun's objective: `metric` from metrics.json, averaged over `seeds`."""

    def __init__(self, metric: Optional[str], seeds: Sequence[int], **optuna: Any) -> None:
        if not metric:
            raise ConfigError("hydra/sweeper=search needs the metric to optimise: hydra.sweeper.metric=<a key of "
                              "metrics.json>, e.g. modes, hq or fd_digits (and hydra.sweeper.direction="
                              "maximize or minimize)")
        if not seeds:
            raise ConfigError("hydra.sweeper.seeds is empty: give the seeds each trial is trained with, e.g. "
                              "hydra.sweeper.seeds=[0,1]")
        logging.getLogger("alembic").setLevel(logging.WARNING)   # optuna's import logs alembic's set-up
        super().__init__(**optuna)
        self.metric, self.seeds = metric, [int(s) for s in seeds]

    def setup(self, **kwargs: Any) -> None:
        super().setup(**kwargs)
        from ganrun.search import SeedAveraging

        self.sweeper.launcher = SeedAveraging(self.sweeper.launcher, self.metric, self.seeds)

    def sweep(self, arguments: list[str]) -> None:
        if any(a.split("=", 1)[0].lstrip("+~") == "seed" for a in arguments):
            raise ConfigError("a search sets each trial's seeds itself: give them as hydra.sweeper.seeds=[...] "
                              "instead of seed=...")
        try:
            super().sweep(arguments)
        except ValueError as e:
            if "No trials are completed yet" not in str(e):
                raise
            raise ConfigError(f"no trial of the search finished with a value of {self.metric}; each job's "
                              f"metrics.json (and the sweep's report.md) says why") from None
