"""Image-to-image games (GAN_NOTES §7.3, §9.4; read from junyanz/pytorch-CycleGAN-and-pix2pix).

pix2pix (Isola et al. 2017), on paired data (a, b):
  (1) update D on (a, b) as real and (a, G(a)) as fake, its loss halved (as the official code);
  (2) update G on the adversarial loss of (a, G(a)) plus lambda_L1 * |G(a) - b|_1.
CycleGAN (Zhu et al. 2017), on unpaired domains A and B, in the official order:
  (1) update G_AB and G_BA together on the adversarial losses of G_AB(a) against D_B and G_BA(b)
      against D_A, the cycle terms lambda * |G_BA(G_AB(a)) - a|_1 and lambda * |G_AB(G_BA(b)) - b|_1,
      and the identity terms idt * lambda * |G_AB(b) - b|_1 (and for A);
  (2) update D_A and D_B, each on real images of its domain against fakes drawn from a pool of
      past fakes (50, half of each batch swapped for pooled ones: the replay buffer).
Any loss of the family works (pix2pix's default is ns, CycleGAN's lsgan); D scores patches
(PatchGAN), and the losses average over them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganrun.config import bounded, make, register
from ganrun.data import Batch
from ganrun.errors import ConfigError
from ganrun.games import Game, Phase
from ganrun.losses import GANLoss, Labels
from ganrun.terms import Terms
from ganrun.players import Player, Players, Precision
from ganrun.tricks import ReplayBuffer

PREVIEW = 8          # held-out images in the pictures


class Paired(nn.Module):
    """pix2pix's D as the losses call it: D scores the input and the image side by side."""

    def __init__(self, D: nn.Module):
        super().__init__()
        self.D = D
        self.source: Optional[Tensor] = None

    def forward(self, x: Tensor) -> Tensor:
        return self.D(torch.cat([self.source, x], dim=1))


class Translation(Game):
    """What both games share: the data check, the loss, the players' registry, pictures' inputs."""

    model_type = ""
    kind = ""
    draws_noise = False     # G translates an image: no z, so no truncation trick
    translates = ("AtoB",)  # from the data's A side (dataset.direction chose which that is) to B

    def __init__(self, cfg, data, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device
        if getattr(data, "kind", None) != self.kind:
            have = getattr(data, "kind", "?")
            want = "dataset=paired" if self.kind == "paired" else "dataset=unpaired"
            raise ConfigError(f"game={cfg.game.type} trains on {self.kind} image data ({want}), but "
                              f"dataset={cfg.dataset.type} gives {have} samples")
        if cfg.model.type != self.model_type:
            raise ConfigError(f"game={cfg.game.type} uses model={self.model_type}, not model={cfg.model.type}")
        t = cfg.tricks
        used = [k for k, on in [("tricks.pack", t.pack > 1), ("tricks.diffaug", t.diffaug not in ("none", "")),
                                ("tricks.ada", t.ada), ("tricks.replay", t.replay > 0), ("tricks.ema", t.ema > 0),
                                ("tricks.joint_batches", t.joint_batches), ("tricks.spectral_norm", t.spectral_norm),
                                ("tricks.instance_noise", t.instance_noise > 0), ("tricks.ortho", t.ortho > 0),
                                ("tricks.mode_seeking", t.mode_seeking > 0), ("tricks.r1", t.r1 > 0),
                                ("tricks.r1_every", t.r1_every > 1),
                                ("train.n_critic", cfg.train.n_critic > 1), ("train.g_steps", cfg.train.g_steps > 1),
                                ("eval.truncation", cfg.eval.truncation is not None)] if on]
        if used:
            raise ConfigError(f"{used[0]} does not apply to game={cfg.game.type}; leave it at its default")
        self.batch_size = cfg.train.batch_size
        self.precision = Precision(cfg.device.precision, device)
        labels = Labels(smoothing=t.label_smoothing, noisy=t.noisy_labels, flip=t.label_flip)
        self.loss: GANLoss = make("loss", cfg.loss, labels=labels).to(device)
        if (t.label_smoothing > 0 or t.noisy_labels or t.label_flip > 0) and not self.loss.uses_labels:
            raise ConfigError(f"the label tricks change D's real/fake targets, and loss={cfg.loss.type} has none: "
                              f"use them with loss=ns, mm, lsgan or dragan")
        if self.loss.autoencoder:
            raise ConfigError(f"loss=began needs an autoencoder D; game={cfg.game.type} has PatchGAN D's")
        self.players = Players(self.precision, skip_nonfinite=cfg.train.nonfinite == "skip")
        self.players.track("loss", self.loss)
        nets = make("model", cfg.model, source_shape=tuple(data.source_shape), data_shape=tuple(data.shape))
        self.nets = {name: net.to(device) for name, net in nets.items()}

    def add(self, name: str, optimizer_cfg) -> Player:
        return self.players.add(name, self.nets[name], optimizer_cfg, self.cfg.train.lr_schedule,
                                self.cfg.train.steps, hold=self.cfg.train.lr_hold_steps)

    def fixed_inputs(self, seed: int) -> dict:
        held = self.data.heldout() or self.data
        return {"batch": held.reference(PREVIEW)}

    def real_scores(self, batch) -> Optional[Tensor]:
        return None


@dataclass
class Pix2PixGameConfig:
    """pix2pix (Isola et al. 2017): D on (input, output) pairs, G's loss = the adversarial loss +
    game.lambda_l1 (100) x L1 to the target. Use with dataset=paired (experiment=pix2pix sets the
    paper's recipe)."""
    type: str = "pix2pix"
    lambda_l1: float = bounded(100.0, ge=0)       # weight of |G(a) - b|_1 in G's loss


class Pix2Pix(Translation):
    model_type, kind = "pix2pix", "paired"

    def __init__(self, lambda_l1: float, *, cfg, data, device: torch.device):
        super().__init__(cfg, data, device)
        self.lambda_l1 = lambda_l1
        self.G = self.add("G", cfg.optimizer.g)
        self.D = self.add("D", cfg.optimizer.d)
        self.d_view = Paired(self.D.module)
        # (1) D on (a, b) real against (a, G(a)) fake; (2) G through a frozen D, reusing G(a)
        self.phases = [Phase("D", ("D",), self.d_loss, after=self.after_d_update),
                       Phase("G", ("G",), self.g_loss, frozen=("D",))]

    def d_loss(self, step: int, i: int, scratch: dict) -> Terms:
        """D's loss, halved as the official code does, on (a, b) real and (a, G(a)) fake."""
        batch = self.data.sample(self.batch_size)
        self.d_view.source = batch.source
        with self.precision.autocast():
            fake = self.G.module(batch.source)
            terms = self.loss.discriminator(self.d_view, batch.x, fake.detach())
            terms["loss/D"] = 0.5 * terms["loss/D"]
        scratch.update(target=batch.x, fake=fake)
        return terms

    def after_d_update(self, terms: Terms, scratch: dict) -> None:
        self.loss.after_d_step(self.D.module, terms)

    def g_loss(self, step: int, j: int, scratch: dict) -> Terms:
        """Fool D, and stay close to the target: adversarial + lambda_L1 * |G(a) - b|_1."""
        b, fake = scratch["target"], scratch["fake"]
        with self.precision.autocast():
            terms = self.loss.generator(self.d_view, b, fake)
            terms["loss/G_gan"] = terms["loss/G"].detach()
            terms["loss/L1"] = F.l1_loss(fake, b)
            terms["loss/G"] = terms["loss/G"] + self.lambda_l1 * terms["loss/L1"]
        return terms

    @torch.no_grad()
    def pictures(self, fixed: dict) -> list[tuple[str, Tensor]]:
        from ganrun.visualize import translation_rows

        batch = fixed["batch"]
        with self.players.evaluating():
            out = self.G.module(batch.source)
        return [("samples/translation", translation_rows([batch.source, out, batch.x]))]

    @torch.no_grad()
    def generate(self, n: int, seed: int, batch_size: int = 100, label=None, code=None, truncation=None) -> Batch:
        """Translations of the first n held-out inputs (the training inputs where there is no test
        split), with their targets: what the paired metrics read."""
        held = self.data.heldout() or self.data
        ref = held.reference(n)
        batch_size = min(batch_size, 32)           # image-sized inputs: keep each pass small
        with self.players.evaluating():
            out = torch.cat([self.G.module(s) for s in ref.source.split(batch_size)])
        return Batch(out, ref.y, source=ref.source, target=ref.x)

    def translate(self, x: Tensor, direction: str = "AtoB") -> Tensor:
        if direction != "AtoB":
            raise ConfigError("a pix2pix run translates one way only (its dataset.direction); for the other, "
                              "train with dataset.direction=BtoA")
        with self.players.evaluating():
            return self.G.module(x)


register("game", Pix2PixGameConfig, Pix2Pix)


@dataclass
class CycleGANGameConfig:
    """CycleGAN (Zhu et al. 2017): G_AB, G_BA, D_A, D_B; cycle consistency (game.lambda_cycle 10),
    identity (game.lambda_identity 0.5 x lambda), pools of 50 past fakes. Use with dataset=unpaired
    (experiment=cyclegan sets the recipe)."""
    type: str = "cyclegan"
    lambda_cycle: float = bounded(10.0, ge=0)      # lambda_A = lambda_B
    lambda_identity: float = bounded(0.5, ge=0)    # identity weight, times lambda_cycle (0.5 x 10 = 5)
    pool_size: int = bounded(50, ge=0, le=1000)             # past fakes per D (0: none)


class CycleGAN(Translation):
    model_type, kind = "cyclegan", "unpaired"
    translates = ("AtoB", "BtoA")     # G_AB and G_BA

    def __init__(self, lambda_cycle: float, lambda_identity: float, pool_size: int, *, cfg, data,
                 device: torch.device):
        super().__init__(cfg, data, device)
        self.lambda_cycle, self.lambda_idt = lambda_cycle, lambda_identity * lambda_cycle
        if self.lambda_idt > 0 and data.source_shape[0] != data.shape[0]:
            raise ConfigError(f"game.lambda_identity compares G_AB(b) with b, which needs the same channels on "
                              f"both sides (A has {data.source_shape[0]}, B {data.shape[0]}): set "
                              f"game.lambda_identity=0")
        self.G_AB, self.G_BA = self.add("G_AB", cfg.optimizer.g), self.add("G_BA", cfg.optimizer.g)
        self.D_A, self.D_B = self.add("D_A", cfg.optimizer.d), self.add("D_B", cfg.optimizer.d)
        share = 0.5 if pool_size else 0.0
        self.pool_A = ReplayBuffer(max(1, pool_size), share, per_image=True, shape=data.source_shape).to(device)
        self.pool_B = ReplayBuffer(max(1, pool_size), share, per_image=True, shape=data.shape).to(device)
        self.players.track("pool_A", self.pool_A)
        self.players.track("pool_B", self.pool_B)
        # In the official order: (1) both generators through frozen discriminators, (2) both
        # discriminators, on the generators' fakes (pooled)
        self.phases = [Phase("G", ("G_AB", "G_BA"), self.g_loss, frozen=("D_A", "D_B")),
                       Phase("D", ("D_A", "D_B"), self.d_loss, after=self.after_d_update)]

    def g_loss(self, step: int, i: int, scratch: dict) -> Terms:
        """Both generators' adversarial terms, the cycle terms and the identity terms."""
        batch = self.data.sample(self.batch_size)
        a, b = batch.source, batch.x
        with self.precision.autocast():
            fake_b, fake_a = self.G_AB.module(a), self.G_BA.module(b)
            rec_a, rec_b = self.G_BA.module(fake_b), self.G_AB.module(fake_a)
            t: Terms = {"loss/G_AB": self.loss.generator(self.D_B.module, b, fake_b)["loss/G"],
                        "loss/G_BA": self.loss.generator(self.D_A.module, a, fake_a)["loss/G"],
                        "loss/cycle_A": F.l1_loss(rec_a, a), "loss/cycle_B": F.l1_loss(rec_b, b)}
            total = t["loss/G_AB"] + t["loss/G_BA"] + self.lambda_cycle * (t["loss/cycle_A"] + t["loss/cycle_B"])
            if self.lambda_idt > 0:
                t["loss/idt_A"] = F.l1_loss(self.G_BA.module(a), a)     # G_BA leaves A images alone
                t["loss/idt_B"] = F.l1_loss(self.G_AB.module(b), b)
                total = total + self.lambda_idt * (t["loss/idt_A"] + t["loss/idt_B"])
            t["loss/G"] = total
        scratch.update(a=a, b=b, fake_a=fake_a, fake_b=fake_b)
        return t

    def d_loss(self, step: int, i: int, scratch: dict) -> Terms:
        """D_A and D_B: real images of their domain against (pooled) fakes, each loss halved (the
        official code); their sum trains both (separate weights)."""
        with self.precision.autocast():
            d_a = self.loss.discriminator(self.D_A.module, scratch["a"], self.pool_A.mix(scratch["fake_a"]))
            d_b = self.loss.discriminator(self.D_B.module, scratch["b"], self.pool_B.mix(scratch["fake_b"]))
            terms: Terms = {f"{k}_A" if k != "loss/D" else "loss/D_A": v for k, v in d_a.items()}
            terms.update({f"{k}_B" if k != "loss/D" else "loss/D_B": v for k, v in d_b.items()})
            terms["loss/D"] = 0.5 * (d_a["loss/D"] + d_b["loss/D"])
        scratch.update(d_a=d_a, d_b=d_b)
        return terms

    def after_d_update(self, terms: Terms, scratch: dict) -> None:
        # each D's own terms (WGAN's clipping reads them per network)
        self.loss.after_d_step(self.D_A.module, scratch["d_a"])
        self.loss.after_d_step(self.D_B.module, scratch["d_b"])

    @torch.no_grad()
    def pictures(self, fixed: dict) -> list[tuple[str, Tensor]]:
        from ganrun.visualize import translation_rows

        batch = fixed["batch"]
        with self.players.evaluating():
            ab = self.G_AB.module(batch.source)
            ba = self.G_BA.module(batch.x)
            return [("samples/A_to_B_to_A", translation_rows([batch.source, ab, self.G_BA.module(ab)])),
                    ("samples/B_to_A_to_B", translation_rows([batch.x, ba, self.G_AB.module(ba)]))]

    @torch.no_grad()
    def generate(self, n: int, seed: int, batch_size: int = 100, label=None, code=None, truncation=None) -> Batch:
        """A -> B translations of the first n held-out A images (with the way back), and B -> A of
        the first n held-out B images in `reverse`: what the unpaired metrics read."""
        held = self.data.heldout() or self.data
        ref = held.reference(n)
        batch_size = min(batch_size, 32)
        with self.players.evaluating():
            def run(G, H, x):
                outs, backs = [], []
                for chunk in x.split(batch_size):
                    out = G(chunk)
                    outs.append(out)
                    backs.append(H(out))
                return torch.cat(outs), torch.cat(backs)

            ab, aba = run(self.G_AB.module, self.G_BA.module, ref.source)
            ba, bab = run(self.G_BA.module, self.G_AB.module, ref.x)
        reverse = Batch(ba, ref.y_target, source=ref.x, reconstruction=bab)
        return Batch(ab, ref.y, source=ref.source, reconstruction=aba, reverse=reverse)

    def translate(self, x: Tensor, direction: str = "AtoB") -> Tensor:
        G = self.G_AB if direction == "AtoB" else self.G_BA
        with self.players.evaluating():
            return G.module(x)


register("game", CycleGANGameConfig, CycleGAN)

