"""InfoGAN (Chen et al. 2016; GAN_NOTES §7.2): latent codes c beside the noise z, and a Q head on
D's features that must recover them.

G's input is [z, c]: `game.cat_codes` categorical codes of `game.categorical` values each
(one-hot; the paper's MNIST has one of 10, its SVHN four of 10, its CelebA ten of 10) and
`game.continuous` codes drawn from U[-1, 1]. Q reads D's body's features and outputs each
categorical code's logits and, for each continuous code, a factored Gaussian (mean and
log-variance). The mutual-information term, summed over the codes as the paper's is,

    L_I = lambda_cat * sum_j CE(Q_cat_j(x), c_cat_j) + lambda_cont * NLL_Gaussian(c_cont | Q(x))

(the negative of InfoGAN's variational lower bound, up to the constant entropy H(c)) is added to
D's loss, where it trains D's body and Q (Q is a player of its own, stepped with D: the official
code's choice), and to G's loss. Logged: info/cat, info/cont. The run needs no labels; on
labelled data they only measure how well the categorical code found the classes (code_acc).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganrun.config import bounded, choice, register
from ganrun.data import Batch
from ganrun.errors import ConfigError
from ganrun.games.conditional import refuse_for_conditioned_d
from ganrun.games.gan import GAN, GInputs, g_forward
from ganrun.kinds import KINDS
from ganrun.terms import Terms
from ganrun.models import Conditioning


class QHead(nn.Module):
    """Q(c | x) on D's features: categorical logits, and a mean and log-variance per continuous code."""

    def __init__(self, features: int, hidden: int, categorical: int, continuous: int):
        super().__init__()
        self.categorical, self.continuous = categorical, continuous
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.1, inplace=True),
                                 nn.Linear(hidden, categorical + 2 * continuous))

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out = self.net(h)
        k, n = self.categorical, self.continuous
        return out[:, :k], out[:, k:k + n], out[:, k + n:].clamp(-8.0, 8.0)


def gaussian_nll(c: Tensor, mean: Tensor, log_var: Tensor) -> Tensor:
    """-log N(c; mean, exp(log_var)), averaged over samples and summed over the codes."""
    return (0.5 * (log_var + (c - mean) ** 2 / log_var.exp() + math.log(2 * math.pi))).sum(1).mean()


@dataclass
class InfoGANGameConfig:
    """InfoGAN (GAN_NOTES §7.2): categorical and continuous codes beside z, a Q head on D's features
    recovering them. The paper's setting: experiment=infogan."""
    type: str = "infogan"
    categorical: int = bounded(10, ge=0, le=1000)    # K values of each categorical code (0: none)
    cat_codes: int = bounded(1, ge=1, le=16)         # categorical codes of K values each (the paper's SVHN: 4)
    continuous: int = bounded(2, ge=0, le=64)        # continuous codes, each U[-1, 1]
    lambda_cat: float = bounded(1.0, ge=0)           # weight of the categorical term
    lambda_cont: float = bounded(0.1, ge=0)          # weight of the continuous term (its NLL has another scale)
    cont_std: str = choice("learned", "fixed")       # Q's Gaussian for continuous codes: learned std or 1 (official)
    q_hidden: int = bounded(128, ge=1, le=16384)               # Q's hidden layer on D's features
    sweep: int = bounded(9, ge=2, le=33)             # traversal pictures: values of a continuous code, -2 to 2


class InfoGAN(GAN):
    takes_codes = True

    def __init__(self, categorical: int, cat_codes: int, continuous: int, lambda_cat: float, lambda_cont: float,
                 cont_std: str, q_hidden: int, sweep: int, *, cfg, data, device: torch.device):
        if categorical + continuous == 0:
            raise ConfigError("game=infogan needs at least one code: set game.categorical or game.continuous")
        self.categorical, self.continuous, self.sweep = categorical, continuous, sweep
        self.cat_codes = cat_codes if categorical else 0
        self.cat_dims = self.categorical * self.cat_codes  # the one-hot codes' width in G's input
        self.lambda_cat, self.lambda_cont = lambda_cat, lambda_cont
        self.fixed_std = cont_std == "fixed"
        super().__init__(cfg, data, device)
        with torch.no_grad():                  # the size of D's features, from one probe
            probe = self.D.module.eval()(torch.zeros(2, *data.shape, device=device)).features
        self.D.module.train()
        Q = QHead(probe.shape[1], q_hidden, self.cat_dims, continuous).to(device)
        self.Q = self.players.add("Q", Q, cfg.optimizer.d, cfg.train.lr_schedule, cfg.train.steps,
                                  hold=cfg.train.lr_hold_steps)
        self.phases = self.phase_table(d_players=("D", "Q"))      # Q learns from D's loss, with D

    def check(self, cfg) -> None:
        super().check(cfg)
        refuse_for_conditioned_d(cfg, self.loss, "game=infogan")

    def conditioning(self) -> Conditioning:
        return Conditioning(features=True, g_extra=self.cat_dims + self.continuous)

    def codes(self, n: int, generator: torch.Generator | None = None, cat: Optional[Tensor] = None) -> Tensor:
        """[one-hot categorical codes, continuous codes ~ U[-1, 1]] for n samples. `cat`: the values of
        the categorical codes, (n, cat_codes), or (n,) for the first code (the others drawn)."""
        m, k = max(self.cat_codes, 1), max(self.categorical, 1)
        if cat is None:
            cat = torch.randint(k, (n, m), device=self.device, generator=generator)
        elif cat.dim() == 1:
            cat = cat[:, None]
            if m > 1:
                cat = torch.cat([cat, torch.randint(k, (n, m - 1), device=self.device, generator=generator)], dim=1)
        one_hot = (F.one_hot(cat, self.categorical).flatten(1).float() if self.categorical
                   else cat.new_zeros(n, 0).float())
        cont = torch.rand(n, self.continuous, device=self.device, generator=generator) * 2 - 1
        return torch.cat([one_hot, cont], dim=1)

    def g_inputs(self, n: int, generator: torch.Generator | None = None) -> GInputs:
        c = self.codes(n, generator)
        return GInputs(torch.cat([self.z(n, generator), c], dim=1), None, c)

    def paired(self, g_in: GInputs) -> GInputs:
        h, width = len(g_in.z) // 2, g_in.codes.shape[1]
        g_in.codes[h:2 * h] = g_in.codes[:h]
        g_in.z[h:2 * h, -width:] = g_in.codes[:h]
        return g_in

    def information(self, terms: Terms, features: Tensor, codes: Tensor) -> Tensor:
        """lambda-weighted L_I of Q on these features against the codes G was given."""
        logits, mean, log_var = self.Q.module(features)
        k, m = self.categorical, self.cat_codes
        info = features.new_zeros(())
        if k:
            # one cross-entropy per code, averaged over the samples and summed over the codes
            cat = F.cross_entropy(logits.reshape(-1, k), codes[:, :k * m].reshape(-1, k).argmax(1))
            cat = cat * m if m > 1 else cat
            terms["info/cat"] = cat.detach()
            info = info + self.lambda_cat * cat
        if self.continuous:
            # std 1 (the official code's fix_std): 0.5 (c - mean)^2 + const; learned: a factored Gaussian
            cont = gaussian_nll(codes[:, k * m:], mean, torch.zeros_like(log_var) if self.fixed_std else log_var)
            terms["info/cont"] = cont.detach()
            info = info + self.lambda_cont * cont
        return info

    def d_extra(self, terms: Terms, outputs: dict, batch: Batch, g_in: GInputs) -> None:
        terms["loss/D"] = terms["loss/D"] + self.information({}, outputs["fake"].features, g_in.codes)

    def g_extra(self, terms: Terms, outputs: dict, g_in: GInputs) -> None:
        terms["loss/G"] = terms["loss/G"] + self.information(terms, outputs["fake"].features, g_in.codes)

    # -- pictures and samples -------------------------------------------------
    def fixed_inputs(self, seed: int) -> dict:
        fixed = super().fixed_inputs(seed)
        if not KINDS[self.data.kind].image_like or not self.categorical:
            return fixed
        rng = torch.Generator(self.device).manual_seed(seed)
        cols, k, m, K = 8, self.categorical, self.cat_codes, self.cat_dims
        z = self.z(cols, generator=rng)
        # the other categorical codes: one draw per column, the same down the rows
        others = torch.randint(k, (cols, m), device=self.device, generator=rng) if m > 1 else None

        def rows_of(j: int, per_row: int, columns: Tensor) -> Tensor:
            """code j takes each value on a row (per_row images); the other codes are `columns`'s."""
            values = torch.arange(k, device=self.device).repeat_interleave(per_row)
            if others is None:
                return values
            cat = columns.repeat(k, 1)
            cat[:, j] = values
            return cat

        for j in range(m):                                 # rows: code j's values; columns: z
            codes = self.codes(k * cols, rng, cat=rows_of(j, cols, others))
            codes[:, K:] = 0                               # continuous codes at their middle
            fixed["cat" if j == 0 else f"cat{j}"] = GInputs(torch.cat([z.repeat(k, 1), codes], dim=1), None, codes)
        sweep = torch.linspace(-2, 2, self.sweep, device=self.device)
        for j in range(self.continuous):                   # rows: the first code's values; columns: code j
            first = None if others is None else others[:1].repeat(self.sweep, 1)
            c = self.codes(k * self.sweep, rng, cat=rows_of(0, self.sweep, first))
            c[:, K:] = 0
            c[:, K + j] = sweep.repeat(k)
            fixed[f"cont{j}"] = GInputs(torch.cat([z[:1].repeat(k * self.sweep, 1), c], dim=1), None, c)
        return fixed

    @torch.no_grad()
    def pictures(self, fixed: dict) -> list[tuple[str, Tensor]]:
        if "cat" not in fixed:
            return super().pictures(fixed)
        from ganrun.visualize import labelled_rows

        names = [f"c={i}" for i in range(self.categorical)]
        with self.players.evaluating():
            G = self.G.eval_module
            out = []
            for j in range(self.cat_codes):
                key = "cat" if j == 0 else f"cat{j}"
                out.append((f"samples/codes_{key}", labelled_rows(g_forward(G, fixed[key]).float().cpu(), 8, names)))
            for j in range(self.continuous):
                fake = g_forward(G, fixed[f"cont{j}"]).float().cpu()
                out.append((f"samples/codes_cont{j}", labelled_rows(fake, self.sweep, names)))
        return out

    def sample_inputs(self, n: int, generator: torch.Generator, label: Optional[int] = None,
                      code: Optional[int] = None) -> GInputs:
        if code is None:
            return self.g_inputs(n, generator)
        if not 0 <= code < self.categorical:
            raise ConfigError(f"--code {code}: this InfoGAN's categorical code takes 0 to {self.categorical - 1}")
        # --code sets the first categorical code; any others are drawn
        c = self.codes(n, generator, cat=torch.full((n,), code, device=self.device, dtype=torch.long))
        return GInputs(torch.cat([self.z(n, generator), c], dim=1), None, c)

    def categorical_code(self, g_in: GInputs) -> Optional[Tensor]:
        return g_in.codes[:, :self.categorical].argmax(1) if self.categorical else None


register("game", InfoGANGameConfig, InfoGAN)

