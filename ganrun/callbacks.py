"""Hydra callbacks (hydra.callbacks in ganrun/conf/config.yaml): the comparison table at the
end of every sweep (ganrun/report.py), which also tells the command which jobs failed.

(Hydra turns an exception raised in a callback into a warning, so checks that must stop a
run happen before Hydra starts: ganrun/cli.py `preflight`.)"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

log = logging.getLogger("ganrun")
JOBS_FILE = ".joblist"    # the sweep's job folders, one per line


class GanrunCallbacks(Callback):
    def __init__(self) -> None:
        self.job_dirs: list[Path] = []

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        # Jobs resumed with resume=auto live in their first sweep's folder: remember each one.
        # A parallel launcher runs jobs (and this hook) in worker processes, so the folder is
        # also appended to a list in the sweep folder, which the sweep's own process reads.
        job_dir = Path(config.hydra.runtime.output_dir)
        self.job_dirs.append(job_dir)
        if config.hydra.mode == RunMode.MULTIRUN:
            with open(Path(config.hydra.sweep.dir) / JOBS_FILE, "a") as f:
                f.write(f"{job_dir.absolute()}\n")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ganrun.cli import FAILED_JOBS
        from ganrun.report import find_runs, report

        sweep = Path(config.hydra.sweep.dir)
        listed = (sweep / JOBS_FILE).read_text().splitlines() if (sweep / JOBS_FILE).is_file() else []
        job_dirs = self.job_dirs + [Path(line) for line in listed if line]
        runs = sorted({d for d in job_dirs if (d / "metrics.json").is_file()}) or find_runs(sweep)
        table = report(sweep, runs)
        if table:
            log.info("comparison of the sweep's runs (mean ± std over seeds), also in %s:\n%s",
                     sweep / "report.md", table)
        for run in runs:
            try:
                status = json.loads((run / "metrics.json").read_text())
            except (OSError, ValueError):
                continue
            if isinstance(status, dict) and status.get("status") == "failed":
                FAILED_JOBS.append(f"{run.name}: {status.get('error')}")
