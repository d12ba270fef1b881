"""The logging window of the training loop: each update's loss terms, kept on the device, and
their means read with one sync when a log line is due."""

from __future__ import annotations

import math
import re
from typing import Optional

import torch
from torch import Tensor

from ganrun.terms import Later, Terms, values

WATCHED = ("loss/D", "loss/G")   # the totals: any non-finite term makes them non-finite too
TERM = re.compile(r"[A-Za-z0-9_./-]{1,80}")     # what a logged term's name may be


class RunningMeans:
    """The logging window: each update's terms, kept on the device; `pop()` reads their means with
    one sync.

    A term is kept as the update gave it (detached), and its per-update values are computed for the
    whole window at once when the window is settled (at every logging, checkpoint or evaluation
    step): a training step pays a detach and a list append per term. Settled values, not sums, are
    what a checkpoint holds, so a resumed run logs the same means as an uninterrupted one. The first
    step at which a watched loss was not finite is found when the window is settled, so divergence is
    caught at the next schedule without a per-step sync.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.step = 0                               # the training step the next terms belong to
        self.pending: dict[str, list] = {}          # this window's terms, not yet computed
        self.settled: dict[str, list[Tensor]] = {}  # per-update values [n] already computed
        self.counts: dict[str, int] = {}            # updates seen per term in this window
        self.steps: dict[str, list[int]] = {k: [] for k in WATCHED}   # the step of each watched value
        self.first_bad: dict[str, int] = {}         # watched term -> first step it was not finite

    def add(self, terms: Terms) -> None:
        for k, v in terms.items():
            kept = self.pending.get(k)
            if kept is None:
                kept = self.pending[k] = []
            kept.append(v if isinstance(v, Later) else v.detach())
            self.counts[k] = self.counts.get(k, 0) + 1
            if k in self.steps:
                self.steps[k].append(self.step)

    def settle(self) -> None:
        """Compute the pending terms' per-update values (on the device, no sync)."""
        for k, items in self.pending.items():
            self.settled.setdefault(k, []).append(values(items))
        self.pending = {}

    def window(self, k: str) -> Tensor:
        parts = self.settled[k]
        if len(parts) > 1:
            self.settled[k] = parts = [torch.cat(parts)]
        return parts[0]

    def pop(self) -> dict[str, float]:
        self.settle()
        if not self.settled:
            return {}
        keys = list(self.settled)
        sums = torch.stack([self.window(k).sum() for k in keys]).tolist()
        means = {k: v / self.counts[k] for k, v in zip(keys, sums)}
        self.note_first_bad({k: means[k] for k in WATCHED if k in means})
        self.settled, self.counts = {}, {}
        self.steps = {k: [] for k in WATCHED}
        return means

    def divergence(self) -> Optional[tuple[str, int]]:
        """(watched loss, first step) if a watched loss was not finite, else None (one sync)."""
        self.settle()
        watched = [k for k in WATCHED if k in self.settled]
        if watched:
            sums = torch.stack([self.window(k).sum() for k in watched]).tolist()
            self.note_first_bad(dict(zip(watched, sums)))
        return min(self.first_bad.items(), key=lambda ks: ks[1]) if self.first_bad else None

    def note_first_bad(self, sums: dict[str, float]) -> None:
        """A sum is finite only when every value in it is: look for the first bad one only then."""
        for k, total in sums.items():
            if k not in self.first_bad and not math.isfinite(total):
                bad = (~torch.isfinite(self.window(k))).nonzero()
                if len(bad):                # (finite values whose float32 sum overflowed are not a divergence)
                    self.first_bad[k] = self.steps[k][int(bad[0, 0])]

    def state_dict(self) -> dict:
        self.settle()
        return {"values": {k: self.window(k) for k in self.settled}, "counts": dict(self.counts),
                "step": self.step, "steps": {k: list(v) for k, v in self.steps.items()},
                "first_bad": dict(self.first_bad)}

    def load_state_dict(self, state: dict) -> None:
        legacy = "sums" in state
        if legacy:                     # written before ganrun kept per-update values: each sum is one value
            state = {"values": {k: v.reshape(1) for k, v in state["sums"].items()}, "counts": state["counts"],
                     "step": int(state["step"]), "first_bad": {k: int(v) for k, v in state["first_bad"].items()
                                                               if int(v) >= 0}}
            state["steps"] = {k: [state["step"]] * (k in state["values"]) for k in WATCHED}
        values, counts = state["values"], state["counts"]
        # A term's name is printed in the log and TensorBoard; its values are one per update counted.
        for k, v in values.items():
            if not (isinstance(k, str) and TERM.fullmatch(k)):
                raise ValueError(f"a logged term named {str(k)[:40]!r}")
            one_each = legacy or counts.get(k) == len(v)
            if not (isinstance(v, Tensor) and v.dim() == 1 and v.is_floating_point() and one_each):
                raise ValueError(f"the values of {k} are not one number per counted update")
        if set(counts) != set(values):
            raise ValueError("its counts are not those of its values")
        self.pending = {}
        self.settled = {k: [v.to(self.device)] for k, v in values.items()}
        self.counts = {k: int(n) for k, n in counts.items()}
        self.step = int(state["step"])
        self.steps = {k: [int(s) for s in state["steps"].get(k, [])] for k in WATCHED}
        self.first_bad = {k: int(v) for k, v in state["first_bad"].items() if k in WATCHED}
        if self.step < 0 or any(not 0 <= v <= self.step for v in self.first_bad.values()):
            raise ValueError("its steps are out of range")
