"""Refactor check: the same seed and config give the same numbers before and after a change.

    python tools/same_numbers.py --save /tmp/before        # on the old code
    python tools/same_numbers.py --save /tmp/after --against /tmp/before   # on the new code

Runs a set of small configs across losses, tricks and datasets through the `ganrun` command
(so it works across internal refactors) and compares every number in each metrics.json
(wall_s aside) to 1e-6. Exit status 1 if any differs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
COMMON = ["quiet=true", "device=cpu", "train.log_every=7", "train.sample_every=20", "train.ckpt_every=15",
          "eval.n=300"]
TOY = ["train.steps=40", "train.batch_size=32"]
IMG = ["train.steps=12", "train.batch_size=16", "model.g_width=8", "model.d_width=8",
       "dataset_node.resolution=16"]

CONFIGS = {
    "ring_ns": ["dataset=ring", *TOY],
    "ring_mm_tricks": ["dataset=ring", "loss=mm", *TOY, "tricks.ema=0.9", "tricks.replay=0.5",
                       "tricks.replay_size=64", "tricks.instance_noise=0.1", "tricks.noisy_labels=true",
                       "tricks.label_flip=0.1", "train.lr_schedule=linear"],
    "ring_pack": ["dataset=ring", *TOY, "tricks.pack=4", "tricks.label_smoothing=0.1"],
    "grid_wgan": ["dataset=grid", "loss=wgan", *TOY],
    "grid_wgan_gp": ["dataset=grid", "loss=wgan_gp", *TOY, "tricks.prior=uniform"],
    "g1d_dragan": ["dataset=gaussian1d", "loss=dragan", *TOY],
    "g1d_began": ["dataset=gaussian1d", "loss=began", *TOY],
    "g1d_hinge": ["dataset=gaussian1d", "loss=hinge", *TOY, "eval.every=10"],
    "sine_rsgan": ["dataset=sine", "loss=rsgan", *TOY, "tricks.joint_batches=true"],
    "sine_notes": ["experiment=notes_sine", *TOY],
    "ring_ragan_sn": ["dataset=ring", "loss=ragan", *TOY, "tricks.spectral_norm=true"],
    "ring_lsgan_skip": ["dataset=ring", "loss=lsgan", *TOY, "train.nonfinite=skip", "train.n_critic=2"],
    "digits_ns": ["dataset=digits", *IMG],
    "digits_wgan_gp_ema": ["dataset=digits", "loss=wgan_gp", *IMG, "tricks.ema=0.5", "train.n_critic=2"],
    "digits_began": ["dataset=digits", "loss=began", *IMG],
    "digits_bf16": ["dataset=digits", *IMG, "device.precision=bf16"],
    "digits_fp16_lsgan": ["dataset=digits", "loss=lsgan", *IMG, "device.precision=fp16"],
    "digits_mlp_pack": ["dataset=digits", "model=mlp", *IMG[:2], "dataset_node.resolution=8", "tricks.pack=2"],
    "folder_held": ["dataset=folder", "dataset_node.root=FOLDER", "dataset_node.channels=1", *IMG,
                    "dataset_node.workers=0"],
    "folder_streamed": ["dataset=folder", "dataset_node.root=FOLDER", "dataset_node.channels=3", *IMG[:2],
                        "dataset_node.resolution=8", "dataset_node.workers=0", "dataset_node.memory_limit_mb=0",
                        "model=mlp"],
    # the games beside the classic one, and the phases' repeats
    "ring_g_steps": ["dataset=ring", *TOY, "train.g_steps=2", "tricks.ema=0.9"],
    "ring_mixgan": ["dataset=ring", "game=mixgan", *TOY, "train.n_critic=2"],
    "digits_ada": ["dataset=digits", *IMG, "tricks.diffaug=color,translation", "tricks.ada=true",
                   "tricks.ada_interval=2"],
    "digits_cgan": ["dataset=digits", "game=conditional", *IMG],
    "digits_acgan": ["dataset=digits", "game=conditional", "game.form=acgan", *IMG, "train.n_critic=2"],
    "digits_projection": ["dataset=digits", "game=conditional", "game.form=projection", *IMG],
    "digits_infogan": ["experiment=infogan", *IMG, "train.g_steps=2"],
    "pix2pix": ["experiment=pix2pix", "train.steps=6", "train.batch_size=4", "model.g_width=8", "model.d_width=8",
                "eval.n=40"],
    "cyclegan": ["experiment=cyclegan", "train.steps=6", "train.batch_size=2", "model.g_width=4", "model.d_width=4",
                 "eval.n=40"],
}


def make_folder(root: Path) -> Path:
    from PIL import Image

    folder = root / "images"
    if folder.is_dir():
        return folder
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (folder / cls).mkdir(parents=True)
        for i in range(24):
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(folder / cls / f"{i}.png")
    return folder


def dataset_node() -> str:
    """`dataset` once the config node is named after its group, `data` before."""
    out = subprocess.run([str(BIN / "ganrun"), "--cfg", "job", "dataset=ring"], capture_output=True, text=True)
    return "dataset" if "\ndataset:" in "\n" + out.stdout else "data"


def numbers(tree, prefix=""):
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if k in ("wall_s", "protocol", "warnings"):
                continue
            out.update(numbers(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--save", required=True)
    p.add_argument("--against")
    p.add_argument("--only", nargs="*")
    args = p.parse_args()
    out = Path(args.save).resolve()
    out.mkdir(parents=True, exist_ok=True)
    folder = make_folder(out)
    node = dataset_node()
    env = {**os.environ, "GANRUN_CACHE_DIR": str(out / "cache")}
    bad = 0
    for name, overrides in CONFIGS.items():
        if args.only and name not in args.only:
            continue
        run = out / name
        argv = [o.replace("dataset_node.", node + ".").replace("FOLDER", str(folder)) for o in overrides]
        proc = subprocess.run([str(BIN / "ganrun"), *COMMON, *argv, f"hydra.run.dir={run}"],
                              capture_output=True, text=True, env=env)
        if proc.returncode:
            print(f"{name}: FAILED\n{proc.stderr[-2000:]}")
            bad += 1
            continue
        metrics = numbers(json.loads((run / "metrics.json").read_text()))
        line = f"{name}: loss_d={metrics.get('loss_d')} loss_g={metrics.get('loss_g')}"
        if args.against:
            ref = numbers(json.loads((Path(args.against) / name / "metrics.json").read_text()))
            diffs = [k for k in ref.keys() | metrics.keys()
                     if not _same(ref.get(k), metrics.get(k))]
            line += "  same" if not diffs else f"  DIFFERS: {', '.join(f'{k} {ref.get(k)} -> {metrics.get(k)}' for k in sorted(diffs))}"
            bad += bool(diffs)
        print(line, flush=True)
    return 1 if bad else 0


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return a == b


if __name__ == "__main__":
    sys.exit(main())
