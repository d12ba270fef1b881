"""Hydra callbacks (hydra.callbacks in ganrun/conf/config.yaml): the comparison table at the
end of every sweep (ganrun/report.py), which also tells the command which jobs failed.

(Hydra turns an exception raised in a callback into a warning, so checks that must stop a
run happen before Hydra starts: ganrun/commands/run.py `preflight`.)"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

log = logging.getLogger("ganrun")
JOBS_FILE = ".joblist"    # the sweep's job folders, one per line
# The jobs of the last sweep that failed ("folder: error"), for the command's exit status:
# Hydra's multirun returns nothing to its caller, so the end-of-sweep hook leaves them here.
_failed: list[str] = []


def take_failed_jobs() -> list[str]:
    """The failed jobs of the sweep that just ended (and forget them)."""
    failed = list(_failed)
    _failed.clear()
    return failed


class GanrunCallbacks(Callback):
    def __init__(self) -> None:
        self.job_dirs: list[Path] = []

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # A sweep folder given again (hydra.sweep.dir=...) keeps an earlier sweep's list: start afresh.
        (Path(config.hydra.sweep.dir) / JOBS_FILE).unlink(missing_ok=True)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        # Jobs resumed with resume=auto live in their first sweep's folder: remember each one.
        # A parallel launcher runs jobs (and this hook) in worker processes, so the folder is
        # also appended to a list in the sweep folder, which the sweep's own process reads.
        job_dir = Path(config.hydra.runtime.output_dir)
        self.job_dirs.append(job_dir)
        if config.hydra.mode == RunMode.MULTIRUN:
            append_job(Path(config.hydra.sweep.dir), job_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from ganrun.report import find_runs, report
        from ganrun.runfiles import read_metrics

        sweep = Path(config.hydra.sweep.dir)
        job_dirs = self.job_dirs + listed_jobs(sweep)
        runs = sorted({d for d in job_dirs if (d / "metrics.json").is_file()}) or find_runs(sweep)
        table = report(sweep, runs)
        if table:
            log.info("comparison of the sweep's runs (mean ± std over seeds), also in %s:\n%s",
                     sweep / "report.md", table)
        for run in runs:
            try:
                status = read_metrics(run)
            except ValueError:
                continue
            if status.get("status") == "failed":
                _failed.append(f"{run.name}: {status.get('error')}")


def append_job(sweep: Path, job_dir: Path) -> None:
    """Add a job's folder to the sweep's list, never through a link (the list would be written
    wherever the link points)."""
    try:
        fd = os.open(sweep / JOBS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as e:
        log.warning("not listing job %s in %s (%s): a link or an unwritable file", job_dir, sweep / JOBS_FILE,
                    e.strerror or e)
        return
    with os.fdopen(fd, "a") as f:
        f.write(f"{job_dir.absolute()}\n")


def listed_jobs(sweep: Path) -> list[Path]:
    """The job folders that the sweep's list names and that are this sweep's: folders inside the sweep
    folder, or runs that a job of this sweep resumed (resume=auto), whose resume record names the
    sweep. Anything else in the list (a stale or crafted line) is left out, and a list that is a
    link is not read."""
    from ganrun.runfiles import StoredFileError, read_text

    path = sweep / JOBS_FILE
    if path.is_symlink():
        log.warning("ignoring %s: it is a link, not the list this sweep wrote", path)
        return []
    try:
        lines = read_text(path).splitlines()
    except FileNotFoundError:
        return []
    except (OSError, StoredFileError) as e:
        log.warning("ignoring %s (%s)", path, e)
        return []
    root = sweep.resolve()
    jobs = []
    for line in filter(None, lines):
        job = Path(line)
        if not job.is_absolute() or job.is_symlink() or not job.is_dir():
            continue
        resolved = job.resolve()
        if (resolved != root and resolved.is_relative_to(root)) or resumed_by(resolved, root):
            jobs.append(job)
        else:
            log.warning("%s names %s, which is not a job of this sweep: left out of its report", path, job)
    return jobs


def resumed_by(run: Path, sweep: Path) -> bool:
    """Whether a job of this sweep resumed the run in `run` (resume=auto): a ganrun run folder whose
    resume record (.hydra/resumed-*/) was made after the sweep began (its multirun.yaml)."""
    try:
        began = (sweep / "multirun.yaml").stat().st_mtime
        if not (run / "config.json").is_file():
            return False
        return any(record.stat().st_mtime >= began for record in run.glob(".hydra/resumed-*"))
    except OSError:
        return False
