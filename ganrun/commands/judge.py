"""Judging samples made anywhere, ganrun's or another program's, with ganrun's own metrics.

    ganrun-eval samples.npy --dataset digits                  # images (N, C, H, W) in [-1, 1]
    ganrun-eval pngs/ --dataset digits --class 7              # a folder of images, all drawn for class 7
    ganrun-eval points.npy --dataset ring                     # 2-D points (N, 2)

The samples are measured exactly as a run's own are (ganrun/metrics: the dataset's kind picks the
metrics, on the same real data, classifier and protocol), so a reference script's samples and a
ganrun run's can be set side by side (bench/peers.py). Besides the samples, optional arrays of the
same length say what each sample was drawn for; for `x.npy` they are found beside it by name:

| file | what | gives |
|---|---|---|
| `x_labels.npy` (or `--labels`, or `--class K`) | the class each sample was drawn for | `cond_acc`, `intra_fd` |
| `x_codes.npy` (or `--codes`) | an InfoGAN categorical code per sample | `code_acc` |
| `x_reverse.npy`, `x_reconstruction.npy`, `x_reverse_reconstruction.npy` | CycleGAN: B -> A, A -> B -> A, B -> A -> B | `cycle_A`, `cycle_B`, `class_kept_BA`, `fd_A` |

Image-to-image samples are the translations of the dataset's first N held-out inputs, in order
(what a run's evaluation translates). Samples are in the data's own units: images in [-1, 1].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ganrun.data import Batch
from ganrun.errors import ConfigError, GanrunError
from ganrun.runfiles import regular_file

log = logging.getLogger(__name__)
COMPANIONS = ("labels", "codes", "reverse", "reconstruction", "reverse_reconstruction")
RANGE_SLACK = 1e-3
MIN_SAMPLES = 10          # as eval.n's lower bound: fewer say nothing about a distribution


@dataclass
class Samples:
    x: Tensor                              # data units, as read
    extra: dict[str, Tensor]               # companions: labels, codes, reverse, ...
    source: str                            # what was read, for the protocol


def read_array(path: Path, what: str) -> np.ndarray:
    """A numeric .npy array of at least one dimension (never a pickle)."""
    if not path.exists():
        raise GanrunError(f"{what} {path}: no such file")
    if path.is_dir():
        raise GanrunError(f"{what} {path}: a folder; give a .npy file")
    if not regular_file(path):
        raise GanrunError(f"{what} {path}: not a regular file (a FIFO or a device); give a .npy file")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as e:
        raise GanrunError(f"{what} {path}: not a readable .npy array ({str(e).splitlines()[0]})") from None
    if not isinstance(array, np.ndarray):          # np.savez's archive, whatever its name
        array.close()
        raise GanrunError(f"{what} {path}: a .npz archive of several arrays; give one array saved with np.save")
    if array.ndim == 0:
        raise GanrunError(f"{what} {path}: a single number; give an array of one entry per sample")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise GanrunError(f"{what} {path}: an array of {array.dtype}; give numbers")
    return array


def read_images(folder: Path, channels: int) -> Tensor:
    """Every image under `folder` (sorted by path), at the size of the first one, in [-1, 1]."""
    from PIL import Image

    from ganrun.data.images import IMAGE_EXTENSIONS, find_images, load_image
    from ganrun.pixels import to_unit_range

    files = find_images(folder)
    if not files:
        raise GanrunError(f"{folder}: the folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    try:
        with Image.open(files[0]) as first:
            size = min(first.size)
        images = [load_image(f, size, channels) for f in files]
    except Exception as e:
        raise GanrunError(f"unreadable image in {folder}: {str(e).splitlines()[0]}") from None
    return to_unit_range(torch.stack(images))


def read_samples(path: Path, flags: dict[str, Optional[str]], channels: int) -> Samples:
    """The samples at `path` (a .npy array or a folder of images) and their companions: the files
    given in `flags` ({"labels": PATH, ...}), else those named <stem>_<what>.npy beside a .npy."""
    if path.is_dir():
        x = read_images(path, channels)
        source = f"{len(x)} images read from {path}"
    elif path.suffix.lower() == ".npy":
        x = torch.from_numpy(read_array(path, "samples").astype(np.float32))
        source = f"{len(x)} samples read from {path}"
    else:
        raise GanrunError(f"{path}: give samples as a .npy array or a folder of images (or a run folder / "
                          f"checkpoint without --dataset)")
    extra = {}
    for what in COMPANIONS:
        given = flags.get(what)
        beside = path.with_name(f"{path.stem}_{what}.npy") if path.suffix.lower() == ".npy" else None
        file = Path(given) if given else beside if beside is not None and beside.is_file() else None
        if file is None:
            continue
        array = read_array(file, f"--{what.replace('_', '-')}" if given else what)
        if len(array) != len(x):
            raise GanrunError(f"{file}: {len(array)} entries for {len(x)} samples; one per sample")
        if what in ("labels", "codes") and array.ndim != 1:
            raise GanrunError(f"{file}: an array of shape {tuple(array.shape)}; give one whole number per sample "
                              f"(shape ({len(x)},))")
        if what not in ("labels", "codes") and array.ndim != x.dim():
            raise GanrunError(f"{file}: an array of shape {tuple(array.shape)} beside samples of shape "
                              f"{tuple(x.shape)}; give images as the samples are, (N, C, H, W)")
        extra[what] = torch.from_numpy(array.astype(np.int64 if what in ("labels", "codes") else np.float32))
    return Samples(x, extra, source)


def check_values(x: Tensor, what: str, images: bool) -> None:
    if not bool(torch.isfinite(x).all()):
        raise GanrunError(f"{what}: holds NaN or infinite values")
    if images and len(x) and float(x.abs().max()) > 1 + RANGE_SLACK:
        raise GanrunError(f"{what}: values span [{float(x.min()):.4g}, {float(x.max()):.4g}]; give images in "
                          f"[-1, 1] (pixels p in 0..255 as p / 127.5 - 1)")


def dataset_config(name: str, overrides: list[str]):
    """The run config that `ganrun dataset=<name> <overrides>` would compose: the dataset's keys and
    the evaluation defaults of a run."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from ganrun.config import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="ganrun.conf", version_base="1.3"):
        return compose(config_name="config", overrides=[f"dataset={name}", *overrides])


def image_size(path: Path) -> Optional[int]:
    """The side of the samples' images (a 4-d array's last axis, a folder's first image), else None."""
    if path.is_dir():
        from PIL import Image

        from ganrun.data.images import find_images

        files = find_images(path)
        if not files:
            return None
        try:
            with Image.open(files[0]) as first:
                return min(first.size)
        except Exception:
            return None
    if not regular_file(path):
        return None
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception:
        return None
    if not isinstance(array, np.ndarray):
        array.close()             # np.savez's archive under a .npy name: read_array says so
        return None
    if array.ndim != 4:
        return None
    if array.shape[-1] in (1, 3) and array.shape[1] not in (1, 3):
        raise GanrunError(f"{path}: images of shape {tuple(array.shape[1:])}, channels last; give (N, C, H, W) "
                          f"(numpy: x.transpose(0, 3, 1, 2))")
    return int(array.shape[-1])


def samples_batch(samples: Samples, data, label: Optional[int]) -> Batch:
    """The samples as the Batch a run's evaluation measures (model space, on the data's device)."""
    from ganrun.kinds import KINDS

    kind = KINDS[data.kind]
    x, extra, device = samples.x, samples.extra, data.device
    if tuple(x.shape[1:]) != tuple(data.shape):
        shape = "one number each" if x.dim() == 1 else f"shape {tuple(x.shape[1:])}"
        raise GanrunError(f"samples of {shape}; dataset={data.name} has samples of shape {tuple(data.shape)}")
    check_values(x, "samples", kind.image_like)
    to_model = getattr(data, "to_model", lambda v: v)
    y = extra.get("labels")
    if label is not None:
        y = torch.full((len(x),), label, dtype=torch.long)
    if y is not None and (not data.num_classes or int(y.min()) < 0 or int(y.max()) >= data.num_classes):
        raise GanrunError(f"class labels must be 0-{data.num_classes - 1} (dataset={data.name})" if data.num_classes
                          else f"dataset={data.name} has no classes: leave --class and labels out")
    code = extra.get("codes")
    if code is not None and int(code.min()) < 0:
        raise GanrunError("InfoGAN codes must be 0 or more")
    if data.kind in ("paired", "unpaired"):
        return translations_batch(samples, data)
    return Batch(to_model(x).to(device), y.to(device) if y is not None else None,
                 code.to(device) if code is not None else None)


def translations_batch(samples: Samples, data) -> Batch:
    """Translations of the first N held-out inputs, with their inputs and targets (as a run's
    evaluation builds them, ganrun/games/translation.py)."""
    held = data.heldout() or data
    n = len(samples.x)
    ref = held.reference(n)
    if len(ref) < n:
        raise GanrunError(f"{n} translations, but dataset={data.name} has {len(ref)} held-out inputs")
    dev = data.device
    for what in ("reverse", "reconstruction", "reverse_reconstruction"):
        if what in samples.extra:
            check_values(samples.extra[what], what, True)
    x = samples.x.to(dev)
    if data.kind == "paired":
        return Batch(x, ref.y, source=ref.source, target=ref.x)
    reverse = None
    if "reverse" in samples.extra:
        back = samples.extra.get("reverse_reconstruction")
        reverse = Batch(samples.extra["reverse"].to(dev), ref.y_target, source=ref.x,
                        reconstruction=back.to(dev) if back is not None else None)
    again = samples.extra.get("reconstruction")
    return Batch(x, ref.y, source=ref.source, reconstruction=again.to(dev) if again is not None else None,
                 reverse=reverse)


def judge(path: Path, dataset: str, flags: dict, label: Optional[str], device: str, eval_overrides: list[str],
          data_root: Optional[str] = None) -> tuple[dict, dict, int]:
    """(values, protocol, n) of the samples at `path` against `dataset`, as a run's evaluation measures."""
    from ganrun.config import check_ranges, check_required, make
    from ganrun.builder import resolve_device
    from ganrun.metrics import Evaluator
    from ganrun.commands.sample import class_index

    cfg = dataset_config(dataset, ([f"dataset.root={data_root}"] if data_root else []) + eval_overrides)
    size = image_size(path)
    if size is not None and "resolution" in cfg.dataset:
        cfg.dataset.resolution = size          # the samples' own size (checked with the dataset's range)
    check_required(cfg.dataset, prefix="dataset.")
    check_ranges(cfg)
    dev = resolve_device(device)
    data = make("dataset", cfg.dataset, device=dev)
    samples = read_samples(path, flags, data.shape[0] if len(data.shape) == 3 else 3)
    if samples.x.dim() == 1 and tuple(data.shape) == (1,):        # a 1-D density's samples as a flat array
        samples.x = samples.x[:, None]
    if label is not None and not data.num_classes:
        raise ConfigError(f"--class {label}: dataset={data.name} has no classes")
    index = class_index(label, data.class_names, True, owner=f"dataset={data.name}")
    batch = samples_batch(samples, data, index)
    if len(batch) < MIN_SAMPLES:
        raise GanrunError(f"{path}: {len(batch)} samples; give at least {MIN_SAMPLES} (the metrics compare "
                          f"distributions: a run's evaluation draws 2 500)")
    cfg.eval.n = len(batch)
    evaluator = Evaluator(cfg.eval, data, dev)
    values, protocol = evaluator(lambda n, seed, truncation=None: batch)
    drawn = f", all drawn for class {index}" if index is not None else ""
    return values, {"samples": samples.source + drawn, **protocol}, len(batch)
