"""A trained generator, rebuilt from a checkpoint's stored config, and sampling from it.

Used by `ganrun-sample`, `ganrun-eval` and exports: no Hydra run folder, and no training data
loaded for image sets (the checkpoint records the image shape). The run's game is rebuilt
through ganrun's registry from the stored config (never from a name in the file), and the
generator's weights are loaded into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from omegaconf import DictConfig

from ganrun.checkpoint import SAMPLED, generator_weights, load_checkpoint, load_weights, resolve_checkpoint
from ganrun.config import load_stored_config, make
from ganrun.data import BaseData, Batch, Dataset
from ganrun.errors import CheckpointError, ConfigError, GanrunError
from ganrun.builder import Experiment, build, resolve_device
from ganrun.kinds import KINDS


class ImageSpace(BaseData):
    """What sampling needs to know about an image dataset (name, shape, kind), without loading it."""

    def __init__(self, name: str, shape: tuple[int, ...], device: torch.device,
                 class_names: Optional[list[str]] = None, kind: str = "images",
                 source_shape: Optional[tuple[int, ...]] = None):
        super().__init__(name, device)
        self.kind = kind
        self._shape = tuple(shape)
        if source_shape is not None:             # image-to-image runs: what G takes in
            self.source_shape = tuple(source_shape)
        self.class_names = list(class_names or [])

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> Batch:
        raise RuntimeError("an ImageSpace holds no images")


@dataclass
class Trained:
    cfg: DictConfig
    exp: Experiment
    step: int
    path: Path

    @property
    def data(self) -> Dataset:
        return self.exp.data

    @property
    def device(self) -> torch.device:
        return self.exp.device

    def generate(self, n: int, seed: int = 0, batch_size: int = 500, label: Optional[int] = None,
                 code: Optional[int] = None, truncation: Optional[float] = None) -> Batch:
        """n samples in model space (with the classes or codes they were drawn for, where the game
        has them); the same seed gives the same samples. `truncation`: BigGAN's truncation trick."""
        return self.exp.game.generate(n, seed, batch_size, label, code, truncation)


def load_trained(path: str | Path, device: str = "auto", with_data: bool = False,
                 all_players: bool = False, paths: Optional[dict] = None,
                 flags: Optional[dict] = None) -> Trained:
    """The generator of a checkpoint (a run folder means its last checkpoint). With `with_data`
    the training data is loaded too, image sets included (evaluation needs it).

    Where files are read is never the stored config's to say: `paths` gives the tool's values
    ({"dataset.root": ..., "eval.cache_dir": ...}; None: the user's defaults), and `flags` names the
    option that sets each, for the message when a run's data is not where the user's defaults say."""
    ckpt = resolve_checkpoint(path)
    state = load_checkpoint(ckpt)
    given = {k: v for k, v in (paths or {}).items() if v is not None}
    cfg = load_stored_config(state["config"], str(ckpt), given)    # ganrun's own options, the user's paths
    cfg.device.type = device
    root = state["stored_paths"].get("dataset.root")
    if with_data and root is not None and "dataset.root" not in given and KINDS[state["data_kind"]].image_like:
        flag = (flags or {}).get("dataset.root", "dataset.root=")
        raise CheckpointError(f"{ckpt}: the run read its data from {str(root)[:200]!r}; a stored file never says "
                              f"where ganrun reads files: give {flag}PATH (that folder, or where the data is on "
                              f"this machine)")
    dev = resolve_device(device)
    shape, kind = tuple(state["data_shape"]), state["data_kind"]
    data = None
    if KINDS[kind].image_like and not with_data:
        data = ImageSpace(cfg.dataset.name, shape, dev, state["class_names"], kind, state.get("source_shape"))
    elif not KINDS[kind].image_like:
        data = make("dataset", cfg.dataset, device=dev)      # toy data: generated, cheap
    if kind in ("paired", "unpaired"):
        cfg.eval.truncation = None      # no noise z to truncate (earlier builds accepted and ignored it)
    stored_networks_fit(cfg, state, ckpt)
    try:
        exp = build(cfg, data)
    except ConfigError as e:      # the values came from the file, not from this command line
        raise CheckpointError(f"{ckpt}: the run's stored config does not build: {e}") from e
    if all_players or kind in ("paired", "unpaired"):    # every network (image-to-image runs use them all)
        if state.get("export"):
            raise GanrunError(f"{ckpt} is an export of one generator; give the run's checkpoint instead")
        for name, player in exp.players:
            if name not in state["players"]:
                raise GanrunError(f"{ckpt} has no weights for {name}, which a {cfg.game.type} run needs")
            player.ema = None
            load_weights(player.module, state["players"][name]["module"], name, ckpt)
        return Trained(cfg, exp, int(state["step"]), ckpt)
    if SAMPLED not in dict(exp.players):
        raise GanrunError(f"{ckpt} is a {cfg.game.type} run, which has no single generator G: "
                          f"use ganrun-translate for it")
    weights, name = generator_weights(state)
    player = exp.players[SAMPLED]
    player.ema = None            # the weights (G_ema where the run kept one) go into the module itself
    load_weights(player.module, weights, name, ckpt)
    return Trained(cfg, exp, int(state["step"]), ckpt)


def stored_networks_fit(cfg: DictConfig, state: dict, source) -> None:
    """Before anything is built for real: the networks of the stored config, built on PyTorch's meta
    device (shapes, no memory), must have the stored weights' names and shapes, else the one-line
    error load_weights gives. A stranger's file of a few hundred KB could name networks as large as
    the options' bounds allow (gigabytes each), allocated before its weights were compared with them.
    A game that does not build on the meta device skips this (the real build and load_weights compare)."""
    from ganrun.checkpoint import misfit_error, weights_misfit

    meta = torch.device("meta")
    kind, shape = state["data_kind"], tuple(state["data_shape"])
    try:
        # a data object of its own (a toy set is generated, cheap): the run's keeps its random stream
        data = (ImageSpace(cfg.dataset.name, shape, meta, state.get("class_names"), kind, state.get("source_shape"))
                if KINDS[kind].image_like else make("dataset", cfg.dataset, device=torch.device("cpu")))
        with meta:
            game = make("game", cfg.game, cfg=cfg, data=data, device=meta)
    except Exception:
        return
    unstored = 0
    for name, player in game.players:
        stored = state["players"].get(name)
        if not stored:
            unstored += sum(p.numel() * p.element_size() for p in player.module.parameters())
            continue
        for part, label in (("module", name), ("ema", f"{name}_ema")):
            problem = weights_misfit(player.module, stored[part]) if stored.get(part) is not None else None
            if problem:
                raise misfit_error(source, label, problem)
    # networks the file holds no weights for (an export holds G only; sampling builds D too): no larger
    # than ganrun's presets ever make them beside the weights the file holds
    held = sum(v.numel() * v.element_size() for p in state["players"].values() for v in p["module"].values())
    if unstored > 16 * held + 2 ** 28:
        raise CheckpointError(f"{source}: its config builds {unstored / 2 ** 20:.0f} MB of networks that the file "
                              f"holds no weights for, beside {held / 2 ** 20:.2f} MB that it does: not a run ganrun "
                              f"wrote")
