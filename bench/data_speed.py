"""Images per second of each image pipeline against the images per second training consumes,
measured in the same run.

    python bench/data_speed.py                   # digits, a 64 px JPEG and a PNG folder (~2.5 min, 2 CPU cores)
    python bench/data_speed.py --files 3000 --repeats 5
    python bench/data_speed.py --workers 2       # the streamed folder with 2 DataLoader workers

Pipelines, each built through ganrun's dataset config, as a run builds it:
- digits: scikit-learn's digits held on the device (uint8), a batch is one indexing op;
- a folder of --files generated JPEGs (96 px, shown at 64 px: like dataset=anime) and one of
  64 px PNGs, each both held (decoded once at start-up: that one-time decode is shown too) and
  streamed (dataset.memory_limit_mb=0: decoded batch by batch by dataset.workers DataLoader
  worker processes, as a folder larger than the memory limit is);
- CIFAR-10, only when it is on this machine (under $GANRUN_DATA_DIR or data/); nothing is downloaded.
A pipeline's rate is train.batch_size x batches / seconds of `data.sample(batch)` alone, after
warm-up (workers started). The training step consumes train.batch_size x steps/s of ganrun's
game step for the matching model (DCGAN; the dataset's default widths), timed on held data so the
pipeline cannot slow it. The ratio pipeline / consumption must stay above 1 (the goal: the
pipeline is never the bottleneck). The pipeline alone gets the whole machine, which training
would share with it, so for the streamed folders the training step is also timed on the streamed
pipeline: steps/s streamed / held is the end-to-end answer (1.0: no cost). Each figure is the
median of --repeats, the measurements alternating within each repeat (the machine may be shared).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from hydra import compose, initialize_config_module

from ganrun.config import register_configs
from ganrun.builder import build


def make_folder(root: Path, n: int, size: int, ext: str, seed: int) -> Path:
    """n smooth random RGB images (coloured blobs and a little noise: they compress like photos)."""
    from PIL import Image

    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        small = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
        img = np.asarray(small.resize((size, size), Image.BICUBIC), dtype=np.int16)
        img = np.clip(img + rng.integers(-8, 9, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / f"{i:06d}.{ext}", **({"quality": 90} if ext == "jpg" else {}))
    return root


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def pipeline_images_per_s(data, batch: int, seconds: float) -> float:
    """batch x batches / time of data.sample(batch) alone, after warm-up."""
    for _ in range(3):
        data.sample(batch)
    sync(data.device)
    n, t0 = 0, time.perf_counter()
    while True:
        data.sample(batch)
        n += 1
        if n % 5 == 0:
            sync(data.device)
            took = time.perf_counter() - t0
            if took >= seconds:
                return n * batch / took


def train_steps_per_s(exp, steps: int) -> float:
    """ganrun's game step (data drawn from exp's pipeline), timed after 3 warm-up steps."""
    for k in range(1, 4):
        exp.game.step(k)
    sync(exp.device)
    t0 = time.perf_counter()
    for k in range(4, 4 + steps):
        exp.game.step(k)
    sync(exp.device)
    return steps / (time.perf_counter() - t0)


def release(exp) -> None:
    """Stop a streamed dataset's worker processes now (they would linger until collected)."""
    it = getattr(exp.data, "_iterator", None)
    if it is not None and hasattr(it, "_shutdown_workers"):
        it._shutdown_workers()
    del exp
    gc.collect()


def build_timing_decode(cfg):
    """build(cfg), and the seconds spent decoding image files to hold them (0 for other data)."""
    from ganrun.data import images

    spent = [0.0]
    decode_all = images.decode_all

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return decode_all(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t0

    with mock.patch.object(images, "decode_all", timed):
        exp = build(cfg)
    return exp, spent[0]


def cifar10_present() -> Path | None:
    root = Path(os.environ.get("GANRUN_DATA_DIR", "data")).expanduser()
    return root if (root / "cifar-10-batches-py").is_dir() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=1500, help="images per generated folder")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None, help="dataset.workers (default: the config's)")
    ap.add_argument("--seconds", type=float, default=2.0, help="how long each pipeline is read per measurement")
    ap.add_argument("--steps", type=int, default=None, help="training steps timed (default: per model)")
    args = ap.parse_args()
    register_configs()
    # dataset.workers above the CPU count: the DataLoader warns once per start (noted below instead).
    warnings.filterwarnings("ignore", message=r"This DataLoader will create")
    note = ""
    common = ["quiet=true", "train.batch_size=64"]
    with initialize_config_module(config_module="ganrun.conf", version_base="1.3"), \
            tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        jpg = make_folder(Path(tmp) / "jpeg96", args.files, 96, "jpg", 0)
        png = make_folder(Path(tmp) / "png64", args.files, 64, "png", 1)
        print(f"generated {args.files} 96 px JPEGs and {args.files} 64 px PNGs in {time.perf_counter() - t0:.1f} s")
        workers = [f"dataset.workers={args.workers}"] if args.workers is not None else []
        # name: (config overrides, training steps timed, streamed counterpart's overrides or None)
        cases = {"digits 32px (held)": (["dataset=digits"], args.steps or 12, None)}
        for label, folder in (("JPEG 96->64px", jpg), ("PNG 64px", png)):
            over = ["dataset=folder", f"dataset.root={folder}", "dataset.resolution=64", *workers]
            cases[f"folder {label}"] = (over, args.steps or 3, over + ["dataset.memory_limit_mb=0"])
        cifar = cifar10_present()
        if cifar is None:
            print("CIFAR-10: skipped: not on this machine (no cifar-10-batches-py under $GANRUN_DATA_DIR or "
                  "data/); this bench downloads nothing")
        else:
            cases["cifar10 32px (held)"] = (["dataset=cifar10", f"dataset.root={cifar}", "dataset.download=false"],
                                            args.steps or 12, None)
        device = None
        print(f"{'pipeline':34s} {'pipeline img/s':>15s} {'train img/s':>12s} {'pipeline/train':>15s} "
              f"{'train on it':>12s}")
        for name, (over, steps, streamed) in cases.items():
            cfg = compose(config_name="config", overrides=common + over)
            B = cfg.train.batch_size
            held, decode_s = build_timing_decode(cfg)
            device = held.device
            rates = {"held": [], "train": [], "streamed": [], "train_streamed": []}
            s_cfg = compose(config_name="config", overrides=common + streamed) if streamed else None
            for _ in range(args.repeats):
                rates["held"].append(pipeline_images_per_s(held.data, B, args.seconds))
                rates["train"].append(B * train_steps_per_s(held, steps))
                if s_cfg is not None:
                    exp = build(s_cfg)
                    rates["streamed"].append(pipeline_images_per_s(exp.data, B, args.seconds))
                    release(exp)
                    exp = build(s_cfg)
                    rates["train_streamed"].append(B * train_steps_per_s(exp, steps))
                    release(exp)
            med = statistics.median
            train_rate = med(rates["train"])
            model = f"{cfg.model.type} {cfg.model.g_width}/{cfg.model.d_width}"
            decoded = f"; {len(held.data)} files decoded at start-up at {len(held.data) / decode_s:.0f} img/s" \
                if decode_s else ""
            print(f"{name + ', held':34s} {med(rates['held']):15.0f} {train_rate:12.0f} "
                  f"{med(rates['held']) / train_rate:14.0f}x {'':>12s}   ({model}, batch {B}{decoded})", flush=True)
            if s_cfg is not None:
                n_workers = s_cfg.dataset.workers
                if n_workers > (os.cpu_count() or 1):
                    note = f"dataset.workers={n_workers} on {os.cpu_count()} CPUs (torch's DataLoader warns)"
                print(f"{name + f', streamed ({n_workers} workers)':34s} {med(rates['streamed']):15.0f} "
                      f"{train_rate:12.0f} {med(rates['streamed']) / train_rate:14.1f}x "
                      f"{med([s / h for s, h in zip(rates['train_streamed'], rates['train'])]):11.2f}x", flush=True)
            release(held)
        print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{os.cpu_count()} CPUs; median of {args.repeats}; 'train on it': training steps/s on the "
              f"streamed pipeline / on the same images held" + (f"; {note}" if note else ""))


if __name__ == "__main__":
    main()
