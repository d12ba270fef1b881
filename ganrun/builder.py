"""Build everything a run needs from its config: the device, the data and the game (which builds
its players: networks, optimizers, schedules, G_ema).

Training, sampling and evaluation all build through here, so a checkpoint's stored config
rebuilds exactly the networks that wrote it, and every part is chosen through ganrun's
registry of options (ganrun/config.py), never by a name read from a file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ganrun import distributed
from ganrun.config import make, option, validate
from ganrun.data import FIELDS, Dataset
from ganrun.errors import ConfigError
from ganrun.games import Game
from ganrun.players import Players


def resolve_device(kind: str) -> torch.device:
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is visible to PyTorch: use device=cpu or device=auto")
    if kind == "mps" and not has_mps:
        raise ConfigError("device=mps but Apple's MPS backend is not available: use device=cpu or device=auto")
    return torch.device(kind)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)   # also seeds every CUDA device


class GlobalRNG:
    """Every random generator a run draws from, as a stateful part (plain tensors and values:
    safe to load). Registered last, so that it is restored after everything else."""

    def state_dict(self) -> dict:
        np_state = np.random.get_state()
        py_state = random.getstate()
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                      "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
            "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
        }

    def load_state_dict(self, state: dict) -> None:
        torch.set_rng_state(state["torch"])
        if state.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        n = state["numpy"]
        np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                             n["cached_gaussian"]))
        p = state["python"]
        random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


@dataclass
class Experiment:
    cfg: DictConfig
    device: torch.device
    data: Dataset
    game: Game

    @property
    def players(self) -> Players:
        return self.game.players


def check_fields(cfg: DictConfig, data: Dataset) -> None:
    """The data's batches hold what the game's step reads (`Game.reads`, e.g. class labels), and the
    game can step as train.updates asks: said in one line before the game is built."""
    game = option("game", cfg.game.type).load()
    if cfg.train.updates == "simultaneous" and not getattr(game, "simultaneous_updates", False):
        raise ConfigError(f"train.updates=simultaneous: game={cfg.game.type} updates its players in turn only; "
                          f"use train.updates=alternating (game=gan, conditional and infogan take both)")
    reads = getattr(game, "reads", ())
    missing = [f for f in reads if f not in getattr(data, "fields", ("x",))]
    if missing:
        what, hint = FIELDS.get(missing[0], (f"batches with {missing[0]}", "use data that has them"))
        raise ConfigError(f"game={cfg.game.type} needs {what}, but dataset={data.name} has none: {hint}")


def build(cfg: DictConfig, data: Optional[Dataset] = None) -> Experiment:
    """Check the config, then build the run's parts in a fixed order (so seeds mean the same).
    `data` stands in for the dataset where only its shape and kind matter (sampling a trained G)."""
    validate(cfg, reads_data=data is None)
    device = resolve_device(cfg.device.type)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = bool(cfg.device.tf32)
        torch.backends.cudnn.benchmark = bool(cfg.device.benchmark)
    if distributed.active() and device.type == "cuda":
        device = torch.device("cuda", distributed.local_rank())    # one GPU per process
        torch.cuda.set_device(device)
    seed_everything(cfg.seed)
    if data is None:
        data = make("dataset", cfg.dataset, device=device)
    check_fields(cfg, data)
    game = make("game", cfg.game, cfg=cfg, data=data, device=device)
    game.check_phases()
    game.players.track("data", data)           # the position in a streamed dataset
    if distributed.active():
        join_ranks(cfg, game, device)
    return Experiment(cfg, device, data, game)


def join_ranks(cfg: DictConfig, game: Game, device: torch.device) -> None:
    """Several processes train this run (ganrun/distributed.py). Every rank built the same networks
    from the same seed; from here each draws its own data and noise (rank 0 keeps the seed's own
    stream, so one process is the plain run). train.sync_bn: batch norm over the global batch."""
    if cfg.train.sync_bn:
        if device.type != "cuda":
            raise ConfigError("train.sync_bn=true needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only); "
                              "on CPU each process keeps its own batch statistics: set train.sync_bn=false")
        for _, player in game.players:
            player.module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(player.module)
    if distributed.rank() > 0:
        seed_everything(cfg.seed + distributed.rank() * distributed.RANK_SEED_STRIDE)


def speed_options(exp: Experiment) -> list[str]:
    """train.channels_last and train.compile on the trained networks (G_ema, used only for
    pictures and metrics, stays as it is); returns what was done, for the log."""
    done = []
    trained = [(name, p) for name, p in exp.players if p.optimizer is not None]
    if exp.cfg.train.channels_last:
        for _, player in trained:
            player.module.to(memory_format=torch.channels_last)    # 4-D weights only; the rest is unchanged
        done.append("channels_last weights")
    if exp.cfg.train.compile:
        from torch import _dynamo

        # Where compiling a network fails (no C++ compiler, an unsupported op), it runs eagerly
        # with a warning instead of stopping the run.
        _dynamo.config.suppress_errors = True
        # torch.compile cannot differentiate twice: a gradient penalty needs D eager.
        penalty = getattr(exp.game, "double_backward", False)
        names = []
        for name, player in trained:
            if penalty and name.startswith("D"):
                continue
            player.module.compile()       # in place: the state_dict keys (and checkpoints) are unchanged
            names.append(name)
        done.append(f"torch.compile of {', '.join(names)}" + (" (D eager: gradient penalty)" if penalty else "")
                    + "; the first steps are slow while it compiles")
    return done


def plain_config(cfg: DictConfig) -> dict:
    """The resolved config as plain dicts and lists: what checkpoints store (safe to load)."""
    return OmegaConf.to_container(cfg, resolve=True)
