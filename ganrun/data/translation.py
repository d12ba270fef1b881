"""Image-to-image data (GAN_NOTES §7.3): paired sets for pix2pix, unpaired domains for CycleGAN.

A batch is `Batch(x=B images, source=A images, y=the A images' classes if any)`: for paired data
B is A's ground truth (the same index, the same jitter); for unpaired data A and B are drawn
independently (`y_target`: the B images' classes, where known). `dataset.direction=BtoA` swaps
the roles. The papers' jitter: each image is resized to `dataset.load_size`, then a random
`dataset.resolution` crop is taken and, with `dataset.flip`, mirrored half the time; both sides
of a pair get the same crop and flip.

Sources:
- `paired`: a folder in pix2pix's layout, `root/<split>/` of side-by-side AB images, or
  `root/A/<split>/` and `root/B/<split>/` holding files of matching names;
- `unpaired`: CycleGAN's layout, `root/trainA/`, `root/trainB/` (and `testA/`, `testB/`);
- presets for the papers' sets (facades, maps, edges2shoes; horse2zebra, apple2orange,
  monet2photo), downloaded into `dataset.root` when online;
- built-in sets from scikit-learn's digits, no download (`dataset=edges2digits`, `dataset=digits2bold`):
  `edges2digits` (paired: the outline of a digit -> the digit) and `digits2bold` (unpaired:
  digits <-> bold digits, drawn from disjoint halves of the training digits). Test
  images are the digits' held-out split.
"""

from __future__ import annotations

import logging
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ganrun.config import bounded, choice, name_field, path_field, register
from ganrun.data import Batch, BaseData
from ganrun.data.images import decode_all, find_images, split_indices, to_8bit, unreachable
from ganrun.errors import ConfigError, DataError
from ganrun.pixels import resize_batch, to_unit_range

log = logging.getLogger(__name__)

PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{}.tar.gz"
CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{}.zip"
PAIRED_SETS = ("facades", "maps", "edges2shoes", "cityscapes", "night2day", "edges2handbags")
UNPAIRED_SETS = ("horse2zebra", "apple2orange", "monet2photo", "summer2winter_yosemite", "cezanne2photo",
                 "vangogh2photo")
BUILT_IN = ("edges2digits", "digits2bold")


class TranslationData(BaseData):
    """Two image sets A and B held on the device (uint8, at `load_size`), paired or not."""

    def __init__(self, name: str, a: Tensor, b: Tensor, paired: bool, resolution: int, flip: bool,
                 device, split: str = "train", labels_a: Optional[Tensor] = None,
                 labels_b: Optional[Tensor] = None, class_names: tuple = (), heldout=None,
                 direction: str = "AtoB"):
        super().__init__(name, device)
        self.direction = direction
        if len(a) == 0 or len(b) == 0:
            raise DataError(f"dataset {name} ({split}) has no images on one side (A: {len(a)}, B: {len(b)})")
        if paired and len(a) != len(b):
            raise DataError(f"dataset {name}: {len(a)} A images but {len(b)} B images; a paired set needs both")
        self.kind = "paired" if paired else "unpaired"
        self.split, self.paired, self.resolution, self.flip = split, paired, resolution, flip
        self.a, self.b = a.to(self.device), b.to(self.device)
        self.labels_a = None if labels_a is None else labels_a.to(self.device)
        self.labels_b = None if labels_b is None else labels_b.to(self.device)
        if self.labels_a is not None:
            self.class_names = list(class_names) or [str(c) for c in range(int(self.labels_a.max()) + 1)]
        self._heldout_loader = heldout
        self._heldout: list = []

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.b.shape[1], self.resolution, self.resolution)

    @property
    def source_shape(self) -> tuple[int, ...]:
        return (self.a.shape[1], self.resolution, self.resolution)

    def __len__(self) -> int:
        return len(self.a)

    def heldout(self) -> Optional["TranslationData"]:
        if self._heldout_loader is None:
            return None
        if not self._heldout:
            self._heldout.append(self._heldout_loader())
        return self._heldout[0]

    def domain(self, side: str):
        """One side's images (centre crops) and labels as an image set of its own: what a domain
        classifier trains on. Named by the side it was in the files (dataset.direction aside)."""
        from ganrun.data.images import HeldImages

        images, labels = (self.a, self.labels_a) if side == "A" else (self.b, self.labels_b)
        original = side if self.direction == "AtoB" else {"A": "B", "B": "A"}[side]
        return HeldImages(f"{self.name}-{original}", center(images, self.resolution), labels, self.device,
                          self.split, class_names=self.class_names)

    def _jitter(self, images: list[Tensor], n: int, generator) -> list[Tensor]:
        """The same random crop (and flip) for each of `images` (n images each)."""
        load = images[0].shape[-1]
        room = load - self.resolution
        if room:
            top = torch.randint(room + 1, (n,), device=self.device, generator=generator)
            left = torch.randint(room + 1, (n,), device=self.device, generator=generator)
            rows = top[:, None] + torch.arange(self.resolution, device=self.device)
            cols = left[:, None] + torch.arange(self.resolution, device=self.device)
            batch = torch.arange(n, device=self.device)[:, None, None]
            images = [x.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
                      for x in images]
        if self.flip:
            mirror = (torch.rand(n, device=self.device, generator=generator) < 0.5)[:, None, None, None]
            images = [torch.where(mirror, x.flip(-1), x) for x in images]
        return images

    def _draw(self, ia: Tensor, ib: Tensor, generator, jitter: bool = True) -> Batch:
        a, b = self.a[ia], self.b[ib]
        if jitter:
            if self.paired:
                a, b = self._jitter([a, b], len(ia), generator)
            else:
                (a,), (b,) = self._jitter([a], len(ia), generator), self._jitter([b], len(ib), generator)
        else:                                    # evaluation: the centre crop, no flip
            a, b = center(a, self.resolution), center(b, self.resolution)
        return Batch(to_unit_range(b), None if self.labels_a is None else self.labels_a[ia],
                     source=to_unit_range(a),
                     y_target=None if self.labels_b is None else self.labels_b[ib])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Batch:
        ia = torch.randint(len(self.a), (n,), device=self.device, generator=generator)
        ib = ia if self.paired else torch.randint(len(self.b), (n,), device=self.device, generator=generator)
        return self._draw(ia, ib, generator)

    def reference(self, limit: Optional[int]) -> Batch:
        """The first images of each side, centre-cropped, unflipped: fixed inputs for metrics."""
        ia = torch.arange(min(len(self.a), limit or len(self.a)), device=self.device)
        ib = ia if self.paired else torch.arange(min(len(self.b), limit or len(self.b)), device=self.device)
        return self._draw(ia, ib, None, jitter=False)


def center(x: Tensor, size: int) -> Tensor:
    off = (x.shape[-1] - size) // 2
    return x[..., off:off + size, off:off + size]


# --------------------------------------------------------------------------- built-in digits sets
def _digits32(split: str, size: int) -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().div(16.0).mul(255).round().to(torch.uint8)[:, None]
    keep = split_indices(len(images), split)
    return resize_batch(images[keep], size), torch.from_numpy(bunch.target).long()[keep]


def outline(images: Tensor) -> Tensor:
    """The edges of uint8 digits: where a 3x3 neighbourhood holds both ink and paper (morphological
    gradient of the thresholded digit), as white lines on black."""
    ink = (images.float() > 96).float()
    grown = F.max_pool2d(ink, 3, 1, 1)
    shrunk = -F.max_pool2d(-ink, 3, 1, 1)
    return ((grown - shrunk) * 255).to(torch.uint8)


def bold(images: Tensor) -> Tensor:
    """The restyled domain: strokes thickened by a 3x3 dilation (grey-level maximum), twice."""
    return F.max_pool2d(F.max_pool2d(images.float(), 3, 1, 1), 3, 1, 1).round().to(torch.uint8)


def built_in(name: str, split: str, size: int) -> tuple[Tensor, Tensor, Tensor, Tensor, bool]:
    """(A, B, labels A, labels B, paired) of a built-in set."""
    digits, labels = _digits32(split, size)
    if name == "edges2digits":
        return outline(digits), digits, labels, labels, True
    # digits2bold: A and B from disjoint halves, so that no image has its translation in the set
    half = len(digits) // 2
    return digits[:half], bold(digits[half:]), labels[:half], labels[half:], False


# --------------------------------------------------------------------------- folders and downloads
def ensure_downloaded(name: str, root: Path, paired: bool, download: bool, timeout: float) -> Path:
    """root/<name>, downloaded and unpacked there when missing and allowed; else one clear line."""
    where = root / name
    if where.is_dir():
        return where
    url = (PIX2PIX_URL if paired else CYCLEGAN_URL).format(name)
    if not download:
        raise DataError(f"dataset={name} is not in {where} and dataset.download=false: download {url} and "
                        f"unpack it into {root}")
    why = unreachable(url, timeout)
    if why:
        raise DataError(f"dataset={name} is not in {where} and cannot be downloaded: {why}. On a machine "
                        f"with internet download {url}, unpack it into {root} (giving {where}), or set "
                        f"dataset.root to where it is")
    import shutil
    import tempfile

    root.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s into %s", url, root)
    # Unpacked beside its final place, then renamed: a broken download never looks like a set.
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}-") as tmp:
        archive = Path(tmp) / url.rsplit("/", 1)[-1]
        try:
            torch.hub.download_url_to_file(url, str(archive), progress=False)
            if archive.suffix == ".zip":
                with zipfile.ZipFile(archive) as z:
                    z.extractall(tmp)
            else:
                with tarfile.open(archive) as t:
                    t.extractall(tmp, filter="data")
        except Exception as e:
            raise DataError(f"downloading dataset {name} from {url} failed: {str(e).splitlines()[0]}") from None
        unpacked = Path(tmp) / name
        if not unpacked.is_dir():
            raise DataError(f"the archive {url} holds no {name}/ folder")
        shutil.move(str(unpacked), str(where))
    return where


def _has_split(root: Path, name: str, paired: bool, split: str) -> bool:
    folder = root if name == "folder" else root / name
    if paired:
        return (folder / split).is_dir() or (folder / "A" / split).is_dir()
    return (folder / f"{split}A").is_dir() and (folder / f"{split}B").is_dir()


def _decode(files: list[Path], size: int, channels: int, workers: int) -> Tensor:
    images, _ = decode_all(files, size, channels, strict=True, workers=workers)
    return images


def paired_folder(root: Path, split: str, size: int, channels: int, workers: int) -> tuple[Tensor, Tensor]:
    """pix2pix's layouts: root/<split>/ of side-by-side AB images, or root/A/<split>, root/B/<split>."""
    if (root / "A").is_dir() or (root / "B").is_dir():
        a_dir, b_dir = root / "A" / split, root / "B" / split
        for d in (a_dir, b_dir):
            if not d.is_dir():
                raise DataError(f"paired dataset {root}: {d} is missing (root/A/{split} and root/B/{split} hold "
                                f"images of matching names)")
        a_files = {p.name: p for p in find_images(a_dir)}
        b_files = {p.name: p for p in find_images(b_dir)}
        unmatched = sorted(set(a_files) ^ set(b_files))
        if unmatched:
            raise DataError(f"paired dataset {root}: {unmatched[0]} is in only one of {a_dir} and {b_dir} "
                            f"({len(unmatched)} unmatched); a pair needs the same file name on both sides")
        names = sorted(a_files)
        if not names:
            raise DataError(f"paired dataset {root}: no images in {a_dir}")
        return (_decode([a_files[n] for n in names], size, channels, workers),
                _decode([b_files[n] for n in names], size, channels, workers))
    folder = root / split
    if not folder.is_dir():
        raise DataError(f"paired dataset {root}: no {split}/ folder of side-by-side AB images (nor A/ and B/ "
                        f"folders); see the README's pix2pix section for the layouts")
    files = find_images(folder)
    if not files:
        raise DataError(f"paired dataset {root}: no image files in {folder}")
    from PIL import Image

    halves_a, halves_b = [], []
    from torchvision.transforms.v2 import functional as TF

    for f in files:
        try:
            with Image.open(f) as img:
                img = to_8bit(img).convert("L" if channels == 1 else "RGB")
                w, h = img.size
                if w != 2 * h:
                    raise DataError(f"paired dataset: {f} is {w}x{h}; a side-by-side AB image is twice as wide "
                                    f"as it is high")
                halves = [img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))]
                a, b = (TF.pil_to_tensor(TF.resize(x, [size, size], antialias=True)) for x in halves)
        except DataError:
            raise
        except Exception as e:
            raise DataError(f"unreadable image {f}: {str(e).splitlines()[0]}") from None
        halves_a.append(a)
        halves_b.append(b)
    return torch.stack(halves_a), torch.stack(halves_b)


def unpaired_folder(root: Path, split: str, size: int, channels: int, workers: int) -> tuple[Tensor, Tensor]:
    sides = []
    for side in ("A", "B"):
        d = root / f"{split}{side}"
        if not d.is_dir():
            raise DataError(f"unpaired dataset {root}: {d.name}/ is missing (CycleGAN's layout: trainA/, trainB/, "
                            f"testA/, testB/)")
        files = find_images(d)
        if not files:
            raise DataError(f"unpaired dataset {root}: no image files in {d}")
        sides.append(_decode(files, size, channels, workers))
    return sides[0], sides[1]


# --------------------------------------------------------------------------- options
def translation_data(name: str, root: str, direction: str, resolution: int, load_size: int, flip: bool,
                     channels: int, download: bool, download_timeout: float, workers: int, device,
                     paired: bool, split: str = "train") -> TranslationData:
    if load_size < resolution:
        raise ConfigError(f"dataset.load_size={load_size} is smaller than dataset.resolution={resolution}: "
                          f"images are resized to load_size, then cropped to resolution")
    kind = "paired" if paired else "unpaired"
    known = PAIRED_SETS if paired else UNPAIRED_SETS
    builtin_name = "edges2digits" if paired else "digits2bold"
    labels_a = labels_b = None
    if name in BUILT_IN:
        if name != builtin_name:
            other = "dataset=unpaired" if paired else "dataset=paired"
            raise ConfigError(f"dataset.name={name} is {'unpaired' if paired else 'paired'} data: use it with {other} "
                              f"(and its game)")
        a, b, labels_a, labels_b, _ = built_in(name, split, load_size)
        names: tuple = tuple(str(c) for c in range(10))
    elif name == "folder" or name in known:
        folder = Path(root).expanduser()
        if name != "folder":
            folder = ensure_downloaded(name, folder, paired, download, download_timeout)
        elif not folder.is_dir():
            raise DataError(f"dataset={kind}: the folder {folder} does not exist; set dataset.root to your "
                            f"{'paired' if paired else 'trainA/trainB'} folder")
        c = channels or 3
        a, b = (paired_folder if paired else unpaired_folder)(folder, split, load_size, c, workers)
        names = ()
    else:
        from ganrun.errors import did_you_mean

        raise ConfigError(f"dataset.name={name}: the {kind} sets are {', '.join((builtin_name,) + known)} or "
                          f"folder{did_you_mean(name, (builtin_name,) + known + ('folder',))}")
    if channels and name in BUILT_IN and channels != 1:
        raise ConfigError(f"dataset.channels={channels}: the built-in {name} is grayscale (1)")
    if direction == "BtoA":
        a, b, labels_a, labels_b = b, a, labels_b, labels_a
    args = (name, root, direction, resolution, load_size, flip, channels, download, download_timeout, workers,
            device, paired)

    def heldout():
        """The test split, else the validation split (some of pix2pix's sets ship train/ and val/
        only), else None: pictures and metrics then use training images and say so."""
        for split_name in ("test", "val"):
            if name in BUILT_IN and split_name == "val":
                break
            if name not in BUILT_IN and not _has_split(Path(root).expanduser(), name, paired, split_name):
                continue
            return translation_data(*args, split=split_name)
        return None

    return TranslationData(name, a, b, paired, resolution, flip, device, split, labels_a, labels_b, names,
                           heldout if split == "train" else None, direction)


@dataclass
class PairedConfig:
    """pix2pix data: a built-in set, a paper's set (downloaded), or a folder (see the module)."""
    kind: ClassVar[str] = "paired"      # what a sample is (ganrun/kinds.py)
    type: str = "paired"
    name: str = name_field("edges2digits")        # edges2digits (built in), facades, maps, edges2shoes, ... or folder
    root: str = path_field("data")    # where downloaded sets live, or the folder itself (name=folder)
    direction: str = choice("AtoB", "BtoA")         # AtoB: learn A -> B; BtoA: the other way
    resolution: int = bounded(32, ge=16, le=1024)    # the crop the networks see
    load_size: int = bounded(32, ge=16, le=2048)     # images are resized to this, then cropped (paper: 286 -> 256)
    flip: bool = False                # mirror pairs half the time (the papers do; digits must not)
    channels: int = bounded(0, one_of=(0, 1, 3))     # 0: the set's own (1 for digits, 3 for photos)
    download: bool = True                           # download a paper's set when missing
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up
    workers: int = bounded(4, ge=0, le=256)         # DataLoader worker processes for sets on disk


def paired(**keys) -> TranslationData:
    return translation_data(**keys, paired=True)


register("dataset", PairedConfig, paired)


@dataclass
class UnpairedConfig(PairedConfig):
    """CycleGAN data: two domains A and B."""
    kind: ClassVar[str] = "unpaired"      # what a sample is (ganrun/kinds.py)
    type: str = "unpaired"
    name: str = name_field("digits2bold")         # digits2bold (built in), horse2zebra, apple2orange, monet2photo, ... or folder


def unpaired(**keys) -> TranslationData:
    return translation_data(**keys, paired=False)


register("dataset", UnpairedConfig, unpaired)
