"""Wall time of the same sweep with Hydra's basic launcher (one job after another) and with
ganrun's parallel preset (hydra/launcher=parallel: jobs side by side, cores shared), measured in
the same run.

    python bench/sweep_speed.py                  # 4 toy jobs, 2 at once
    python bench/sweep_speed.py --jobs 4 --steps 3000 --repeats 3

Each sweep is a fresh `ganrun -m` process (what a user types), timed from the shell to its
report. The basic launcher's jobs each use every core (torch's default threads); the parallel
preset's jobs use cores / n_jobs threads each. Prints the medians and basic / parallel, the
speed-up (above 1: the parallel launcher is faster).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GANRUN = [sys.executable, "-c", "import sys; from ganrun.commands.run import main; sys.argv[0] = 'ganrun'; main()"]


def sweep_seconds(extra: list[str], steps: int, jobs: int, root: Path) -> float:
    out = Path(tempfile.mkdtemp(dir=root))
    seeds = ",".join(str(s) for s in range(jobs))
    cmd = GANRUN + ["-m", "dataset=ring", "model=mlp", f"train.steps={steps}", f"seed={seeds}", "quiet=true",
                    "eval.n=2000", f"hydra.sweep.dir={out}", *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0 or not (out / "report.md").is_file():
        sys.exit(f"sweep failed ({' '.join(extra) or 'basic launcher'}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=4, help="jobs in the sweep (seeds of one setting)")
    ap.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1, help="jobs at once in the parallel preset")
    ap.add_argument("--steps", type=int, default=2000, help="training steps per job")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    env_threads = os.environ.get("OMP_NUM_THREADS")
    if env_threads:
        print(f"note: OMP_NUM_THREADS={env_threads} is set; the basic launcher's jobs use that many threads")
    parallel = ["hydra/launcher=parallel", f"hydra.launcher.n_jobs={args.n_jobs}"]
    basic, par = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):               # alternate, so a noisy neighbour hits both
            basic.append(sweep_seconds([], args.steps, args.jobs, Path(tmp)))
            par.append(sweep_seconds(parallel, args.steps, args.jobs, Path(tmp)))
    b, p = statistics.median(basic), statistics.median(par)
    print(f"{args.jobs} jobs of {args.steps} steps (ring MLP), {os.cpu_count()} cores, median of {args.repeats}:")
    print(f"  basic launcher (one at a time)       {b:7.1f} s")
    print(f"  hydra/launcher=parallel, n_jobs={args.n_jobs:<3} {p:7.1f} s")
    print(f"  speed-up basic / parallel            {b / p:7.2f}x")


if __name__ == "__main__":
    main()
