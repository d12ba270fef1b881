"""BiGAN (Donahue, Krähenbühl & Darrell 2017; ALI, Dumoulin et al. 2017) as a ganrun game, in one file.

Three players: G maps noise z to samples, an encoder E maps samples back to z, and D judges joint
pairs: (x, E(x)) for real data against (G(z), z) for generated. Each step (the game's phase table):
(1) update D on those pairs, (2) update G and E together on the pairs swapped, through a frozen D
(non-saturating). The game holds only this maths; ganrun's step does the updates.

    pip install -e examples/bigan
    ganrun game=bigan dataset=ring model=mlp
    ganrun-sample outputs/<date>/<time> --n 1000 --out ring.png

Everything else (checkpoints with all three players and their optimizers, exact resume, TensorBoard,
pictures, metrics, sweeps) is ganrun's. The option is registered below (ganrun imports this module
through the entry point `ganrun.plugins` in pyproject.toml); the game class itself, which needs
torch, is made only when a run builds the game, so that ganrun's start-up answers stay fast.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import List

from ganrun.config import bounded, register


@dataclass
class BiGANConfig:
    type: str = "bigan"
    hidden: List[int] = bounded([256, 256], ge=1, le=16384, max_length=8)   # E's and D's hidden layers


register("game", BiGANConfig, "ganrun_bigan:build")


def build(hidden, *, cfg, data, device):
    """The builder ganrun calls (with the schema's keys and the run's context)."""
    return game_class()(hidden, cfg=cfg, data=data, device=device)


@functools.cache
def game_class():
    import torch
    import torch.nn.functional as F
    from torch import nn

    from ganrun.config import make
    from ganrun.data import Batch
    from ganrun.errors import ConfigError
    from ganrun.games import Game, Phase, latent
    from ganrun.kinds import KINDS
    from ganrun.models import Conditioning
    from ganrun.models.mlp import mlp
    from ganrun.players import Players, Precision

    class JointD(nn.Module):
        """D(x, z): one score for a (sample, code) pair."""

        def __init__(self, x_size: int, z_size: int, hidden: list[int]):
            super().__init__()
            self.net = mlp([x_size + z_size, *hidden, 1], "leaky_relu", 0.2)

        def forward(self, x, z):
            return self.net(torch.cat([x.flatten(1), z], dim=1)).view(len(x))

    class BiGAN(Game):
        def __init__(self, hidden, *, cfg, data, device):
            self.cfg, self.data, self.device = cfg, data, device
            self.batch_size, self.prior = cfg.train.batch_size, cfg.tricks.prior
            G, _ = make("model", cfg.model, data_shape=tuple(data.shape), pack=1, autoencoder=False,
                        preferred_d_norm="batch", cond=Conditioning())
            self.latent_dim = G.latent_dim
            x_size = int(torch.tensor(data.shape).prod())
            E = mlp([x_size, *hidden, self.latent_dim], "leaky_relu", 0.2)
            D = JointD(x_size, self.latent_dim, list(hidden))
            t = cfg.train
            self.players = Players(Precision(cfg.device.precision, device))
            self.G = self.players.add("G", G.to(device), cfg.optimizer.g, t.lr_schedule, t.steps, hold=t.lr_hold_steps)
            self.E = self.players.add("E", E.to(device), cfg.optimizer.g, t.lr_schedule, t.steps, hold=t.lr_hold_steps)
            self.D = self.players.add("D", D.to(device), cfg.optimizer.d, t.lr_schedule, t.steps, hold=t.lr_hold_steps)
            if t.g_steps > 1:
                raise ConfigError("train.g_steps: BiGAN updates G and E once a step, on the pairs D's last "
                                  "update scored; leave it at 1")
            # ganrun's step runs this table: freezing, optimizer steps, LR schedules are its own
            self.phases = [Phase("D", ("D",), self.d_loss, repeat=t.n_critic),
                           Phase("G", ("G", "E"), self.ge_loss, frozen=("D",))]

        def z(self, n, generator=None, truncation=None):
            return latent(n, self.latent_dim, self.prior, self.device, generator, truncation)

        def d_loss(self, step, i, scratch):
            """(x, E(x)) is real, (G(z), z) is fake."""
            x = self.data.sample(self.batch_size).x
            z = self.z(self.batch_size)
            fake, z_hat = self.G.module(z), self.E.module(x.flatten(1))
            d_real, d_fake = self.D.module(x, z_hat.detach()), self.D.module(fake.detach(), z)
            scratch.update(x=x, z=z, fake=fake, z_hat=z_hat)
            return {"loss/D": F.softplus(-d_real).mean() + F.softplus(d_fake).mean(),
                    "D/real": d_real.detach().mean(), "D/fake": d_fake.detach().mean()}

        def ge_loss(self, step, i, scratch):
            """The pairs swap sides (non-saturating), through a frozen D."""
            D = self.D.module
            return {"loss/G": F.softplus(D(scratch["x"], scratch["z_hat"])).mean()
                    + F.softplus(-D(scratch["fake"], scratch["z"])).mean()}

        def fixed_inputs(self, seed):
            return {"z": self.z(KINDS[self.data.kind].preview, torch.Generator(self.device).manual_seed(seed))}

        @torch.no_grad()
        def pictures(self, fixed):
            kind = KINDS[self.data.kind]
            with self.players.evaluating():
                return [(kind.tag, kind.picture(self.data, self.G.module(fixed["z"])))]

        @torch.no_grad()
        def generate(self, n, seed, batch_size=500, label=None, code=None, truncation=None):
            rng = torch.Generator(self.device).manual_seed(seed)
            with self.players.evaluating():
                xs = [self.G.module(self.z(min(batch_size, n - i), rng, truncation)) for i in range(0, n, batch_size)]
            return Batch(torch.cat(xs))

    return BiGAN
