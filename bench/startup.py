"""Start-up time of the `ganrun` command: answers that train nothing against a run's first step.

    python bench/startup.py                      # 5 repeats of each
    python bench/startup.py --repeats 9

Each figure is the wall time of a fresh process started from here, as a shell starts it (the
console script next to this Python), the median of --repeats alternating measurements (the
machine may be shared). `ganrun --help`, `ganrun --cfg job` and an override typo import no
torch, so they are compared with `python -c "import torch"`, measured in the same run. The first
training step is a whole `ganrun train.steps=1` run of the default experiment (digits, DCGAN)
with the end-of-run evaluation cut to a minimum; it is compared with a process that only imports
torch and ganrun and builds the same experiment (data, G, D, optimizers), so the ratio is what
the command costs on top of building what it trains.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
GANRUN = [str(BIN / "ganrun")] if (BIN / "ganrun").is_file() else \
    [sys.executable, "-c", "import sys; from ganrun.commands.run import main; sys.argv[0] = 'ganrun'; main()"]
# One training step of the default experiment; pictures, checkpoints and metrics as few as allowed.
ONE_STEP = ["train.steps=1", "quiet=true", "train.sample_every=100000", "eval.n=10", "eval.classifier=false",
            "eval.memorisation=false", "eval.inception=false"]
BUILD = """
from hydra import compose, initialize_config_module
import torch
from ganrun.config import register_configs
from ganrun.builder import build
register_configs()
with initialize_config_module(config_module="ganrun.conf", version_base="1.3"):
    build(compose(config_name="config", overrides={overrides!r}))
"""


def seconds(cmd: list[str], expect_rc: int, expect_text: str, cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != expect_rc or expect_text not in done.stdout + done.stderr:
        sys.exit(f"{' '.join(cmd)}: exit {done.returncode}, expected {expect_rc} and {expect_text!r}:\n"
                 f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = iter(range(10 ** 6))
        cases = {   # name: (a fresh command line each time, exit status, text its output must hold)
            'python -c "import torch"': (lambda: [sys.executable, "-c", "import torch"], 0, ""),
            "import torch, build the experiment": (
                lambda: [sys.executable, "-c", BUILD.format(overrides=ONE_STEP)], 0, ""),
            "ganrun --help": (lambda: GANRUN + ["--help"], 0, "Config groups"),
            "ganrun --cfg job": (lambda: GANRUN + ["--cfg", "job"], 0, "batch_size"),
            "ganrun --cfg job dataset=ring loss=wgan_gp": (
                lambda: GANRUN + ["--cfg", "job", "dataset=ring", "loss=wgan_gp"], 0, "gp_weight"),
            "ganrun trian.steps=5 (a typo)": (lambda: GANRUN + ["trian.steps=5"], 2, "did you mean train.steps"),
            "ganrun train.steps=1 (to the first step)": (
                lambda: GANRUN + ONE_STEP + [f"hydra.run.dir={root / f'run{next(runs)}'}"], 0, ""),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, (cmd, rc, text) in cases.items():
                times[name].append(seconds(cmd(), rc, text, root))
    median = {name: statistics.median(t) for name, t in times.items()}
    torch_s, build_s = median['python -c "import torch"'], median["import torch, build the experiment"]
    print(f"{'command (median of ' + str(args.repeats) + ')':44s} {'seconds':>8s}  ratio")
    for name, s in median.items():
        if name.startswith("ganrun train.steps=1"):
            ratio = f"{s / build_s:5.2f}x import torch + build"
        elif name.startswith("ganrun"):
            ratio = f"{s / torch_s:5.2f}x import torch"
        else:
            ratio = "(baseline)"
        print(f"{name:44s} {s:8.2f}  {ratio}", flush=True)


if __name__ == "__main__":
    main()
