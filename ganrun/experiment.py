"""Build everything a run needs from its config: device, data, loss, G, D, optimizers.

Training, sampling and evaluation all build through here, so a checkpoint's
stored config rebuilds exactly the models that wrote it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganrun.config import check_ranges
from ganrun.errors import ConfigError
from ganrun.losses import GANLoss


def resolve_device(kind: str) -> torch.device:
    kind = getattr(kind, "value", kind)
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


def sample_latent(n: int, dim: int, prior: str, device: torch.device,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """z ~ N(0, I) or U[-1, 1]^dim (GAN_NOTES §5, trick 2)."""
    if getattr(prior, "value", prior) == "uniform":
        return torch.rand(n, dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, dim, device=device, generator=generator)


@dataclass
class Experiment:
    cfg: DictConfig
    device: torch.device
    data: Any
    loss: GANLoss
    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_latent(n, self.G.latent_dim, self.cfg.tricks.prior, self.device, generator)


def build(cfg: DictConfig) -> Experiment:
    """Check the config, then build the run's parts in a fixed order (so seeds mean the same)."""
    check_ranges(cfg)
    device = resolve_device(cfg.device.type)
    seed_everything(cfg.seed)
    data = instantiate(cfg.data, device=device, _convert_="all")
    loss: GANLoss = instantiate(cfg.loss).to(device)
    G, D = instantiate(cfg.model, data_shape=tuple(data.shape), autoencoder=loss.autoencoder,
                       _convert_="all")
    G, D = G.to(device), D.to(device)
    opt_g = instantiate(cfg.optimizer.g, params=G.parameters(), _convert_="all")
    opt_d = instantiate(cfg.optimizer.d, params=D.parameters(), _convert_="all")
    return Experiment(cfg, device, data, loss, G, D, opt_g, opt_d)


def plain_config(cfg: DictConfig) -> dict:
    """The resolved config as plain dicts and lists: what checkpoints store (safe to load)."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
