"""What every peer script shares: the command line, seeding, ganrun's data, the output files.

Nothing here trains anything. The data comes from ganrun's own dataset registry (the only
part of ganrun the peers use), so a peer and ganrun see the very same images and points.

    --steps N        generator updates to train for
    --batch-size B   default: the reference script's own
    --seed S         seeds torch, numpy and random (and the DataLoader's shuffling)
    --n M            samples to save after training (default 2500)
    --out DIR        where samples.npy (+ samples_labels.npy / samples_codes.npy / ...) and run.json go
    --threads T      torch.set_num_threads (default 1)
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ganrun.config import make


def parse_args(description: str, batch_size: int, extra=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--steps", type=int, required=True, help="generator updates")
    p.add_argument("--batch-size", type=int, default=batch_size, help="default: the reference's own")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=2500, help="samples to save")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=1)
    if extra is not None:
        extra(p)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    return args


def dataset(spec: dict):
    """One of ganrun's datasets, e.g. {"type": "digits", "resolution": 32} (ganrun/data/: each dataset's schema)."""
    return make("dataset", spec, device="cpu")


def loader(tensors, batch_size: int, seed: int) -> DataLoader:
    """Shuffled epochs over fixed tensors, as the reference scripts iterate their loaders."""
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=True, drop_last=True,
                      generator=torch.Generator().manual_seed(seed))


def batches(data: DataLoader, steps: int):
    """(epoch, batch) pairs over as many epochs as `steps` batches need."""
    done, epoch = 0, 0
    while True:
        for batch in data:
            if done == steps:
                return
            yield epoch, batch
            done += 1
        epoch += 1


class Timer:
    """Wall time of the training loop only: `with timer:` around it."""
    seconds = 0.0

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._start


def save(args: argparse.Namespace, system: str, reference: str, seconds: float, extra: dict | None = None,
         **arrays) -> None:
    """samples.npy (float32) and any other arrays (labels/codes int64), plus run.json (+ `extra` keys)."""
    args.out.mkdir(parents=True, exist_ok=True)
    for name, value in arrays.items():
        value = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
        dtype = np.int64 if name in ("labels", "codes") else np.float32
        # samples.npy and what each sample was drawn for beside it (samples_labels.npy, ...), the names
        # `ganrun-eval samples.npy --dataset NAME` looks for
        np.save(args.out / ("samples.npy" if name == "samples" else f"samples_{name}.npy"), value.astype(dtype))
    info = {"system": system, "steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
            "train_seconds": round(seconds, 3), "reference": reference, **(extra or {})}
    (args.out / "run.json").write_text(json.dumps(info, indent=2) + "\n")
