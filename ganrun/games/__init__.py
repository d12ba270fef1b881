"""Games: which players a run has, and how one training step goes.

A game is a config-group option (`game=gan`, ...) registered like a model or a loss. It
builds its players (ganrun/players.py) from the run's config and declares its phases: a table
that reads like the algorithm it implements (stylegan2-ada's phase list, junyanz's
`optimize_parameters`):

    self.phases = [Phase("D", players=("D",), loss=self.d_loss, repeat=n_critic),
                   Phase("G", players=("G",), loss=self.g_loss, frozen=("D",))]

"(1) update D n_critic times, (2) update G through a frozen D". The game's loss methods hold
only its maths; the shared step below does the rest for every game: freezing, the optimizer
step (with gradient scaling, skipping and averaging across ranks, in Players.update), the
moving averages, the LR schedules. Everything around the step (logging, pictures, checkpoints,
evaluation, signals) is the loop's (ganrun/loop.py), so a new kind of GAN is a game file and
its YAML, with no `if` in the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor

from ganrun.data import Dataset
from ganrun.terms import Terms
from ganrun.players import Players


@dataclass(frozen=True)
class Phase:
    """One row of a game's phase table: which players one loss updates, and how often.

    `loss(step, i, scratch)` computes the terms of the i-th update of this step (i < repeat);
    their total, `terms["loss/<name>"]`, is what `players` minimise together (one backward pass,
    an optimizer step each). `scratch` is a dict that lives for one step, for what a later
    phase reuses (DCGAN's G update reuses the fakes of D's last one; it holds what the loss put
    there even when the update was skipped). `before(step, scratch)`, when given, runs once a
    step before the phase's first update (instance noise's level, ADA's probability);
    `after(terms, scratch)` after each update that was taken, before the moving averages follow
    (WGAN's clipping, BEGAN's k_t). While the phase runs, its players collect gradients and the
    `frozen` ones do not; a player a phase names in neither keeps the state it had."""
    name: str
    players: tuple[str, ...]
    loss: Callable[[int, int, dict], Terms]
    repeat: int = 1
    frozen: tuple[str, ...] = ()
    before: Optional[Callable[[int, dict], None]] = None
    after: Optional[Callable[[Terms, dict], None]] = None

    def __post_init__(self) -> None:
        # Phase("G", "G_AB") means the player G_AB, not the letters of its name
        for key in ("players", "frozen"):
            value = getattr(self, key)
            object.__setattr__(self, key, (value,) if isinstance(value, str) else tuple(value))

    @property
    def total(self) -> str:
        return f"loss/{self.name}"


class Game:
    """The interface the loop and the tools use. Subclasses build `self.players` and `self.phases`
    in __init__."""

    players: Players
    phases: list[Phase]
    data: Dataset
    device: torch.device
    # What the game is, for the commands and checks (declared here and by each game, never read from
    # a list of game names elsewhere):
    draws_noise = True      # G maps noise z to samples (the truncation trick applies); not so for translation
    takes_classes = False   # G is asked for a class (ganrun-sample --class, sample(classes=...))
    takes_codes = False     # G takes InfoGAN's categorical code (ganrun-sample --code)
    translates: tuple[str, ...] = ()    # the directions it translates images in (ganrun-translate)
    # The fields of the data's batches its step reads beyond the samples x (ganrun/data/__init__.py
    # FIELDS: "y", class labels), checked against the data before the game is made (builder.py)
    reads: tuple[str, ...] = ()
    # Whether its step can take every player's gradient at the same weights (train.updates=simultaneous)
    simultaneous_updates = False

    @property
    def double_backward(self) -> bool:
        """Whether a D loss of its step differentiates through a gradient (a gradient penalty), which
        torch.compile cannot: train.compile then leaves D eager. By default its loss says."""
        return getattr(getattr(self, "loss", None), "double_backward", False)

    def step(self, step: int) -> list[Terms]:
        """One training step (`step` counts from 1): the phases in order; returns the terms of
        every update taken, in order.

        The loop relies on this and never checks it by game: every optimizer step goes through
        `players.update` (zeroing, scaling, backward, averaging gradients across ranks, stepping,
        and skipping a non-finite loss under train.nonfinite=skip); a player's moving average
        (`player.ema`) follows each of its updates; the LR schedules count steps
        (`players.after_step`); `loss/D` and `loss/G` are the totals that the loop watches for
        divergence. A game that overrides `step` keeps these itself. A new network or stateful
        part joins the checkpoint by `players.add` / `players.track` in __init__;
        examples/bigan/ganrun_bigan.py is a complete game outside ganrun."""
        logged: list[Terms] = []
        scratch: dict = {}
        for phase in self.phases:
            updated = [self.players[name] for name in phase.players]
            for player in updated:
                player.requires_grad(True)
            for name in phase.frozen:
                self.players[name].requires_grad(False)
            if phase.before is not None:
                phase.before(step, scratch)
            for i in range(phase.repeat):
                terms = phase.loss(step, i, scratch)
                if self.players.update(updated, terms[phase.total]):
                    if phase.after is not None:
                        phase.after(terms, scratch)
                    for player in updated:
                        if player.ema is not None:
                            player.ema.update(step)
                    logged.append(terms)
        self.players.after_step()
        return logged

    def check_phases(self) -> None:
        """The phase table names only players the game added, each phase updating at least one
        (checked once, when the game is built, rather than at the first step)."""
        if type(self).step is Game.step and not getattr(self, "phases", None):
            raise TypeError(f"{type(self).__name__} has no phase table: set self.phases in __init__ "
                            f"(or override step)")
        known = set(self.players.players)
        for phase in getattr(self, "phases", None) or []:
            unknown = [n for n in (*phase.players, *phase.frozen) if n not in known]
            both = [n for n in phase.players if n in phase.frozen]
            why = (f"names no player {', '.join(unknown)}" if unknown else
                   "updates nothing" if not phase.players else
                   f"both updates and freezes {', '.join(both)}" if both else
                   f"repeats {phase.repeat} times" if phase.repeat < 1 else "")
            if why:
                raise TypeError(f"{type(self).__name__}: phase {phase.name!r} {why} (its players: "
                                f"{', '.join(sorted(known)) or 'none'}; repeat at least 1)")

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
