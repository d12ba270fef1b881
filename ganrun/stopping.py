"""What ends a run early: stop signals (Ctrl-C, SLURM's SIGTERM, submitit's preemption signal),
and the run folder being removed while the loop runs."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Callable, Optional

log = logging.getLogger("ganrun.loop")


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
        # A signal can arrive while the main thread is inside a write to stderr or the log file:
        # logging or print() here would write to the same buffered stream again ("reentrant call",
        # a "--- Logging error ---" traceback, seen under load). So the line is logged from a thread
        # of its own, which waits for the main thread's write to end; the last words before
        # os._exit go straight to file descriptor 2.
        name = signal.Signals(signum).name
        if self.signum is not None:
            _say(f"\nganrun: second {name}: exiting now, without a checkpoint\n")
            os._exit(128 + signum)
        self.signum = signum
        self.arrived_after_save = True
        threading.Thread(target=log.warning, daemon=True,
                         args=("%s: saving a checkpoint at the end of this step, then stopping "
                               "(send it again to exit at once)", name)).start()

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


def _say(text: str) -> None:
    """Write to stderr's file descriptor without Python's buffers (safe inside a signal handler)."""
    try:
        os.write(sys.stderr.fileno(), text.encode(errors="replace"))
    except (OSError, ValueError):
        pass


@contextlib.contextmanager
def run_folder_watch(folder_gone: Callable[[], bool]):
    """While training: if the run folder is removed, TensorBoard's writer thread fails to write
    and would print a traceback; the loop says it in one line at its next schedule instead."""
    previous = threading.excepthook

    def hook(args):
        if folder_gone():
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous
