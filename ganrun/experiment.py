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
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganrun.config import make, validate
from ganrun.errors import ConfigError
from ganrun.losses import GANLoss, Labels
from ganrun.models import add_spectral_norm
from ganrun.optimizers import lr_schedule
from ganrun.precision import Precision
from ganrun.tricks import EMA, CriticView, ReplayBuffer


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


def rng_state() -> dict:
    """Every random generator a run draws from, as tensors and plain values (safe to load)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def sample_latent(n: int, dim: int, prior: str, device: torch.device,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """z ~ N(0, I) or U[-1, 1]^dim (GAN_NOTES §5, trick 2)."""
    if prior == "uniform":
        return torch.rand(n, dim, device=device, generator=generator) * 2 - 1
    return torch.randn(n, dim, device=device, generator=generator)


@torch.no_grad()
def generate(G: nn.Module, prior: str, device: torch.device, n: int, seed: int,
             batch_size: int = 500) -> torch.Tensor:
    """n samples of G (model space) from noise seeded by `seed`: the same seed, the same samples,
    whatever the batch size. G should be in eval mode."""
    rng = torch.Generator(device).manual_seed(seed)
    out = [G(sample_latent(min(batch_size, n - start), G.latent_dim, prior, device, generator=rng))
           for start in range(0, n, batch_size)]
    return torch.cat(out)


@dataclass
class Experiment:
    cfg: DictConfig
    device: torch.device
    data: Any
    loss: GANLoss
    G: nn.Module
    D: nn.Module
    critic: CriticView              # D as the losses call it: packing and instance noise in front
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    precision: Precision
    replay: ReplayBuffer
    ema: EMA | None

    def __post_init__(self):
        # Plain values for the training loop: reading an OmegaConf node costs tens of microseconds.
        self.prior = self.cfg.tricks.prior
        self.d_params = list(self.D.parameters())

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_latent(n, self.G.latent_dim, self.prior, self.device, generator)

    def freeze_d(self, frozen: bool) -> None:
        """D's weights stop (or start) collecting gradients: G's update then skips them."""
        for p in self.d_params:
            p.requires_grad_(not frozen)

    @property
    def G_eval(self) -> nn.Module:
        """The generator for samples and metrics: G_ema when it is kept."""
        return self.ema.module if self.ema is not None else self.G


def check_tricks(cfg: DictConfig, loss: GANLoss) -> None:
    """Trick combinations that cannot work, refused before anything trains."""
    t = cfg.tricks
    label_tricks = [k for k, on in [("tricks.label_smoothing", t.label_smoothing > 0),
                                    ("tricks.noisy_labels", t.noisy_labels),
                                    ("tricks.label_flip", t.label_flip > 0)] if on]
    if label_tricks and not loss.uses_labels:
        raise ConfigError(f"{label_tricks[0]} changes D's real/fake targets, but {type(loss).__name__} "
                          f"has none: use it with loss=ns, mm, lsgan or dragan")
    if cfg.train.batch_size % t.pack:
        raise ConfigError(f"tricks.pack={t.pack} must divide train.batch_size={cfg.train.batch_size}")


def build_models(cfg: DictConfig, data_shape: tuple[int, ...], loss: GANLoss) -> tuple[nn.Module, nn.Module]:
    """G and D for samples of `data_shape`; the loss says whether D is an autoencoder (BEGAN)
    and which normalisation it prefers in D; PacGAN packing widens D's input."""
    return make("model", cfg.model, data_shape=tuple(data_shape), pack=cfg.tricks.pack,
                autoencoder=loss.autoencoder, critic_norm=loss.critic_norm)


def build(cfg: DictConfig) -> Experiment:
    """Check the config, then build the run's parts in a fixed order (so seeds mean the same)."""
    validate(cfg)
    device = resolve_device(cfg.device.type)
    seed_everything(cfg.seed)
    t = cfg.tricks
    data = make("dataset", cfg.data, device=device)
    labels = Labels(smoothing=t.label_smoothing, noisy=t.noisy_labels, flip=t.label_flip)
    loss: GANLoss = make("loss", cfg.loss, joint_batches=t.joint_batches, labels=labels).to(device)
    check_tricks(cfg, loss)
    G, D = build_models(cfg, data.shape, loss)
    if t.spectral_norm:
        add_spectral_norm(D)
    G, D = G.to(device), D.to(device)
    opt_g = make("optimizer", cfg.optimizer.g, params=G.parameters())
    opt_d = make("optimizer", cfg.optimizer.d, params=D.parameters())
    sched_g, sched_d = (lr_schedule(opt, cfg.train.lr_schedule, cfg.train.steps) for opt in (opt_g, opt_d))
    replay = ReplayBuffer(t.replay_size, t.replay).to(device)
    ema = EMA(G, t.ema, t.ema_start) if t.ema > 0 else None
    return Experiment(cfg, device, data, loss, G, D, CriticView(D, t.pack), opt_g, opt_d, sched_g, sched_d,
                      Precision(cfg.device.precision, device), replay, ema)



def plain_config(cfg: DictConfig) -> dict:
    """The resolved config as plain dicts and lists: what checkpoints store (safe to load)."""
    return OmegaConf.to_container(cfg, resolve=True)
