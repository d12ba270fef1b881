"""A trained generator, rebuilt from a checkpoint's stored config, and sampling from it.

Used by `ganrun-sample` (and by evaluation after the fact): no Hydra run folder,
no training data loaded for image sets (the checkpoint records the image shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from ganrun.checkpoint import load_checkpoint, load_weights, resolve_checkpoint
from ganrun.config import load_stored_config, make
from ganrun.experiment import build_models, generate, resolve_device


@dataclass
class ImageSpace:
    """What sampling needs to know about an image dataset, without loading it."""
    name: str
    shape: tuple[int, ...]
    device: torch.device
    kind: str = "images"

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        return x


@dataclass
class Trained:
    cfg: DictConfig
    G: torch.nn.Module          # G_ema when the run kept one
    data: Any                   # the dataset (toy) or an ImageSpace (images)
    device: torch.device
    step: int
    path: Path

    def generate(self, n: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
        """n samples in model space; the same seed gives the same samples."""
        return generate(self.G, self.cfg.tricks.prior, self.device, n, seed, batch_size)


def load_trained(path: str | Path, device: str = "auto", with_data: bool = False) -> Trained:
    """The generator of a checkpoint (a run folder means its last checkpoint). With `with_data`
    the training data is loaded too, image sets included (evaluation needs it)."""
    ckpt = resolve_checkpoint(path)
    state = load_checkpoint(ckpt)
    cfg = load_stored_config(state["config"], str(ckpt))    # ganrun's own options only
    dev = resolve_device(device)
    shape, kind = tuple(state["data_shape"]), state["data_kind"]
    loss = make("loss", cfg.loss)
    G, _ = build_models(cfg, shape, loss)
    load_weights(G, state.get("G_ema") or state["G"], "G_ema" if state.get("G_ema") else "G", ckpt)
    G.to(dev).eval()
    data = (ImageSpace(cfg.data.name, shape, dev) if kind == "images" and not with_data
            else make("dataset", cfg.data, device=dev))
    return Trained(cfg, G, data, dev, int(state["step"]), ckpt)
