"""Options of the `dataset` group: toy distributions, image sets, translation data (ganrun/data/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import MISSING

from ganrun.config import bounded, choice, name_field, path_field, register


@dataclass
class RingConfig:
    """PacGAN's ring: 8 modes at angles 2*pi*i/8 on a circle (GAN_NOTES §4)."""
    kind: ClassVar[str] = "points"      # what a sample is (ganrun/kinds.py)
    type: str = "ring"
    name: str = name_field("ring")                  # the data's name in cache files and metric keys
    modes: int = bounded(8, ge=1, le=100_000)       # Gaussians on the circle
    radius: float = bounded(1.0, gt=0)              # the circle's radius
    std: float = bounded(0.01, gt=0)                # each Gaussian's standard deviation


@dataclass
class GridConfig:
    """PacGAN's grid: 25 modes at {-4,-2,0,2,4}^2 (GAN_NOTES §4)."""
    kind: ClassVar[str] = "points"      # what a sample is (ganrun/kinds.py)
    type: str = "grid"
    name: str = name_field("grid")                  # the data's name in cache files and metric keys
    side: int = bounded(5, ge=1, le=300)            # Gaussians per side of the square grid
    spacing: float = bounded(2.0, gt=0)             # distance between neighbouring modes
    std: float = bounded(0.05, gt=0)                # each Gaussian's standard deviation


@dataclass
class SineConfig:
    """The notes' 10 sine curves sin(a*t), a in linspace(1, 1.2, 10), 32 points (GAN_NOTES §3)."""
    kind: ClassVar[str] = "curves"      # what a sample is (ganrun/kinds.py)
    type: str = "sine"
    name: str = name_field("sine")                  # the data's name in cache files and metric keys
    curves: int = bounded(10, ge=1, le=10_000)      # curves sin(a t), a evenly spaced
    a_min: float = 1.0                              # smallest frequency a
    a_max: float = 1.2                              # largest frequency a
    t_min: float = -2.5                             # first t
    t_max: float = 3.5                              # last t
    length: int = bounded(32, ge=2, le=4096)        # points per curve


@dataclass
class Gaussian1dConfig:
    """A 1-D Gaussian target N(mean, std^2) (GAN_NOTES §4)."""
    kind: ClassVar[str] = "density1d"      # what a sample is (ganrun/kinds.py)
    type: str = "gaussian1d"
    name: str = name_field("gaussian1d")            # the data's name in cache files and metric keys
    mean: float = 4.0                               # the target's mean
    std: float = bounded(0.5, gt=0)                 # the target's standard deviation
    # Train on (x - mean) / std and map samples back: G's output layer then works
    # at unit scale for any target (see GAN_NOTES §5 trick 1, "scale the data").
    standardize: bool = True


@dataclass
class DigitsConfig:
    """scikit-learn's bundled 8x8 handwritten digits (1 797 images, 10 classes), resized."""
    kind: ClassVar[str] = "images"      # what a sample is (ganrun/kinds.py)
    type: str = "digits"
    name: str = name_field("digits")                # the data's name in cache files and metric keys
    resolution: int = bounded(32, ge=8, le=256)     # side in pixels (the 8x8 digits resized)
    split: str = choice("train", "test", "all")   # a fixed 80/20 split; metrics hold out `test`


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


@dataclass
class TorchvisionConfig:
    """MNIST, Fashion-MNIST, CIFAR-10, CelebA through torchvision (downloaded when online)."""
    kind: ClassVar[str] = "images"      # what a sample is (ganrun/kinds.py)
    type: str = "torchvision"
    name: str = name_field(MISSING)                 # mnist, fashion_mnist, cifar10 or celeba
    root: str = path_field("${oc.env:GANRUN_DATA_DIR,data}")  # where torchvision keeps the files
    resolution: int = bounded(32, ge=8, le=1024)    # side in pixels
    split: str = "train"                            # train or test (CelebA: train, valid, test, all)
    download: bool = True                           # download when the files are missing
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up
    workers: int = bounded(4, ge=0, le=256)         # DataLoader worker processes for streamed sets
    memory_limit_mb: int = bounded(1024, ge=0)      # hold the decoded set on the device up to this size


@dataclass
class StackedDigitsConfig:
    """Three digits as the colour channels: 1000 modes (Stacked MNIST)."""
    kind: ClassVar[str] = "stacked"      # what a sample is (ganrun/kinds.py)
    type: str = "stacked"
    name: str = name_field("stacked_digits")        # the data's name in cache files and metric keys
    source: str = choice("digits", "mnist")             # the single digits: bundled, or MNIST
    resolution: int = bounded(32, ge=8, le=256)     # side in pixels
    root: str = path_field("${oc.env:GANRUN_DATA_DIR,data}")   # for source=mnist
    download: bool = True                           # download MNIST when missing (source=mnist)
    download_timeout: float = bounded(10.0, gt=0)   # seconds to wait for the server before giving up


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


@dataclass
class UnpairedConfig(PairedConfig):
    """CycleGAN data: two domains A and B."""
    kind: ClassVar[str] = "unpaired"      # what a sample is (ganrun/kinds.py)
    type: str = "unpaired"
    name: str = name_field("digits2bold")         # digits2bold (built in), horse2zebra, apple2orange, monet2photo, ... or folder


register("dataset", RingConfig, "ganrun.data.toy:Ring")
register("dataset", GridConfig, "ganrun.data.toy:Grid")
register("dataset", SineConfig, "ganrun.data.toy:SineCurves")
register("dataset", Gaussian1dConfig, "ganrun.data.toy:Gaussian1d")
register("dataset", DigitsConfig, "ganrun.data.images:digits")
register("dataset", FolderConfig, "ganrun.data.images:folder")
register("dataset", TorchvisionConfig, "ganrun.data.images:torchvision_images")
register("dataset", StackedDigitsConfig, "ganrun.data.images:stacked_digits")
register("dataset", PairedConfig, "ganrun.data.translation:paired")
register("dataset", UnpairedConfig, "ganrun.data.translation:unpaired")
