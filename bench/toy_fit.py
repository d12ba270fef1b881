"""How well each loss fits the 1-D Gaussian N(4, 0.5^2) with its preset and no other override.

    python bench/toy_fit.py                      # every loss, seeds 0 1 2
    python bench/toy_fit.py --losses ns wgan_gp --seeds 0 1 2 3

Prints mean, std, the 1-D Wasserstein distance to the target (2 500 samples) and wall time
per run, and the pass rate against the bounds of the issue (|mean - 4| < 0.2,
|std - 0.5| < 0.2, W1 <= 0.15). Single-threaded, so figures compare across machines of a kind.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_module
from scipy.stats import norm

from ganrun.config import register_configs
from ganrun.trained import load_trained
from ganrun.loop import train

LOSSES = ["mm", "ns", "wgan", "wgan_gp", "lsgan", "dragan", "began", "hinge", "rsgan", "ragan"]


def w1_to_normal(x: np.ndarray, mean: float, std: float) -> float:
    n = len(x)
    return float(np.abs(np.sort(x) - norm.ppf((np.arange(n) + 0.5) / n, loc=mean, scale=std)).mean())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--losses", nargs="+", default=LOSSES)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = p.parse_args()
    torch.set_num_threads(1)
    register_configs()
    print(f"{'loss':8s} {'seed':>4s} {'steps':>6s} {'mean':>7s} {'std':>6s} {'W1':>6s} {'s':>5s}  ok")
    passed = total = 0
    with initialize_config_module(config_module="ganrun.conf", version_base="1.3"), \
            tempfile.TemporaryDirectory() as tmp:
        for loss in args.losses:
            for seed in args.seeds:
                cfg = compose(config_name="config", overrides=[
                    "dataset=gaussian1d", "model=mlp", f"loss={loss}", f"seed={seed}", "quiet=true",
                    "device=cpu"])
                run = Path(tmp) / f"{loss}_{seed}"
                t0 = time.perf_counter()
                train(cfg, run)
                wall = time.perf_counter() - t0
                trained = load_trained(run, "cpu")
                x = trained.data.to_data(trained.generate(2500, seed=0)).numpy().ravel()
                w1 = w1_to_normal(x, 4.0, 0.5)
                ok = abs(x.mean() - 4) < 0.2 and abs(x.std() - 0.5) < 0.2 and w1 <= 0.15
                passed, total = passed + ok, total + 1
                print(f"{loss:8s} {seed:4d} {cfg.train.steps:6d} {x.mean():7.3f} {x.std():6.3f} {w1:6.3f} "
                      f"{wall:5.1f}  {'yes' if ok else 'NO'}", flush=True)
    print(f"fitted {passed}/{total}")
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
