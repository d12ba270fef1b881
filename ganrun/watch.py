"""What the training loop watches while it runs: the logging window of loss means (kept on the
device), stop signals, and the run folder."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import torch

log = logging.getLogger("ganrun.train")

WATCHED = ("loss/D", "loss/G")   # the totals: any non-finite term makes them non-finite too


class RunningMeans:
    """Sums of detached scalars kept on the device; `pop()` reads them all with one sync.

    It also notes, on the device, the first step at which a watched loss was not finite,
    so divergence is caught at the next logging or checkpoint step without a per-step sync.
    """

    def __init__(self, device: torch.device):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.step = torch.zeros((), dtype=torch.long, device=device)
        self.first_bad = {k: torch.full((), -1, dtype=torch.long, device=device) for k in WATCHED}

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        for k, v in terms.items():
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1
            if k in self.first_bad:
                fresh = (self.first_bad[k] < 0) & ~torch.isfinite(v)
                self.first_bad[k] = torch.where(fresh, self.step, self.first_bad[k])

    def pop(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        values = torch.stack([self.sums[k] for k in keys]).tolist()
        means = {k: v / self.counts[k] for k, v in zip(keys, values)}
        self.sums, self.counts = {}, {}
        return means

    def divergence(self) -> Optional[tuple[str, int]]:
        """(watched loss, first step) if a watched loss was not finite, else None (one sync)."""
        steps = torch.stack(list(self.first_bad.values())).tolist()
        bad = [(k, s) for k, s in zip(self.first_bad, steps) if s >= 0]
        return min(bad, key=lambda ks: ks[1]) if bad else None

    def state_dict(self) -> dict:
        return {"sums": dict(self.sums), "counts": dict(self.counts), "step": self.step,
                "first_bad": dict(self.first_bad)}

    def load_state_dict(self, state: dict) -> None:
        device = self.step.device
        self.sums = {k: v.to(device) for k, v in state["sums"].items()}
        self.counts = dict(state["counts"])
        self.step = state["step"].to(device)
        self.first_bad = {k: v.to(self.step.device) for k, v in state["first_bad"].items()}


def preemption_signal() -> Optional[signal.Signals]:
    """Under submitit (hydra/launcher=slurm), the signal SLURM sends `signal_delay_s` before a
    job's time limit or preemption (USR2 unless SUBMITIT_PREEMPT_SIGNAL names another); submitit's
    handler for it requeues the job. None outside submitit."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return None
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2").upper()
    return getattr(signal, name if name.startswith("SIG") else "SIG" + name, None)


class StopSignals:
    """SIGINT and SIGTERM ask the loop to save a checkpoint and stop at the next step boundary; a
    second signal exits at once. Under submitit, its preemption signal does the same, and once
    the checkpoint is saved, submitit's own handler requeues the job (`pass_on`): the requeued job
    continues with resume=auto."""

    def __init__(self):
        self.signum: Optional[int] = None
        self.arrived_after_save = False     # set by a signal, cleared by each checkpoint save
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self.signum is not None:
            print(f"\nganrun: second {name}: exiting now, without a checkpoint", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.signum = signum
        self.arrived_after_save = True
        log.warning("%s: saving a checkpoint at the end of this step, then stopping "
                    "(send it again to exit at once)", name)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            preempt = preemption_signal()
            for s in (signal.SIGINT, signal.SIGTERM) + ((preempt,) if preempt else ()):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def pass_on(self) -> None:
        """After the checkpoint: hand a preemption signal to submitit's handler (which requeues the
        job and exits)."""
        previous = self._previous.get(self.signum)
        if self.signum == preemption_signal() and callable(previous):
            log.warning("checkpoint saved; submitit requeues the job (it continues with resume=auto)")
            previous(self.signum, None)

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def run_folder_watch(run_dir: Path):
    """While training: if the run folder is removed, TensorBoard's writer thread fails to write
    and would print a traceback; the loop says it in one line at its next schedule instead."""
    previous = threading.excepthook

    def hook(args):
        if not run_dir.is_dir():
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous
