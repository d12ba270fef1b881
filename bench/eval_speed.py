"""Wall time of the end-of-run evaluation against the training time of the default job, measured
in the same run.

    python bench/eval_speed.py                 # default job (dcgan on digits), 3 repeats (~2 min, 2 CPU cores)
    python bench/eval_speed.py --steps 200 --repeats 5
    python bench/eval_speed.py --full          # train the default job's whole train.steps once instead

The default job is `ganrun` with no overrides (DCGAN on digits, 3000 steps; eval.n=2500 samples,
the digits classifier's metrics, the memorisation checks; Inception off on the CPU). Each repeat
is one `train()` run of that config cut to --steps (+11) steps, with its evaluation as configured:
the time per training step is taken inside the run (from the end of step 10 to the end of step
10 + --steps, logging included), and the evaluation is timed where the run does it: building the
Evaluator (at the start: the classifier loaded from its cache or trained, the real data's
features and statistics, the memorisation references) and calling it (at the end: eval.n samples
drawn and measured). The ratio is (build + call) / (train.steps x time per step), the share of a
whole default run spent evaluating (the goal: at most 10%); --full measures the whole training
instead of extrapolating it. The classifier cache starts empty in a temporary eval.cache_dir:
the first run trains the classifier (once per dataset and size, shown apart), the repeats load it.

Then `ganrun-eval RUN` (the command, in a fresh process) re-evaluates the last run's checkpoint
with the same settings; its wall time is compared with the in-run evaluation. The Inception
metrics (FID, IS, KID) are measured only when their weights are on this machine (torch's hub
cache or $GANRUN_INCEPTION_WEIGHTS); nothing is downloaded. Each figure is the median of
--repeats (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from unittest import mock

import torch
from hydra import compose, initialize_config_module

from ganrun.config import register_configs
from ganrun.metrics import Evaluator
from ganrun.loop import Schedules, train

BIN = Path(sys.executable).parent
WARMUP = 10


class Timers:
    """Wall times of the evaluation's parts, collected by patching them for one run."""

    def __init__(self):
        self.t: dict[str, float] = defaultdict(float)
        self.marks: dict[int, float] = {}

    def timed(self, name: str, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.t[name] += time.perf_counter() - t0
        return wrapper

    def patches(self, steps: int) -> list:
        from ganrun.metrics.classifier import ClassifierMetrics, load_or_train
        from ganrun.metrics.memorisation import Memorisation
        from ganrun.metrics import classifier, manifold

        timers, after_step = self, Schedules.after_step
        evaluator_init = Evaluator.__init__

        def init(ev, *args, **kwargs):
            t0 = time.perf_counter()
            evaluator_init(ev, *args, **kwargs)
            timers.t["build"] += time.perf_counter() - t0
            # each part of the call, by the class (or closure) that measures it
            ev.parts = [timers.timed(f"call: {part_name(p)}", p) for p in ev.parts]

        def marked(run, step, stop):
            out = after_step(run, step, stop)
            if step in (WARMUP, WARMUP + steps):
                if run.exp.device.type == "cuda":
                    torch.cuda.synchronize()
                timers.marks[step] = time.perf_counter()
            return out

        return [mock.patch.object(Evaluator, "__init__", init),
                mock.patch.object(Evaluator, "__call__", self.timed("call", Evaluator.__call__)),
                mock.patch.object(Schedules, "after_step", marked),
                mock.patch.object(classifier, "load_or_train", self.timed("build: classifier load/train", load_or_train)),
                mock.patch.object(ClassifierMetrics, "__init__",
                                  self.timed("build: classifier (+ real features, stats)", ClassifierMetrics.__init__)),
                mock.patch.object(manifold, "prdc_values",
                                  self.timed("call: ClassifierMetrics: precision/recall/density/coverage",
                                             manifold.prdc_values)),
                mock.patch.object(Memorisation, "__init__",
                                  self.timed("build: memorisation references", Memorisation.__init__))]


def part_name(part) -> str:
    if hasattr(part, "__self__"):
        return type(part.__self__).__name__
    if callable(part) and not hasattr(part, "__code__"):
        return type(part).__name__
    code = part.__code__
    names = [c.cell_contents for c in (part.__closure__ or ()) if hasattr(c.cell_contents, "__class__")]
    owner = next((type(n).__name__ for n in names if type(n).__module__.startswith("ganrun.metrics")), None)
    return owner or code.co_name


def one_run(overrides: list[str], steps: int, root: Path) -> tuple[dict, float, Path]:
    """(timings, seconds per training step, run folder) of one run of `steps` + WARMUP + 1 steps."""
    timers = Timers()
    cfg = compose(config_name="config", overrides=overrides + [f"train.steps={WARMUP + steps + 1}"])
    run_dir = root / f"run_{time.monotonic_ns()}"
    patches = timers.patches(steps)
    for p in patches:
        p.start()
    try:
        train(cfg, run_dir)
    finally:
        for p in reversed(patches):
            p.stop()
    return dict(timers.t), (timers.marks[WARMUP + steps] - timers.marks[WARMUP]) / steps, run_dir


def full_run(overrides: list[str], root: Path) -> tuple[dict, float, Path]:
    """The whole default job once: (timings, training seconds, run folder)."""
    timers = Timers()
    cfg = compose(config_name="config", overrides=overrides)
    run_dir = root / f"full_{time.monotonic_ns()}"
    patches = timers.patches(0)
    for p in patches:
        p.start()
    try:
        t0 = time.perf_counter()
        train(cfg, run_dir)
        total = time.perf_counter() - t0
    finally:
        for p in reversed(patches):
            p.stop()
    return dict(timers.t), total - timers.t["build"] - timers.t["call"], run_dir


def inception_weights() -> tuple[str | None, str]:
    """A local Inception weights file, or None and why not (nothing is downloaded)."""
    from ganrun.metrics.inception import hub_weights_path

    configured = os.environ.get("GANRUN_INCEPTION_WEIGHTS")
    for path in ([Path(configured)] if configured else []) + [hub_weights_path()]:
        if path.is_file():
            return str(path), ""
    return None, (f"no Inception weights on this machine ({hub_weights_path()} is missing and "
                  f"$GANRUN_INCEPTION_WEIGHTS is not set); this bench downloads nothing")


def ganrun_eval_s(run_dir: Path, cache: Path, extra: list[str]) -> float:
    cmd = [str(BIN / "ganrun-eval"), str(run_dir), "--cache-dir", str(cache), "--out",
           str(run_dir / f"eval_{time.monotonic_ns()}.json"), *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return wall


def show_parts(label: str, runs: list[dict]) -> None:
    keys = sorted({k for r in runs for k in r})
    print(f"  {label}")
    for k in keys:
        print(f"    {k:52s} {statistics.median([r.get(k, 0.0) for r in runs]):7.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=100, help="training steps timed per repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full", action="store_true", help="train the default job's whole train.steps once")
    ap.add_argument("overrides", nargs="*", help="config overrides (default: none, the default job)")
    args = ap.parse_args()
    register_configs()
    with initialize_config_module(config_module="ganrun.conf", version_base="1.3"), \
            tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp), Path(tmp) / "cache"
        base = list(args.overrides) + ["quiet=true", f"eval.cache_dir={cache}"]
        cfg = compose(config_name="config", overrides=base)
        default_steps, device = cfg.train.steps, None
        from ganrun.builder import resolve_device

        device = resolve_device(cfg.device.type)
        print(f"job: model={cfg.model.type} dataset={cfg.dataset.type} loss={cfg.loss.type}, "
              f"train.steps={default_steps}, eval.n={cfg.eval.n}, classifier={cfg.eval.classifier}, "
              f"memorisation={cfg.eval.memorisation}, inception={cfg.eval.inception}; {device}, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads")

        # The first run fills the empty cache: the classifier is trained there, once.
        cold, step_s, run_dir = one_run(base, args.steps, root)
        print(f"first run (empty cache): classifier trained in "
              f"{cold.get('build: classifier load/train', 0.0):.1f} s (once per dataset and size; cached in "
              f"eval.cache_dir/classifiers)")

        if args.full:
            t, train_s, run_dir = full_run(base, root)
            runs, evals, trains = [t], [t["build"] + t["call"]], [train_s]
            print(f"whole default job: training {train_s:.1f} s (loop, pictures, checkpoints), "
                  f"evaluation {evals[0]:.1f} s: {100 * evals[0] / train_s:.1f}% of training")
        else:
            runs, evals, trains = [], [], []
            for _ in range(args.repeats):
                t, step_s, run_dir = one_run(base, args.steps, root)
                runs.append(t)
                evals.append(t["build"] + t["call"])
                trains.append(default_steps * step_s)
            ratio = statistics.median([e / tr for e, tr in zip(evals, trains)])
            print(f"training: {statistics.median(trains) / default_steps * 1000:.1f} ms/step -> "
                  f"{statistics.median(trains):.0f} s for train.steps={default_steps} (extrapolated)")
            print(f"evaluation: {statistics.median(evals):.2f} s (build {statistics.median([r['build'] for r in runs]):.2f}"
                  f" + call {statistics.median([r['call'] for r in runs]):.2f})")
            print(f"evaluation / training: {100 * ratio:.1f}% (goal: <= 10%)")
        show_parts("where the evaluation's time goes (classifier cached):", runs)

        # ganrun-eval on the last run, alternating with nothing else: its in-run evaluation is the baseline.
        walls = [ganrun_eval_s(run_dir, cache, []) for _ in range(args.repeats)]
        in_run = statistics.median(evals)
        print(f"ganrun-eval RUN (fresh process, classifier cached): {statistics.median(walls):.2f} s, "
              f"{statistics.median(walls) / in_run:.2f}x the in-run evaluation ({in_run:.2f} s); the rest is "
              f"start-up (imports, checkpoint, data)")

        weights, why = inception_weights()
        if weights is None:
            print(f"Inception metrics: skipped: {why}")
        else:
            t0 = time.perf_counter()
            ganrun_eval_s(run_dir, cache, ["--inception", "on", "--inception-weights", weights])
            first = time.perf_counter() - t0
            again = ganrun_eval_s(run_dir, cache, ["--inception", "on", "--inception-weights", weights])
            print(f"ganrun-eval --inception on: {first:.1f} s the first time (real statistics computed and "
                  f"cached), {again:.1f} s from the cache")

        print("real-data caches: classifier weights: eval.cache_dir/classifiers/<dataset>-train-<C>x<R>x<R>-"
              "<classes>cls-<data digest>-v<N>.pt (dataset, size, the images and labels themselves, extractor "
              "version), its real features and held-out logits beside it (<same>-features.pt, checked against "
              "the classifier's weights; also kept in memory); Inception statistics: eval.cache_dir/torch-fidelity, "
              "keyed by dataset, split, size, count, data digest and weights hash; recomputed by every Evaluator: "
              "the Gaussian statistics of the cached features and the memorisation references (times above, "
              "'build: ...')")


if __name__ == "__main__":
    main()
