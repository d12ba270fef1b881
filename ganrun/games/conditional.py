"""Class-conditional GANs (GAN_NOTES §7.1): G(z, y) and D(x, y), in the three standard forms.

- `cgan` (Mirza & Osindero 2014): a learned class embedding joined to z in G and to D's input
  (as extra input planes for images).
- `acgan` (Odena et al. 2017): D also predicts the class. D adds the cross-entropy of its class
  logits on real samples (and with `game.aux_fake=true`, the paper's, on fake ones too), G that on
  fake ones, each weighted by `game.aux_weight`; logged as loss/aux_D, loss/aux_G and D's
  real-image class accuracy D/acc_real. Two choices make it work on digits (README, issue 26):
  G takes the class by multiplying z by a class embedding (`mul`, as the AC-GAN script people copy,
  PyTorch-GAN's acgan.py, does): joined to z instead, the class is a shortcut G takes while it
  ignores z, and each class collapses to one image; and D's classifier learns from real images
  only: the paper's fake term lets D learn a class mapping of its own for fakes, which G follows.
- `projection` (Miyato & Koyama 2018): D's score gains <embed(y), phi(x)>, phi its sum-pooled
  features; G's batch norms are class-conditional (per-class gain and bias). With loss=hinge and
  spectral norm, the SNGAN/BigGAN recipe: `experiment=cgan_projection`.

The step is the classic game's (ganrun/games/gan.py) with labels: real batches bring theirs,
fake ones are asked for classes drawn uniformly (or by the real class frequencies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ganrun.config import bounded, choice, register
from ganrun.data import Batch
from ganrun.errors import ConfigError
from ganrun.games.gan import GAN, GInputs, g_forward
from ganrun.kinds import KINDS
from ganrun.terms import Terms
from ganrun.models import Conditioning

FORMS = {"cgan": ("concat", "concat", False), "acgan": ("mul", "none", True),
         "projection": ("cbn", "projection", False)}     # form -> (G, D, D classifies)


@dataclass
class ConditionalGameConfig:
    """Class-conditional GANs (GAN_NOTES §7.1): G(z, y) and D(x, y) on labelled data.
    game.form: cgan (default; a class embedding joined to z and to D's input), projection (cBN in
    G, projection D) or acgan (D also classifies; game.aux_weight weighs the class cross-entropies)."""
    type: str = "conditional"
    # cgan: class embeddings joined to z and to D's input; projection: conditional BN in G and a
    # projection D; acgan: D also classifies
    form: str = choice("cgan", "projection", "acgan")
    embed_dim: int = bounded(32, ge=1, le=4096)                   # class embedding joined to z / to D's input (cgan)
    aux_weight: float = bounded(1.0, ge=0)               # AC-GAN: weight of the class cross-entropies
    aux_fake: bool = False                               # AC-GAN: D's classifier also learns on fakes (the paper: true)
    fake_labels: str = choice("uniform", "frequency")    # classes asked of G: uniform, or as in the data
    columns: int = bounded(8, ge=1, le=64)               # class grid: samples per class (one z per column)


class ConditionalGAN(GAN):
    takes_classes = True
    reads = ("y",)

    def __init__(self, form: str, embed_dim: int, aux_weight: float, aux_fake: bool, fake_labels: str, columns: int,
                 *, cfg, data, device: torch.device):
        self.form, self.embed_dim, self.aux_weight, self.columns = form, embed_dim, aux_weight, columns
        self.aux_fake = aux_fake
        self.num_classes = data.num_classes
        super().__init__(cfg, data, device)
        # fake_labels=frequency: the real classes' shares, counted when first needed (sampling a
        # trained G, or building the game on the meta device to check a file, reads no data)
        self.class_freq, self._count_classes_of = None, data if fake_labels == "frequency" else None

    def check(self, cfg) -> None:
        super().check(cfg)
        refuse_for_conditioned_d(cfg, self.loss, "game=conditional")

    def conditioning(self) -> Conditioning:
        g, d, classifier = FORMS[self.form]
        return Conditioning(num_classes=self.num_classes, g=g, d=d, embed_dim=self.embed_dim, classifier=classifier)

    def fake_classes(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if self._count_classes_of is not None:
            counts = torch.bincount(self._count_classes_of.reference(None).y.cpu(), minlength=self.num_classes)
            self.class_freq = (counts.double() / counts.sum()).float().to(self.device)
            self._count_classes_of = None
        if self.class_freq is not None:
            return torch.multinomial(self.class_freq, n, replacement=True, generator=generator)
        return torch.randint(self.num_classes, (n,), device=self.device, generator=generator)

    def g_inputs(self, n: int, generator: torch.Generator | None = None) -> GInputs:
        return GInputs(self.z(n, generator), self.fake_classes(n, generator))

    def real_labels(self, batch: Batch) -> Optional[Tensor]:
        return batch.y

    def paired(self, g_in: GInputs) -> GInputs:
        h = len(g_in.y) // 2
        g_in.y[h:2 * h] = g_in.y[:h]
        return g_in

    def d_extra(self, terms: Terms, outputs: dict, batch: Batch, g_in: GInputs) -> None:
        if self.form != "acgan":
            return
        logits_real, logits_fake = outputs["real"].logits, outputs["fake"].logits
        aux = F.cross_entropy(logits_real, batch.y)
        if self.aux_fake:
            aux = aux + F.cross_entropy(logits_fake, g_in.y)
        terms["loss/aux_D"] = aux.detach()
        terms["D/acc_real"] = (logits_real.detach().argmax(1) == batch.y).float().mean()
        terms["loss/D"] = terms["loss/D"] + self.aux_weight * aux

    def g_extra(self, terms: Terms, outputs: dict, g_in: GInputs) -> None:
        if self.form != "acgan":
            return
        aux = F.cross_entropy(outputs["fake"].logits, g_in.y)
        terms["loss/aux_G"] = aux.detach()
        terms["loss/G"] = terms["loss/G"] + self.aux_weight * aux

    # -- pictures and samples -------------------------------------------------
    def fixed_inputs(self, seed: int) -> dict:
        """The class grid: one row per class, the same z along each column."""
        if not KINDS[self.data.kind].image_like:
            return super().fixed_inputs(seed)
        rng = torch.Generator(self.device).manual_seed(seed)
        z = self.z(self.columns, generator=rng).repeat(self.num_classes, 1)
        y = torch.arange(self.num_classes, device=self.device).repeat_interleave(self.columns)
        return {"g_in": GInputs(z, y)}

    @torch.no_grad()
    def pictures(self, fixed: dict) -> list[tuple[str, Tensor]]:
        if not KINDS[self.data.kind].image_like:
            return super().pictures(fixed)
        from ganrun.visualize import labelled_rows

        with self.players.evaluating():
            fake = g_forward(self.G.eval_module, fixed["g_in"])
        return [("samples/classes", labelled_rows(fake.float().cpu(), self.columns, self.data.class_names))]

    def sample_inputs(self, n: int, generator: torch.Generator, label: Optional[int] = None,
                      code: Optional[int] = None) -> GInputs:
        g_in = GInputs(self.z(n, generator), None)
        g_in.y = (torch.full((n,), label, device=self.device, dtype=torch.long) if label is not None
                  else torch.zeros(n, device=self.device, dtype=torch.long))    # round robin, set by generate
        return g_in


register("game", ConditionalGameConfig, ConditionalGAN)


def refuse_for_conditioned_d(cfg, loss, game: str) -> None:
    """Tricks and losses a D that reads labels or codes cannot be combined with."""
    if cfg.tricks.pack > 1:
        raise ConfigError(f"tricks.pack={cfg.tricks.pack} with {game}: a PacGAN pack mixes samples of "
                          f"different classes or codes, which D scores one by one; use tricks.pack=1")
    if cfg.tricks.replay > 0:
        raise ConfigError(f"tricks.replay with {game}: past fakes are kept without their classes or codes; "
                          f"use tricks.replay=0")
    if loss.autoencoder:
        raise ConfigError(f"loss=began with {game}: BEGAN's D is an autoencoder with no class input or "
                          f"features to share; choose another loss")

