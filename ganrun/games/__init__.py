"""Games: which players a run has, and how one training step goes.

A game is a config-group option (`game=gan`, ...) registered like a model or a loss. It
builds its players (ganrun/players.py) from the run's config, and its `step` reads like the
algorithm it implements, e.g. "(1) update D n_critic times, (2) update G". Everything around
the step (logging, pictures, checkpoints, evaluation, signals) is the loop's (ganrun/loop.py),
so a new kind of GAN is a game file and its YAML, with no `if` in the loop.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ganrun.data import Dataset
from ganrun.terms import Terms
from ganrun.players import Players


class Game:
    """The interface the loop and the tools use. Subclasses build `self.players` in __init__."""

    players: Players
    data: Dataset
    device: torch.device
    # What the game is, for the commands and checks (declared here and by each game, never read from
    # a list of game names elsewhere):
    draws_noise = True      # G maps noise z to samples (the truncation trick applies); not so for translation
    takes_classes = False   # G is asked for a class (ganrun-sample --class, sample(classes=...))
    takes_codes = False     # G takes InfoGAN's categorical code (ganrun-sample --code)
    translates: tuple[str, ...] = ()    # the directions it translates images in (ganrun-translate)

    def step(self, step: int) -> list[Terms]:
        """One training step (`step` counts from 1); returns the terms to log, in order.

        The contract, which the loop relies on and never checks by game:
        - every optimizer step goes through `self.players.update(player_or_players, loss)` (it
          zeroes, scales, back-propagates, averages gradients across ranks, steps, and skips a
          non-finite loss under train.nonfinite=skip, returning False);
        - a player with a moving average (`player.ema`) has `player.ema.update(step)` called after
          its update, in the step;
        - the step ends with `self.players.after_step()` (the LR schedules count steps);
        - among the returned terms, `loss/D` and `loss/G` are the totals each player minimised:
          the loop watches them for divergence (any other name is logged as given).
        A new network or stateful part joins the checkpoint by `players.add` / `players.track` in
        __init__; examples/bigan/ganrun_bigan.py is a complete game outside ganrun."""
        raise NotImplementedError

    def fixed_inputs(self, seed: int) -> dict:
        """What the pictures are drawn from at every logging step (e.g. fixed noise), made from its
        own generator so that pictures never shift the training RNG stream."""
        raise NotImplementedError

    def pictures(self, fixed: dict) -> list[tuple[str, Tensor]]:
        """(TensorBoard tag, uint8 C x H x W picture) pairs of the current players on `fixed`."""
        raise NotImplementedError

    def generate(self, n: int, seed: int, batch_size: int = 500) -> Tensor:
        """n samples (model space) of the trained generator (its moving average when kept), from
        noise seeded by `seed`: the same seed, the same samples, whatever the batch size."""
        raise NotImplementedError

    def status(self) -> dict[str, float]:
        """Plain numbers the loop logs beside the terms (e.g. the instance-noise level)."""
        return {}

    def real_scores(self, batch) -> Optional[Tensor]:
        """D's raw scores of real samples, D in eval mode (the health monitor's held-out gap), or
        None where the game's D does not score single real samples."""
        return None


def latent(n: int, dim: int, prior: str, device: torch.device,
           generator: Optional[torch.Generator] = None, truncation: Optional[float] = None) -> Tensor:
    """z ~ N(0, I) or U[-1, 1]^dim (GAN_NOTES §5, trick 2). With a `truncation` threshold t
    (BigGAN's truncation trick, §7.4), every component with |z_i| > t is drawn again from the
    prior truncated to [-t, t] (by its inverse CDF, so a small t costs no more than a large one):
    the components within the threshold are kept, and z follows the truncated prior."""

    def draw(*shape: int) -> Tensor:
        if prior == "uniform":
            return torch.rand(*shape, device=device, generator=generator) * 2 - 1
        return torch.randn(*shape, device=device, generator=generator)

    z = draw(n, dim)
    if truncation is not None:
        outside = z.abs() > truncation
        k = int(outside.sum())
        if k:
            u = torch.rand(k, device=device, generator=generator)
            if prior == "uniform":
                redrawn = (2 * u - 1) * min(truncation, 1.0)
            else:                     # the normal CDF between -t and t, inverted
                lo = torch.special.ndtr(torch.tensor(-truncation, device=device))
                redrawn = torch.special.ndtri(lo + u * (1 - 2 * lo)).clamp(-truncation, truncation)
            z[outside] = redrawn
    return z
