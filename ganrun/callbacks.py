"""Hydra callbacks (hydra.callbacks in ganrun/conf/config.yaml): a check before Hydra creates
a run or sweep folder, so that a folder ganrun cannot write to is one clear line; and the
comparison table at the end of every sweep (ganrun/report.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
import logging
from typing import Any, Optional

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("ganrun")


def unwritable(path: Path) -> Optional[str]:
    """Why a folder cannot be created and written at `path`, or None if it can."""
    probe = path.expanduser().absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def _check(path: str, key: str) -> None:
    why = unwritable(Path(path))
    if why:
        print(f"ganrun: error: cannot create the run folder {path}: {why}; set {key} to a writable "
              f"folder or run ganrun from one", file=sys.stderr, flush=True)
        sys.exit(2)


class GanrunCallbacks(Callback):
    def __init__(self) -> None:
        self.job_dirs: list[Path] = []

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        resume = config.get("resume")
        if resume and resume != "auto" and not Path(resume).expanduser().exists():
            # before Hydra creates a folder for a run that cannot start
            print(f"ganrun: error: resume={resume}: no such run folder or checkpoint file",
                  file=sys.stderr, flush=True)
            sys.exit(2)
        _check(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(config.hydra.sweep.dir, "hydra.sweep.dir")

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        # Jobs resumed with resume=auto live in their first sweep's folder: remember each one.
        self.job_dirs.append(Path(config.hydra.runtime.output_dir))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ganrun.report import find_runs, report

        sweep = Path(config.hydra.sweep.dir)
        runs = sorted({d for d in self.job_dirs if (d / "metrics.json").is_file()}) or find_runs(sweep)
        table = report(sweep, runs)
        if table:
            log.info("comparison of the sweep's runs (mean ± std over seeds), also in %s:\n%s",
                     sweep / "report.md", table)
