"""What every dataset gives the rest of ganrun: batch records, and one small interface.

A dataset draws `Batch` records: the samples `x` in model space on the training device and,
where the data has them, the class labels `y`. Games, pictures and metrics use only the
`Dataset` protocol below; what is particular to a kind of data (the ring's modes, a folder's
files) stays with that kind (ganrun/kinds.py). Datasets are config-group options, built by
declared, built and registered in ganrun/data/toy.py, images.py and translation.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass
class Batch:
    """A batch of samples `x` (model space, on the device) and their class labels `y` (None for
    unlabelled data; for generated samples, the class they were asked for). `code`: the InfoGAN
    categorical code a generated sample was drawn with.

    Image-to-image data (ganrun/data/translation.py) adds the other side: `source` holds the images
    `x` is (or was translated) from, `y` their classes, `y_target` the classes of `x` where they
    differ (unpaired domains). Translations for metrics also carry the paired ground truth
    (`target`), the way back (`reconstruction`: source -> x -> back, CycleGAN) and the other
    direction (`reverse`, a Batch of its own)."""
    x: Tensor
    y: Optional[Tensor] = None
    code: Optional[Tensor] = None
    source: Optional[Tensor] = None
    y_target: Optional[Tensor] = None
    target: Optional[Tensor] = None
    reconstruction: Optional[Tensor] = None
    reverse: Optional["Batch"] = None

    def __len__(self) -> int:
        return len(self.x)


# The Batch fields a game may need beyond x (`Game.reads`): what each is, and the data that has it.
FIELDS = {"y": ("class labels", "use digits, mnist, fashion_mnist, cifar10, or a folder with one sub-folder per class")}


@runtime_checkable
class Dataset(Protocol):
    name: str                   # shown in metric names and pictures (fd_<name>, ...)
    kind: str                   # what a sample is: points, density1d, curves or images (ganrun/kinds.py)
    split: str                  # which part of the data: train, test or all
    device: torch.device
    class_names: list[str]      # one per class; empty for unlabelled data

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one sample as the models see it."""

    @property
    def num_classes(self) -> int:
        """How many classes the labels `y` take (0: unlabelled)."""

    @property
    def fields(self) -> tuple[str, ...]:
        """The Batch fields its training batches fill: x, and y for labelled data."""

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Batch:
        """n samples. Without a generator: the next training batch (from the run's RNG stream).
        With one: a draw that leaves the training stream alone (pictures, metrics)."""

    def reference(self, limit: int) -> Batch:
        """Up to `limit` distinct real samples, always the same: the reference of the metrics."""

    def heldout(self) -> Optional["Dataset"]:
        """The held-out split (e.g. test images) for metrics, or None."""

    def to_data(self, x: Tensor) -> Tensor:
        """Model space -> the data's own units (undoes standardisation)."""

    def state_dict(self) -> dict:
        """The position in the data stream (what exact resume needs beyond the RNGs)."""

    def load_state_dict(self, state: dict) -> None: ...


class BaseData:
    """Defaults of the Dataset protocol for data without labels, splits or a stream position."""

    kind = "points"
    split = "train"
    class_names: list[str] = []

    def __init__(self, name: str, device: torch.device | str = "cpu"):
        self.name = name
        self.device = torch.device(device)
        self.class_names = list(self.class_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def fields(self) -> tuple[str, ...]:
        return ("x", "y") if self.num_classes else ("x",)

    def reference(self, limit: int) -> Batch:
        return self.sample(limit, generator=torch.Generator(self.device).manual_seed(0))

    def heldout(self) -> Optional[Dataset]:
        return None

    def to_data(self, x: Tensor) -> Tensor:
        return x

    def state_dict(self) -> dict:
        return {}     # batches are drawn from the global RNG, which checkpoints keep

    def load_state_dict(self, state: dict) -> None:
        pass

