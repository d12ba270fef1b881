"""The classic game (GAN_NOTES §1): one generator G against one discriminator D.

Each step: (1) update D `train.n_critic` times on fresh real and fake batches, D seeing the
fakes detached; (2) update G once through a frozen D, reusing the last fake batch with its
graph (as pytorch/examples' DCGAN does) instead of running G a second time. The loss is any
of the family (ganrun/losses.py); the tricks of GAN_NOTES §5 sit around it: PacGAN packing
and instance noise in front of D, the replay buffer, label tricks, G_ema.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ganrun.config import make, register
from ganrun.errors import ConfigError
from ganrun.games import Game, latent
from ganrun.kinds import KINDS
from ganrun.losses import GANLoss, Labels, Terms
from ganrun.models import add_spectral_norm
from ganrun.players import EMA, Players, Precision
from ganrun.tricks import DView, ReplayBuffer, instance_noise_std


@dataclass
class GANGameConfig:
    type: str = "gan"


class GAN(Game):
    def __init__(self, cfg, data, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device
        t, train = cfg.tricks, cfg.train
        # Plain values for the step (reading an OmegaConf node costs tens of microseconds).
        self.batch_size, self.n_critic, self.prior = train.batch_size, train.n_critic, t.prior
        self.noise_start, self.noise_steps = t.instance_noise, t.instance_noise_steps or train.steps
        self.precision = Precision(cfg.device.precision, device)
        labels = Labels(smoothing=t.label_smoothing, noisy=t.noisy_labels, flip=t.label_flip)
        self.loss: GANLoss = make("loss", cfg.loss, joint_batches=t.joint_batches, labels=labels).to(device)
        check_tricks(cfg, self.loss)
        G, D = make("model", cfg.model, data_shape=tuple(data.shape), pack=t.pack,
                    autoencoder=self.loss.autoencoder, preferred_d_norm=self.loss.preferred_d_norm)
        if t.spectral_norm:
            add_spectral_norm(D)
        G, D = G.to(device), D.to(device)
        self.players = Players(self.precision, skip_nonfinite=train.nonfinite == "skip")
        self.G = self.players.add("G", G, cfg.optimizer.g, train.lr_schedule, train.steps)
        self.D = self.players.add("D", D, cfg.optimizer.d, train.lr_schedule, train.steps)
        self.replay = ReplayBuffer(t.replay_size, t.replay).to(device)
        if t.ema > 0:
            self.G.ema = EMA(G, t.ema, t.ema_start)
        self.d_view = DView(D, t.pack)            # D as the losses call it: packing, instance noise
        self.players.track("loss", self.loss)     # BEGAN's k_t
        self.players.track("replay", self.replay)

    def z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return latent(n, self.G.module.latent_dim, self.prior, self.device, generator)

    def step(self, step: int) -> list[Terms]:
        G, D, loss, B, autocast = self.G, self.D, self.loss, self.batch_size, self.precision.autocast
        self.d_view.noise_std = instance_noise_std(self.noise_start, self.noise_steps, step - 1)
        logged: list[Terms] = []

        # (1) Update D: n_critic times on fresh real and fake batches; D sees the fakes detached
        # (some of them swapped for past fakes when the replay buffer is on).
        D.requires_grad(True)
        for i in range(self.n_critic):
            real = self.data.sample(B).x
            # The last fake batch keeps its graph: the G step below reuses it.
            with torch.set_grad_enabled(i == self.n_critic - 1), autocast():
                fake = G.module(self.z(B))
            with autocast():
                d_terms = loss.discriminator(self.d_view, real, self.replay.mix(fake))
            if self.players.update(D, d_terms["loss/D"]):
                loss.after_d_step(D.module, d_terms)
                logged.append(d_terms)

        # (2) Update G through a frozen D (no gradients for D's weights are computed).
        D.requires_grad(False)
        with autocast():
            g_terms = loss.generator(self.d_view, real, fake)
        if self.players.update(G, g_terms["loss/G"]):
            if G.ema is not None:
                G.ema.update(step)
            logged.append(g_terms)
        self.players.after_step()
        return logged

    def status(self) -> dict[str, float]:
        return {"tricks/instance_noise": self.d_view.noise_std} if self.d_view.noise_std > 0 else {}

    def fixed_inputs(self, seed: int) -> dict:
        rng = torch.Generator(self.device).manual_seed(seed)
        return {"z": self.z(KINDS[self.data.kind].preview, generator=rng)}

    @torch.no_grad()
    def pictures(self, fixed: dict) -> list[tuple[str, Tensor]]:
        kind = KINDS[self.data.kind]
        with self.players.evaluating():
            fake = self.G.eval_module(fixed["z"])
            # D(x) along the picture's axis, where D scores single samples (not PacGAN packs)
            d_curve = None if self.d_view.pack > 1 else (lambda x: self.loss.link(self.D.module(x)))
            return [(kind.tag, kind.picture(self.data, fake, d_curve))]

    @torch.no_grad()
    def generate(self, n: int, seed: int, batch_size: int = 500) -> Tensor:
        rng = torch.Generator(self.device).manual_seed(seed)
        G = self.G.eval_module
        with self.players.evaluating():
            return torch.cat([G(self.z(min(batch_size, n - start), generator=rng))
                              for start in range(0, n, batch_size)])


def check_tricks(cfg, loss: GANLoss) -> None:
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


register("game", GANGameConfig, GAN)
