"""Steps per second of one run trained by one process and by torchrun with several processes
(data-parallel, gloo on CPU / nccl on GPUs; ganrun/distributed.py), measured in the same run.

    python bench/ddp_speed.py                       # ring MLP, 2 processes
    python bench/ddp_speed.py --procs 2 --steps 3000 --case digits

With P processes a step trains on P x train.batch_size samples, so the figure that matters is
samples/s: P processes are worth it when they train more samples per second than one. Each
figure is the training loop's own time, (T(2N) - T(N)) / N from metrics.json's wall_s of two
runs, so start-up, the final picture, checkpoint and evaluation cancel out; median of repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = {"ring": ["dataset=ring", "model=mlp"], "digits": ["dataset=digits"]}
QUIET = ["quiet=true", "train.sample_every=1000000", "train.ckpt_every=1000000", "train.log_every=100",
         "eval.n=100", "eval.classifier=false", "eval.memorisation=false"]


def wall(procs: int, steps: int, case: list[str], root: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=root))
    args = [*case, *QUIET, f"train.steps={steps}", f"hydra.run.dir={out}"]
    if procs == 1:
        cmd = [sys.executable, "-m", "ganrun", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
               "-m", "ganrun", *args]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // procs))}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"run failed: {' '.join(cmd)}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads((out / "metrics.json").read_text())["wall_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--case", choices=sorted(CASES), default="ring")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    per_step = {1: [], args.procs: []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for p in per_step:
                t1, t2 = wall(p, args.steps, CASES[args.case], Path(tmp)), wall(p, 2 * args.steps, CASES[args.case],
                                                                                 Path(tmp))
                per_step[p].append((t2 - t1) / args.steps)
    one, many = statistics.median(per_step[1]), statistics.median(per_step[args.procs])
    print(f"{args.case}, batch 64 per process, {os.cpu_count()} cores, median of {args.repeats}:")
    print(f"  1 process      {1 / one:8.1f} steps/s  {64 / one:9.0f} samples/s")
    print(f"  {args.procs} processes    {1 / many:8.1f} steps/s  {64 * args.procs / many:9.0f} samples/s")
    print(f"  steps/s ratio {one / many:.2f}, samples/s ratio {args.procs * one / many:.2f} ({args.procs} processes / 1)")


if __name__ == "__main__":
    main()
