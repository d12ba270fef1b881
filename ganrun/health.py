"""The training-health monitor: cheap signals of a run going wrong, and plain-language warnings.

Signals (TensorBoard health/*, on the logging schedule; all computed on the device, read with
the loss means):
- health/grad_<player>: the gradient norm of each player's updates (G, D, ...) in the logging
  step (the others' norms are not taken: a norm per update costs about 4% of a small MLP's step);
- health/d_acc_real, health/d_acc_fake: the share of real samples D scores above 0 and of fakes
  below 0 (losses with a logit or critic score; not BEGAN's reconstruction errors);
- health/r_t: E[sign D(x_real)], the overfitting signal of Karras et al. 2020 (ADA);
- health/r_heldout, health/r_gap: the same on held-out real images, where the data has a
  held-out split, and the gap r_t - r_heldout;
and at evaluations (eval.every), the mode coverage (modes, or classes_covered) and dup_rate.

A warning is said once per kind, on the console, in TensorBoard (text, tag health) and in
metrics.json ("warnings": step, kind, message), when a signal crosses its threshold:

| kind | when |
|---|---|
| d_won | D tells real from fake on more than 99% of both, `WINDOWS` logging windows running |
| modes_dropped | the mode coverage falls to 75% or less of its best (and by 2 or more) |
| overfit | r_gap above 0.3 (D scores its training images far more "real" than held-out ones), `WINDOWS` windows running |
| frozen | loss/D and loss/G change by less than 1e-6 (relative), `FROZEN_WINDOWS` windows running |
| duplicates | dup_rate 0.5 or more: half the birthday-test batches hold a near-copy pair |

Nothing is said during the first `WARMUP` (10%) of the run's steps, when an untrained G's samples
are all alike and D wins easily.

`train.stop_on`: `none` (default), `collapse` (stop on d_won, modes_dropped or duplicates), or
`any`; the run then ends early with its final evaluation and "status": "stopped_early" and the
reason in metrics.json (a sweep goes on with its other jobs).
"""

from __future__ import annotations

from typing import Optional

WARMUP = 0.1             # share of train.steps before anything is said
WINDOWS = 3              # consecutive logging windows a sustained signal must last
FROZEN_WINDOWS = 5
D_WON = 0.99
MODES_KEPT = 0.75
OVERFIT_GAP = 0.3
FROZEN = 1e-6
DUPLICATES = 0.5
COLLAPSE = ("d_won", "modes_dropped", "duplicates")


class HealthMonitor:
    """Reads the logged means and the evaluation values; returns new warnings. Its counters are
    part of the checkpoint (exact resume keeps the same warnings)."""

    def __init__(self, stop_on: str = "none", steps: int = 0):
        self.stop_on = stop_on
        self.quiet_until = int(WARMUP * steps)
        self.said: list[dict] = []
        self.streaks = {"d_won": 0, "overfit": 0, "frozen": 0}
        self.best_modes: Optional[float] = None
        self.best_step = 0
        self.previous: Optional[tuple[float, float]] = None

    # -- what the loop calls --------------------------------------------------
    def on_log(self, step: int, means: dict) -> list[dict]:
        found = []
        won = means.get("health/d_acc_real", 0) > D_WON and means.get("health/d_acc_fake", 0) > D_WON
        if self._sustained("d_won", won, WINDOWS):
            found.append(("d_won", f"D has won: it tells real from fake on over {D_WON:.0%} of both for "
                                   f"{WINDOWS} logging windows, so G's gradient has vanished (try another loss, "
                                   f"a slower D, instance noise or label smoothing)"))
        gap = means.get("health/r_gap")
        if self._sustained("overfit", gap is not None and gap > OVERFIT_GAP, WINDOWS):
            found.append(("overfit", f"D overfits the training set: it scores training images as real far more "
                                     f"often than held-out ones (r_gap {gap:.2f} > {OVERFIT_GAP}); more data, "
                                     f"augmentation or a smaller D help"))
        losses = (means.get("loss/D"), means.get("loss/G"))
        frozen = False
        if None not in losses and self.previous is not None:
            frozen = all(abs(a - b) <= FROZEN * max(1.0, abs(b)) for a, b in zip(losses, self.previous))
        if None not in losses:
            self.previous = losses
        if self._sustained("frozen", frozen, FROZEN_WINDOWS):
            found.append(("frozen", f"losses frozen: loss/D and loss/G have not moved for {FROZEN_WINDOWS} "
                                    f"logging windows (dead units, a zero learning rate, or saturated D)"))
        return self._new(step, found)

    def on_eval(self, step: int, values: dict) -> list[dict]:
        found = []
        modes = values.get("modes", values.get("classes_covered"))
        if modes is not None:
            if self.best_modes is None or modes > self.best_modes:
                self.best_modes, self.best_step = modes, step
            elif modes <= MODES_KEPT * self.best_modes and self.best_modes - modes >= 2:
                found.append(("modes_dropped", f"modes dropped from {self.best_modes:g} to {modes:g} since step "
                                               f"{self.best_step}: mode collapse (PacGAN packing, MIX+GAN or "
                                               f"another loss may help)"))
        dup = values.get("dup_rate")
        if dup is not None and dup >= DUPLICATES:
            found.append(("duplicates", f"samples repeat: {dup:.0%} of birthday-test batches hold a near-copy "
                                        f"pair (dup_rate), a sign of collapse"))
        return self._new(step, found)

    def stop_reason(self, warnings: list[dict]) -> Optional[str]:
        """The warning that train.stop_on makes fatal, if any."""
        for w in warnings:
            if self.stop_on == "any" or (self.stop_on == "collapse" and w["kind"] in COLLAPSE):
                return w["message"]
        return None

    # -- state ----------------------------------------------------------------
    def _sustained(self, kind: str, now: bool, needed: int) -> bool:
        self.streaks[kind] = self.streaks[kind] + 1 if now else 0
        return self.streaks[kind] >= needed

    def _new(self, step: int, found: list[tuple[str, str]]) -> list[dict]:
        if step <= self.quiet_until:
            return []
        said = {w["kind"] for w in self.said}
        new = [{"step": step, "kind": kind, "message": message} for kind, message in found if kind not in said]
        self.said.extend(new)
        return new

    def state_dict(self) -> dict:
        return {"said": list(self.said), "streaks": dict(self.streaks), "best_modes": self.best_modes,
                "best_step": self.best_step, "previous": list(self.previous) if self.previous else None}

    def load_state_dict(self, state: dict) -> None:
        """Each value as the monitor keeps it (a file's odd types fail here, not at a later step)."""
        self.said = [{"step": int(w["step"]), "kind": str(w["kind"]), "message": str(w["message"])}
                     for w in state["said"]]
        if set(state["streaks"]) != set(self.streaks):
            raise ValueError(f"its streaks are {sorted(map(str, state['streaks']))}, not {sorted(self.streaks)}")
        self.streaks = {k: int(v) for k, v in state["streaks"].items()}
        best = state["best_modes"]
        self.best_modes, self.best_step = (None if best is None else float(best)), int(state["best_step"])
        previous = state["previous"]
        self.previous = (float(previous[0]), float(previous[1])) if previous else None
