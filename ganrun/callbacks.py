"""Hydra callbacks (hydra.callbacks in ganrun/conf/config.yaml): checks before Hydra creates
a run or sweep folder, so that a folder ganrun cannot write to is one clear line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


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
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _check(config.hydra.sweep.dir, "hydra.sweep.dir")
