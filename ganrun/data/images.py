"""Image datasets: scikit-learn's digits, folders of image files, and torchvision's sets.

Images are scaled to [-1, 1] (GAN_NOTES §5, trick 1). Small sets (digits, MNIST,
CIFAR-10, folders that fit in `dataset.memory_limit_mb`) are decoded once and held
on the training device as uint8, and a batch is one indexing op there. Larger
folders stream through a DataLoader with worker processes.

Labels come with the data where it has them: digits, MNIST, Fashion-MNIST, CIFAR-10, and a
folder whose images sit in one sub-folder per class (torchvision's ImageFolder convention:
the sub-folder names, sorted, are the classes).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, NamedTuple, Optional, Sequence
from urllib.parse import urlparse

import torch
from omegaconf import MISSING
from torch import Tensor

from ganrun import distributed
from ganrun.config import bounded, choice, name_field, path_field, register
from ganrun.data import Batch, BaseData, Dataset
from ganrun.errors import DataError
from ganrun.pixels import resize_batch, to_unit_range

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


# --------------------------------------------------------------------------- held on the device
class HeldImages(BaseData):
    """An image set held on the device as one uint8 tensor (and its labels), sampled by index.

    `heldout` loads the dataset's other split (test images), used by evaluation only.
    """

    kind = "images"

    def __init__(self, name: str, images: Tensor, labels: Optional[Tensor], device, split: str = "all",
                 heldout: Optional[Callable[[], Optional["HeldImages"]]] = None,
                 class_names: Sequence[str] = ()):
        super().__init__(name, device)
        if len(images) == 0:
            raise DataError(f"dataset {name} has no images")
        self.split = split
        self.images = images.to(self.device)
        self.labels = None if labels is None else labels.to(self.device)
        if self.labels is not None:
            self.class_names = list(class_names) or [str(c) for c in range(int(self.labels.max()) + 1)]
        self._heldout_loader = heldout
        self._heldout: list = []

    def heldout(self) -> Optional["HeldImages"]:
        if self._heldout_loader is None:
            return None
        if not self._heldout:
            self._heldout.append(self._heldout_loader())
        return self._heldout[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return len(self.images)

    def _batch(self, idx: Tensor) -> Batch:
        return Batch(to_unit_range(self.images[idx]), None if self.labels is None else self.labels[idx])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Batch:
        return self._batch(torch.randint(len(self.images), (n,), device=self.device, generator=generator))

    def reference(self, limit: Optional[int]) -> Batch:
        return self._batch(torch.arange(min(len(self.images), limit or len(self.images)), device=self.device))


def split_indices(n: int, split: str, test_fraction: float = 0.2) -> Tensor:
    """A fixed train/test split (seed 0) for datasets that ship without one."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    n_test = int(round(n * test_fraction))
    return {"train": perm[n_test:], "test": perm[:n_test], "all": torch.arange(n)}[split]


def digits(name: str, resolution: int, split: str, device) -> HeldImages:
    """scikit-learn's bundled handwritten digits: 1 797 real 8x8 images, labels 0-9, no download."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().div(16.0).mul(255).round().to(torch.uint8)[:, None]
    labels = torch.from_numpy(bunch.target).long()
    keep = split_indices(len(images), split)
    other = {"train": "test", "test": "train"}.get(split)
    heldout = (lambda: digits(name, resolution, other, device)) if other else None
    return HeldImages(name, resize_batch(images[keep], resolution), labels[keep], device, split, heldout,
                      class_names=[str(d) for d in range(10)])


@dataclass
class DigitsConfig:
    """scikit-learn's bundled 8x8 handwritten digits (1 797 images, 10 classes), resized."""
    kind: ClassVar[str] = "images"      # what a sample is (ganrun/kinds.py)
    type: str = "digits"
    name: str = name_field("digits")                # the data's name in cache files and metric keys
    resolution: int = bounded(32, ge=8, le=256)     # side in pixels (the 8x8 digits resized)
    split: str = choice("train", "test", "all")   # a fixed 80/20 split; metrics hold out `test`


register("dataset", DigitsConfig, digits)


# --------------------------------------------------------------------------- files on disk
def load_image(path: Path, resolution: int, channels: int) -> Tensor:
    """One image file -> uint8 (channels, resolution, resolution): shorter side resized, centre-cropped."""
    from PIL import Image
    from torchvision.transforms.v2 import functional as TF

    with Image.open(path) as img:
        img = to_8bit(img).convert("L" if channels == 1 else "RGB")
        img = TF.resize(img, resolution, antialias=True)
        img = TF.center_crop(img, resolution)
        return TF.pil_to_tensor(img)


def unreadable_folder(root: Path) -> Optional[str]:
    """The first folder under `root` (itself included) that cannot be listed, or None."""
    import os

    denied: list[str] = []
    for _ in os.walk(root, onerror=lambda e: denied.append(e.filename or str(root))):
        if denied:
            break
    return denied[0] if denied else None


def to_8bit(img):
    """16- and 32-bit grayscale images (16-bit PNGs open as "I;16" or "I") scaled to 8 bits.
    PIL's own convert("L") clips them at 255, which turns a 16-bit image white."""
    if img.mode not in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return img
    import numpy as np
    from PIL import Image

    # float32, scaled in place: a large 16-bit image costs 4 bytes a pixel here, not the 20 or so of
    # float64 with its temporaries (a 124 kB PNG can hold 64 million pixels)
    values = np.array(img, dtype=np.float32)          # a copy (a float image's own pixels are read-only)
    if img.mode == "F":
        top = 1.0 if values.max(initial=0) <= 1.0 else 255.0
    else:   # 16-bit data, whatever PIL calls it ("I" holds 16-bit PNGs in some versions)
        top = 65535.0 if img.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
    values *= np.float32(255.0 / top)
    np.clip(values, 0, 255, out=values)
    np.round(values, out=values)
    return Image.fromarray(values.astype(np.uint8), mode="L")


def find_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def check_readable(files: Sequence[Path], strict: bool, workers: int) -> list[Path]:
    """Drop files PIL cannot parse (strict: fail naming the first one); log how many were skipped."""
    from PIL import Image

    def problem(p: Path) -> Optional[str]:
        try:
            with Image.open(p) as img:
                img.verify()
            return None
        except Exception as e:   # PIL raises many types for bad files
            return _reason(e)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        problems = list(pool.map(problem, files))
    bad = [(p, why) for p, why in zip(files, problems) if why]
    if bad and strict:
        p, why = bad[0]
        raise DataError(f"unreadable image {p}: {why} (dataset.strict=true; remove the file or set "
                        f"dataset.strict=false to skip unreadable files)")
    if bad:
        log.warning("skipped %d unreadable image file(s), e.g. %s (%s)", len(bad), bad[0][0], bad[0][1])
    return [p for p, why in zip(files, problems) if not why]


def decode_all(files: Sequence[Path], resolution: int, channels: int, strict: bool,
               workers: int) -> tuple[Tensor, list[int]]:
    """Decode every file into one uint8 tensor, skipping (or, strict, refusing) files that fail;
    also the indices of the files kept."""
    def decode(p: Path):
        try:
            return load_image(p, resolution, channels)
        except Exception as e:
            if strict:
                raise DataError(f"unreadable image {p}: {_reason(e)} (dataset.strict=true)") from None
            return (p, _reason(e))

    with ThreadPoolExecutor(max(1, workers)) as pool:
        results = list(pool.map(decode, files))
    bad = [r for r in results if isinstance(r, tuple)]
    if bad:
        log.warning("skipped %d image file(s) that failed to decode, e.g. %s (%s)", len(bad), *bad[0])
    kept = [i for i, r in enumerate(results) if isinstance(r, Tensor)]
    if not kept:
        raise DataError("none of the image files could be decoded")
    return torch.stack([results[i] for i in kept]), kept


class FileImages(torch.utils.data.Dataset):
    """Files decoded on the fly (in DataLoader workers); a file that fails is replaced by the next
    (with `strict`, it stops the run naming the file). Items are (image, index of the file read)."""

    def __init__(self, files: Sequence[Path], resolution: int, channels: int, strict: bool = False):
        self.files, self.resolution, self.channels, self.strict = list(files), resolution, channels, strict

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        for k in range(len(self.files)):
            j = (i + k) % len(self.files)
            try:
                return load_image(self.files[j], self.resolution, self.channels), j
            except Exception as e:
                if self.strict:
                    raise DataError(f"unreadable image {self.files[j]}: {_reason(e)} (dataset.strict=true; "
                                    f"remove the file or set dataset.strict=false to skip unreadable "
                                    f"files)") from None
                log.warning("skipping unreadable image %s (%s)", self.files[j], _reason(e))
        raise DataError("none of the image files could be decoded")


def _from_worker(e: DataError) -> DataError:
    """A DataError raised in a DataLoader worker arrives with the worker's traceback as its
    message; keep the original line."""
    text = str(e).strip().splitlines()
    original = next((line.split("DataError: ", 1)[1] for line in reversed(text) if "DataError: " in line), None)
    return DataError(original) if original else e


class EndlessBatches(torch.utils.data.Sampler):
    """Index batches over endless epochs, each epoch a fresh permutation seeded by (seed, epoch).

    Starting at batch `start` reproduces exactly the batches a run would have drawn next,
    which is what a resumed run needs.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        if n // world < batch_size:
            raise DataError(f"the dataset has {n} images, fewer than train.batch_size={batch_size}"
                            + (f" per process ({world} processes)" if world > 1 else ""))
        self.n, self.batch_size, self.seed, self.start = n, batch_size, seed, start
        self.rank, self.world = rank, world      # several processes: each takes its share of every epoch
        self.per_epoch = n // world // batch_size

    def __iter__(self):
        b, epoch, perm = self.start, -1, None
        while True:
            e, i = divmod(b, self.per_epoch)
            if e != epoch:
                epoch = e
                perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + e))
                perm = perm[self.rank::self.world]
            yield perm[i * self.batch_size:(i + 1) * self.batch_size].tolist()
            b += 1


class StreamedImages(BaseData):
    """A large image set read from disk by DataLoader workers, batch by batch."""

    kind = "images"

    def __init__(self, name: str, files: Sequence[Path], labels: Optional[Tensor], class_names: Sequence[str],
                 resolution: int, channels: int, workers: int, device, strict: bool = False):
        super().__init__(name, device)
        self.files = FileImages(files, resolution, channels, strict)
        self.labels = labels
        self.class_names = list(class_names)
        # More worker processes than usable CPUs only compete for them (torch warns); the batches
        # are the same whatever their number (the order is fixed by the sampler, decoding is exact).
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if workers > cpus:
            log.info("dataset.workers=%d, but only %d CPU(s) are usable: streaming with %d worker process(es)",
                     workers, cpus, cpus)
        self.workers = min(workers, cpus)
        # The shuffling seed comes from the run's seeded RNG: same run seed, same data order.
        self.seed = int(torch.randint(2 ** 31 - 1, (1,)))
        self.batch_size: Optional[int] = None      # fixed by the first training draw
        self.batches_served = 0
        self._iterator = None

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.files.channels, self.files.resolution, self.files.resolution)

    def __len__(self) -> int:
        return len(self.files)

    def _start(self):
        loader = torch.utils.data.DataLoader(
            self.files, batch_sampler=EndlessBatches(len(self.files), self.batch_size, self.seed,
                                                     self.batches_served, distributed.rank(),
                                                     distributed.world_size()),
            num_workers=self.workers, pin_memory=self.device.type == "cuda",
            persistent_workers=self.workers > 0, prefetch_factor=4 if self.workers > 0 else None,
            # its own generator: starting the workers must not draw from the training RNG, or a
            # resumed run (which starts them at another step) would not continue exactly
            generator=torch.Generator().manual_seed(self.seed))
        return iter(loader)

    def _batch(self, images: Tensor, index: Tensor) -> Batch:
        y = None if self.labels is None else self.labels[index].to(self.device)
        return Batch(to_unit_range(images.to(self.device, non_blocking=True)), y)

    def _read(self, indices: list[int]) -> Batch:
        items = [self.files[i] for i in indices]
        return self._batch(torch.stack([image for image, _ in items]), torch.tensor([j for _, j in items]))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Batch:
        """With a generator: n random files read here (previews, metrics), leaving the training
        stream alone. Without: the next training batch from the workers."""
        if generator is not None:
            idx = torch.randint(len(self.files), (n,), generator=generator, device=generator.device)
            return self._read(idx.tolist())
        if self._iterator is None:
            self.batch_size = n
            self._iterator = self._start()
        if n != self.batch_size:
            raise ValueError(f"training batches are {self.batch_size} images; pass a generator for other sizes")
        try:
            images, index = next(self._iterator)
        except DataError as e:
            raise _from_worker(e) from None
        self.batches_served += 1
        return self._batch(images, index)

    def reference(self, limit: Optional[int]) -> Batch:
        """Distinct files (drawing with replacement would repeat some, and fake "duplicates")."""
        keep = torch.randperm(len(self.files), generator=torch.Generator().manual_seed(0))
        return self._read(keep[:limit].tolist())

    def state_dict(self) -> dict:
        return {"batches_served": self.batches_served}

    def load_state_dict(self, state: dict) -> None:
        served = state.get("batches_served", 0)
        if isinstance(served, bool) or not isinstance(served, int) or not 0 <= served < 2 ** 62:
            raise ValueError(f"its position {str(served)[:30]} is not a count of batches")
        self.batches_served = served
        self._iterator = None


def folder_classes(root: Path, files: Sequence[Path]) -> tuple[Optional[Tensor], list[str]]:
    """Labels by the ImageFolder convention: when every image lies under a sub-folder of `root`
    and there are at least two, each sub-folder (sorted by name) is a class. Else unlabelled."""
    tops = [f.relative_to(root).parts for f in files]
    if any(len(parts) < 2 for parts in tops):
        return None, []
    names = sorted({parts[0] for parts in tops})
    if len(names) < 2:
        return None, []
    index = {name: i for i, name in enumerate(names)}
    return torch.tensor([index[parts[0]] for parts in tops]), names


def images_from_files(name: str, files: Sequence[Path], resolution: int, channels: int, strict: bool,
                      workers: int, memory_limit_mb: int, device, root: Optional[Path] = None) -> Dataset:
    """Hold the files on the device when they fit in `memory_limit_mb`, else stream them; with a
    `root`, label them by their class sub-folders (folder_classes)."""
    files = check_readable(files, strict, workers)
    if not files:
        raise DataError(f"dataset {name}: every image file is unreadable")
    labels, class_names = folder_classes(root, files) if root is not None else (None, [])
    if class_names:
        log.info("%d classes from the sub-folders of %s: %s", len(class_names), root,
                 ", ".join(class_names[:10]) + (", ..." if len(class_names) > 10 else ""))
    size_mb = len(files) * channels * resolution * resolution / 2 ** 20
    if size_mb <= memory_limit_mb:
        log.info("decoding %d images (%.0f MB as uint8) to hold them on %s", len(files), size_mb, device)
        images, kept = decode_all(files, resolution, channels, strict, workers)
        return HeldImages(name, images, None if labels is None else labels[kept], device,
                          class_names=class_names)
    log.info("streaming %d images with %d workers (%.0f MB > dataset.memory_limit_mb=%d)",
             len(files), workers, size_mb, memory_limit_mb)
    return StreamedImages(name, files, labels, class_names, resolution, channels, workers, device, strict)


def folder(name: str, root: str, resolution: int, channels: int, strict: bool, workers: int,
           memory_limit_mb: int, missing_hint: str, device) -> Dataset:
    """Every image file under `root`, recursively (png, jpg, jpeg, webp, bmp)."""
    path = Path(root).expanduser()
    if not path.is_dir():
        hint = f" {missing_hint}" if missing_hint else " Set dataset.root=PATH to a folder of images."
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataError(f"dataset={name}: image folder {path} {what}.{hint}")
    files = find_images(path)
    if not files:
        denied = unreadable_folder(path)
        if denied:
            raise DataError(f"dataset={name}: cannot read the image folder {denied}: permission denied "
                            f"(give your user read access, or set dataset.root to another folder)")
        raise DataError(f"dataset={name}: no image files ({', '.join(IMAGE_EXTENSIONS)}) under {path}")
    return images_from_files(name, files, resolution, channels, strict, workers, memory_limit_mb, device, path)


@dataclass
class FolderConfig:
    """Every image under `root`, recursively (png, jpg, jpeg, webp, bmp)."""
    kind: ClassVar[str] = "images"      # what a sample is (ganrun/kinds.py)
    type: str = "folder"
    name: str = name_field("folder")                # the data's name in cache files and metric keys
    root: str = path_field(MISSING)                 # the image folder
    resolution: int = bounded(64, ge=8, le=1024)    # shorter side resized to this, then centre-cropped
    channels: int = bounded(3, one_of=(1, 3))   # 3 = RGB, 1 = grayscale
    strict: bool = False               # true: stop at the first unreadable file instead of skipping it
    workers: int = bounded(4, ge=0, le=256)    # decoding threads / DataLoader worker processes
    memory_limit_mb: int = bounded(1024, ge=0)   # hold the decoded set on the device up to this size
    missing_hint: str = ""             # what to tell the user when `root` does not exist


register("dataset", FolderConfig, folder)


# --------------------------------------------------------------------------- torchvision sets
def unreachable(url: str, timeout: float) -> Optional[str]:
    """None if a TCP connection to the URL's host opens within `timeout` seconds, else why not.

    The name lookup runs in a thread so that a resolver which never answers cannot hang the run.
    """
    parts = urlparse(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    outcome: list[Optional[str]] = ["no answer within %gs" % timeout]

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome[0] = None
        except OSError as e:
            outcome[0] = _reason(e)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1)
    return None if outcome[0] is None else f"no connection to {host} ({outcome[0]})"


class TorchvisionSet(NamedTuple):
    cls: str                            # its class in torchvision.datasets
    channels: int
    folder: str                         # where torchvision keeps it under dataset.root
    url: Optional[str]                  # the download server to check first (None: the class's own)
    splits: tuple[str, ...] = ("train", "test")


# The image sets that dataset.type=torchvision opens; a preset YAML (conf/dataset/mnist.yaml) names one.
TORCHVISION = {
    "mnist": TorchvisionSet("MNIST", 1, "MNIST/", None),
    "fashion_mnist": TorchvisionSet("FashionMNIST", 1, "FashionMNIST/", None),
    "cifar10": TorchvisionSet("CIFAR10", 3, "cifar-10-batches-py/", None),
    "celeba": TorchvisionSet("CelebA", 3, "celeba/", "https://drive.google.com", ("train", "valid", "test", "all")),
}


def _download_url(cls) -> str:
    mirrors = getattr(cls, "mirrors", None)
    if mirrors:
        return mirrors[0]
    return getattr(cls, "url", "https://download.pytorch.org")


def open_torchvision(name: str, root: Path, split: str, download: bool, timeout: float, **kwargs):
    """Open a torchvision dataset from `root`, downloading it only after checking the network answers."""
    import torchvision.datasets as tvd

    cls_name, _, folder_name, url, _ = TORCHVISION[name]
    cls = getattr(tvd, cls_name)
    split_kwargs = {"split": split} if name == "celeba" else {"train": split == "train"}
    where = root / folder_name
    try:
        return cls(str(root), download=False, **split_kwargs, **kwargs)
    except Exception as e:
        # torchvision says "Dataset not found (or corrupted)" or fails to open a file when the set is not
        # there (or incomplete): then download it. Any other error comes from files that are there but
        # do not read (cut or altered).
        if not (isinstance(e, OSError) or (isinstance(e, RuntimeError) and "not found" in str(e).lower())):
            raise DataError(f"dataset={name}: the files in {where} do not read ({_reason(e)}); delete that "
                            f"folder to download them again, or put intact files there") from None
    if not download:
        raise DataError(f"dataset={name} is not in {where} and dataset.download=false: put the files there "
                        f"or set dataset.download=true")
    why = unreachable(url or _download_url(cls), timeout)
    if why:
        raise DataError(f"dataset={name} is not in {where} and cannot be downloaded: {why}. On a machine "
                        f"with internet run `ganrun dataset={name} dataset.root=DIR` once, then copy "
                        f"DIR/{folder_name} to {where} (or set dataset.root to where it is)")
    log.info("downloading %s into %s", name, root)
    try:
        return cls(str(root), download=True, **split_kwargs, **kwargs)
    except Exception as e:
        raise DataError(f"downloading dataset={name} into {root} failed: {_reason(e)}") from None


def torchvision_images(name: str, root: str, resolution: int, split: str, download: bool,
                       download_timeout: float, workers: int, memory_limit_mb: int, device) -> Dataset:
    """MNIST, Fashion-MNIST and CIFAR-10 held on the device; CelebA streamed from its files."""
    from ganrun.errors import ConfigError

    if name not in TORCHVISION:
        raise ConfigError(f"dataset.name={name}: torchvision datasets are {', '.join(TORCHVISION)}")
    if split not in TORCHVISION[name].splits:
        raise ConfigError(f"dataset.split={split}: dataset={name} has the splits {', '.join(TORCHVISION[name].splits)}")
    path = Path(root).expanduser()
    ds = open_torchvision(name, path, split, download, download_timeout)
    if name == "celeba":
        files = [Path(ds.root) / ds.base_folder / "img_align_celeba" / f for f in ds.filename]
        return images_from_files(name, files, resolution, 3, False, workers, memory_limit_mb, device)
    data = torch.as_tensor(ds.data)
    images = data[:, None] if data.ndim == 3 else data.permute(0, 3, 1, 2)   # (N, C, H, W)
    images = resize_batch(images.contiguous(), resolution)
    other = {"train": "test", "test": "train"}.get(split)

    def heldout():
        try:
            return torchvision_images(name, root, resolution, other, False, download_timeout, workers,
                                      memory_limit_mb, device)
        except DataError:
            return None      # the other split is not on disk: metrics that need it are skipped

    return HeldImages(name, images, torch.as_tensor(ds.targets).long(), device, split,
                      heldout if other else None, class_names=list(getattr(ds, "classes", [])))


@dataclass
class TorchvisionConfig:
    """MNIST, Fashion-MNIST, CIFAR-10, CelebA through torchvision (downloaded when online)."""
    kind: ClassVar[str] = "images"      # what a sample is (ganrun/kinds.py)
    preset_base: ClassVar[bool] = True  # chosen through its presets: dataset=mnist, fashion_mnist, cifar10, celeba
    type: str = "torchvision"
    name: str = name_field(MISSING)                 # mnist, fashion_mnist, cifar10 or celeba
    root: str = path_field("${oc.env:GANRUN_DATA_DIR,data}")  # where torchvision keeps the files
    resolution: int = bounded(32, ge=8, le=1024)    # side in pixels
    split: str = "train"                            # train or test (CelebA: train, valid, test, all)
    download: bool = True                           # download when the files are missing
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up
    workers: int = bounded(4, ge=0, le=256)         # DataLoader worker processes for streamed sets
    memory_limit_mb: int = bounded(1024, ge=0)      # hold the decoded set on the device up to this size


register("dataset", TorchvisionConfig, torchvision_images)



# --------------------------------------------------------------------------- stacked digits
class StackedDigits(BaseData):
    """The Stacked-MNIST protocol (VEEGAN, PacGAN; GAN_NOTES §7.6): three digit images, drawn
    independently, as the three colour channels: 10^3 = 1000 modes. Drawn on the fly on the
    device from a single-digit set (`base`), so every batch is fresh; unlabelled to the games
    (the modes are counted by the `stacked` kind's metrics with a classifier of `base`)."""

    kind = "stacked"

    def __init__(self, name: str, base: HeldImages):
        super().__init__(name, base.device)
        self.base = base
        self.split = base.split

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, *self.base.shape[1:])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Batch:
        idx = torch.randint(len(self.base), (n, 3), device=self.device, generator=generator)
        return Batch(to_unit_range(self.base.images[idx].squeeze(2)))

    def reference(self, limit: Optional[int]) -> Batch:
        return self.sample(limit or 10_000, generator=torch.Generator(self.device).manual_seed(0))


def stacked_digits(name: str, resolution: int, source: str, root: str, download: bool, download_timeout: float,
                   device) -> StackedDigits:
    """Stacked digits from scikit-learn's bundled digits (offline) or from MNIST (downloaded)."""
    if source == "digits":
        base = digits("digits", resolution, "train", device)
    else:
        try:
            base = torchvision_images("mnist", root, resolution, "train", download, download_timeout, 4, 1024, device)
        except DataError as e:          # say which dataset asked for MNIST
            raise DataError(str(e).replace("dataset=mnist is not in", f"dataset={name} needs MNIST, which is not in",
                                           1)) from None
    return StackedDigits(name, base)


@dataclass
class StackedDigitsConfig:
    """Three digits as the colour channels: 1000 modes (Stacked MNIST)."""
    kind: ClassVar[str] = "stacked"      # what a sample is (ganrun/kinds.py)
    preset_base: ClassVar[bool] = True   # chosen through its presets: dataset=stacked_digits, stacked_mnist
    type: str = "stacked"
    name: str = name_field("stacked_digits")        # the data's name in cache files and metric keys
    source: str = choice("digits", "mnist")             # the single digits: bundled, or MNIST
    resolution: int = bounded(32, ge=8, le=256)     # side in pixels
    root: str = path_field("${oc.env:GANRUN_DATA_DIR,data}")   # for source=mnist
    download: bool = True                           # download MNIST when missing (source=mnist)
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up


register("dataset", StackedDigitsConfig, stacked_digits)

