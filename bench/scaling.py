"""Steps per second and peak memory of training across image sizes and batch sizes.

    python bench/scaling.py               # 32, 64, 128 px x batch 16, 64, 256 (CPU: ~3 min on 2 cores)
    python bench/scaling.py --full        # batch 16, 32, 64, 128, 256 (the default on CUDA)
    python bench/scaling.py --res 64 --batch 32 128
    python bench/scaling.py --experiment sngan --res 32 --batch 64 128   # a preset on CIFAR-shaped data

Each case is one fresh process that builds the run through ganrun (digits resized to the size,
DCGAN with the standard widths 64/64, loss ns, Adam) and times ganrun's game step: one warm-up
step, then steps until at least --seconds have passed (at least --steps, default 1: a step
of 128 px at batch 256 takes about 25 s on 2 CPU cores). With --experiment (sngan, sagan,
biggan_cifar10, ...) each case builds that preset instead, with its own widths, loss and n_critic,
on a generated CIFAR-shaped folder (random 32x32 RGB images in 10 class folders, resized to the
size): a step is one G update after the preset's n_critic D updates, and img/s counts G's batches. Peak memory: on CUDA
torch.cuda.max_memory_allocated() in that process; on the CPU the peak resident set size of the
process (ru_maxrss of that child, from os.wait4: getrusage(RUSAGE_CHILDREN) gives the same for
one child at a time). The baselines, measured in the same run: for memory, a process per size that
builds the same run and trains nothing (imports, data, networks, optimizers), so "training"
is the peak above it; for speed, the first batch size at the same size ("x b16": images/s against batch 16's, by default).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL, FULL = (16, 64, 256), (16, 32, 64, 128, 256)
CHILD = "--child"


def overrides(res: int, batch: int, experiment: str = "", root: str = "") -> list[str]:
    if experiment:
        return [f"experiment={experiment}", "dataset=folder", f"dataset.root={root}", f"dataset.resolution={res}",
                f"train.batch_size={batch}", "quiet=true"]
    return ["dataset=digits", f"dataset.resolution={res}", "model=dcgan", "model.g_width=64", "model.d_width=64",
            f"train.batch_size={batch}", "quiet=true"]


def cifar_shaped(root: Path, per_class: int = 20) -> None:
    """Random 32x32 RGB images in 10 class folders: CIFAR-10's shape, made offline."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(10):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / f"class{c}" / f"{i}.png")


def child(res: int, batch: int, seconds: float, steps_at_least: int, experiment: str, root: str) -> None:
    """In the case's own process: build, train, print one JSON line."""
    import torch
    from hydra import compose, initialize_config_module

    from ganrun.config import register_configs
    from ganrun.builder import build

    register_configs()
    with initialize_config_module(config_module="ganrun.conf", version_base="1.3"):
        exp = build(compose(config_name="config", overrides=overrides(res, batch, experiment, root)))
    cuda = exp.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    out = {"device": str(exp.device), "steps": 0}
    if steps_at_least > 0:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        exp.game.step(1)
        sync()
        t0, k = time.perf_counter(), 1
        while k - 1 < steps_at_least or time.perf_counter() - t0 < seconds:
            k += 1
            exp.game.step(k)
            sync()
        out.update(steps=k - 1, steps_per_s=(k - 1) / (time.perf_counter() - t0))
    if cuda:
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
    print(json.dumps(out))


def run_case(res: int, batch: int, seconds: float, steps: int, experiment: str = "", root: str = "") -> dict:
    """One case in a fresh process: its JSON line, with its peak RSS in MB."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, CHILD, str(res), str(batch), str(seconds), str(steps),
                                 experiment, root], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read()
        if proc.returncode != 0:
            sys.exit(f"case {res} px, batch {batch} failed (exit {proc.returncode}):\n{err.read()[-3000:]}")
    result = json.loads(text.strip().splitlines()[-1])
    result["rss_mb"] = usage.ru_maxrss / 1024          # Linux: kilobytes
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        res, batch, seconds, steps, experiment, root = sys.argv[2:8]
        child(int(res), int(batch), float(seconds), int(steps), experiment, root)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help=f"batch sizes {FULL} (default on CPU: {SMALL})")
    ap.add_argument("--res", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--batch", type=int, nargs="+", help="batch sizes (overrides --full)")
    ap.add_argument("--seconds", type=float, default=2.0, help="time each case at least this long")
    ap.add_argument("--steps", type=int, default=1, help="and at least this many steps")
    ap.add_argument("--experiment", default="", help="a preset (sngan, sagan, biggan_cifar10) on CIFAR-shaped data")
    args = ap.parse_args()
    import torch

    cuda = torch.cuda.is_available()
    batches = args.batch or (FULL if args.full or cuda else SMALL)
    mem = "peak CUDA MB" if cuda else "peak RSS MB"
    print(f"torch {torch.__version__}, {'CUDA ' + torch.cuda.get_device_name() if cuda else 'CPU'}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
          f"{'experiment=' + args.experiment + ' on CIFAR-shaped data' if args.experiment else 'DCGAN on digits'}")
    with tempfile.TemporaryDirectory() as tmp:
        root = ""
        if args.experiment:
            root = str(Path(tmp) / "cifar_shaped")
            cifar_shaped(Path(root))
        table(args, batches, mem, args.experiment, root)


def table(args: argparse.Namespace, batches: tuple, mem: str, experiment: str, root: str) -> None:
    print(f"{'size':>5s} {'batch':>6s} {'steps':>6s} {'step/s':>8s} {'img/s':>8s} {'x b' + str(batches[0]):>6s} {mem:>13s} "
          f"{'training MB':>12s}")
    for res in args.res:
        base = run_case(res, batches[0], 0, 0, experiment, root)        # builds, trains nothing
        base_mem = base.get("cuda_peak_mb", base["rss_mb"])
        print(f"{res:5d} {'build':>6s} {'':>6s} {'':>8s} {'':>8s} {'':>6s} {base_mem:13.0f} {'':>12s}", flush=True)
        first = None
        for batch in batches:
            r = run_case(res, batch, args.seconds, args.steps, experiment, root)
            img_s = r["steps_per_s"] * batch
            first = first or img_s
            peak = r.get("cuda_peak_mb", r["rss_mb"])
            print(f"{res:5d} {batch:6d} {r['steps']:6d} {r['steps_per_s']:8.2f} {img_s:8.0f} {img_s / first:6.2f} "
                  f"{peak:13.0f} {peak - base_mem:12.0f}", flush=True)


if __name__ == "__main__":
    main()
