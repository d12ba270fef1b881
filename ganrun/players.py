"""The run's players and everything else with state, in one registry.

A player is a network with what trains it: its optimizer, LR schedule, gradient scaler and,
optionally, an exponential moving average of its weights (G_ema). Everything else a run
depends on (the loss's buffers, the replay buffer, the data position, the RNGs, the open
logging window) is registered beside the players as a part with `state_dict()`.

Checkpoint save and restore, `.to(device)`, train/eval modes and the LR schedules are loops
over this registry: a new network (a Q head, a second generator, K generators) joins all of
them, and exact resume, by being added here.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Iterator, Optional, Protocol

import torch
from torch import nn

from ganrun import distributed
from ganrun.errors import CheckpointError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Stateful(Protocol):
    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> Any: ...


class Precision:
    """Mixed precision: autocast for the forward passes (`device.precision` bf16 or fp16; fp16
    also gives each player a gradient scaler, so small gradients do not flush to zero).
    Gradient penalties are computed in float32 (see losses.gradient_penalty)."""

    def __init__(self, precision: str, device: torch.device):
        self.precision, self.device = precision, device
        self.dtype = DTYPES.get(precision)
        if precision == "fp16":
            # The scaler skips steps whose gradients overflowed (the first ones, while it finds its
            # scale); the LR schedule still advances with the step, which PyTorch would warn about.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")


class EMA:
    """An exponential moving average of a network's weights (G_ema), used for samples and metrics.

    Written here rather than with torch.optim.swa_utils.AveragedModel because that class
    reads its update counter from the device on every update, a host sync per G step.
    Floating-point parameters and buffers are averaged with one fused lerp; integer
    buffers (BatchNorm's counters) are copied. Until `start` steps, the average tracks the
    network exactly.
    """

    def __init__(self, module: nn.Module, decay: float, start: int = 0):
        import copy

        self.decay, self.start = decay, start
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        own = list(self.module.parameters()) + list(self.module.buffers())
        src = list(module.parameters()) + list(module.buffers())
        self._float = [(a, b) for a, b in zip(own, src) if a.is_floating_point()]
        self._other = [(a, b) for a, b in zip(own, src) if not a.is_floating_point()]

    @torch.no_grad()
    def update(self, step: int) -> None:
        ema_t = [a for a, _ in self._float]
        src_t = [b.detach() for _, b in self._float]
        if step <= self.start:
            torch._foreach_copy_(ema_t, src_t)
        else:
            torch._foreach_lerp_(ema_t, src_t, 1.0 - self.decay)
        for a, b in self._other:
            a.copy_(b)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)


class Player:
    """A network and what trains it. `update(loss)` is one optimizer step of this player:
    zero_grad, (scaled) backward, step."""

    def __init__(self, module: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
                 scheduler: Optional[torch.optim.lr_scheduler.LRScheduler] = None,
                 scaler: Optional[torch.amp.GradScaler] = None, ema: Optional[EMA] = None):
        self.module, self.optimizer, self.scheduler, self.ema = module, optimizer, scheduler, ema
        self.scaler = scaler if scaler is not None else torch.amp.GradScaler(enabled=False)
        self.params = list(module.parameters())     # cached: walking modules every step is slow
        self.trainable: Optional[bool] = None        # as requires_grad last set it (None: not yet)

    @property
    def eval_module(self) -> nn.Module:
        """The network for samples and metrics: the moving average when one is kept."""
        return self.ema.module if self.ema is not None else self.module

    def zero_grad(self) -> None:
        """Forget the last update's gradients (what optimizer.zero_grad(set_to_none=True) does,
        without its profiler bookkeeping on every update)."""
        for p in self.params:
            p.grad = None

    def requires_grad(self, flag: bool) -> None:
        """Frozen (False), its weights collect no gradients: another player's update skips them.
        Setting what is already set walks no weights (the game's step asks every phase)."""
        if flag is self.trainable:
            return
        for p in self.params:
            p.requires_grad_(flag)
        self.trainable = flag

    def grad_norms(self, scaler: torch.amp.GradScaler) -> list[torch.Tensor]:
        """The norm of each of this player's gradients (unscaled by the scaler of the backward pass
        that made them), on the device: no sync. Their total is taken at log time (`total_norms`)."""
        if scaler.is_enabled():
            scaler.unscale_(self.optimizer)
        grads = [p.grad for p in self.params if p.grad is not None]
        return torch._foreach_norm(grads) if grads else []      # (no gradients: a norm of 0 at log time)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(),
                "ema": self.ema.state_dict() if self.ema is not None else None,
                "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict, name: str, source: str) -> None:
        """The file gives weights, moving averages and the optimizer's running statistics; every
        hyperparameter (learning rates, betas, schedule, scaler factors, for-each or fused) stays this
        run's own, from its config, so a file cannot change how the run trains."""
        from ganrun.checkpoint import load_weights

        load_weights(self.module, state["module"], name, source)
        if self.ema is not None:
            load_weights(self.ema.module, state.get("ema") or state["module"], f"{name}_ema", source)
        for part in ("optimizer", "scheduler", "scaler"):
            own = getattr(self, part)
            if own is None or state.get(part) is None:
                continue
            try:
                if part == "optimizer":
                    load_optimizer(own, state[part])
                elif part == "scheduler":
                    load_schedule(own, state[part])
                else:
                    load_scaler(own, state[part])
            except Exception as e:      # a hand-edited or foreign file: any shape of wrongness
                raise CheckpointError(f"{source}: the {part} state of {name} does not fit this run "
                                      f"({type(e).__name__}: {str(e).strip()[:100]})") from None


def load_optimizer(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """The optimizer's per-parameter state (Adam's moments and step) from a file; its hyperparameters
    stay this run's. ValueError unless every per-parameter tensor has its parameter's shape (or is a
    scalar, such as Adam's step): torch checks neither when loading, and a wrong one would fail at
    the first step, far from the file."""
    fresh = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    # before torch's load, which copies (casts) every tensor it is given: a few per parameter, none
    # larger than the largest parameter (a file's extra keys would each become a copy)
    largest = max((p.numel() for g in optimizer.param_groups for p in g["params"]), default=0)
    per_param = state.get("state") if isinstance(state, dict) else None
    if not isinstance(per_param, dict):
        raise ValueError("its per-parameter state is not a mapping")
    for values in per_param.values():
        if not isinstance(values, dict) or len(values) > 8:
            raise ValueError("a parameter's state is not a mapping of at most 8 entries")
        for key, value in values.items():
            if isinstance(value, torch.Tensor) and value.numel() > max(1, largest):
                raise ValueError(f"its {str(key)[:40]} has {value.numel()} elements, more than any weight")
    optimizer.load_state_dict(state)
    for group, own in zip(optimizer.param_groups, fresh):
        group.update(own)
        for param in group["params"]:
            for key, value in optimizer.state.get(param, {}).items():
                if value is None:               # SGD without momentum keeps no buffer
                    continue
                if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                    raise ValueError(f"its {key} is not a floating-point tensor")
                if value.dim() > 0 and value.shape != param.shape:
                    raise ValueError(f"its {key} has shape {list(value.shape)} where the weight has "
                                     f"{list(param.shape)}")
                if not bool(torch.isfinite(value).all()):
                    raise ValueError(f"its {key} holds NaN or infinite values")
                # running means of squared gradients (Adam's, RMSprop's): a negative one is a square
                # root of a negative number at the next step, which looked like a learning rate too high
                if "sq" in str(key) and bool((value < 0).any()):
                    raise ValueError(f"its {key} holds negative values, which a mean of squares never has")


def load_schedule(scheduler: torch.optim.lr_scheduler.LambdaLR, state: dict) -> None:
    """How far the LR schedule has gone (its step) from a file, and nothing else: the rates are
    recomputed from this run's config (the same numbers for a file that ganrun wrote). Not
    scheduler.load_state_dict, which sets every attribute the file names (its methods too)."""
    step = state.get("last_epoch") if isinstance(state, dict) else None
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2 ** 62:
        raise ValueError(f"its step is {str(step)[:40]!r}")
    lrs = [base * rule(step) for base, rule in zip(scheduler.base_lrs, scheduler.lr_lambdas)]
    # what `step` calls of scheduler.step() leave behind: the count, the step and the rates
    scheduler.last_epoch, scheduler._step_count, scheduler._last_lr = step, step + 1, lrs
    for group, lr in zip(scheduler.optimizer.param_groups, lrs):
        group["lr"] = lr
    scheduler._last_lr = lrs


def load_scaler(scaler: torch.amp.GradScaler, state: dict) -> None:
    """A gradient scaler's scale and growth count from a file; its factors stay this run's."""
    fresh = scaler.state_dict()
    if not fresh:                       # a disabled scaler (fp32, bf16) keeps nothing
        return
    scale, tracker = state.get("scale"), state.get("_growth_tracker")
    if not (_number(scale) and math.isfinite(scale) and scale > 0 and isinstance(tracker, int) and tracker >= 0):
        raise ValueError(f"its scale {str(scale)[:20]!r} or growth count {str(tracker)[:20]!r} is out of range")
    scaler.load_state_dict({**fresh, "scale": float(scale), "_growth_tracker": tracker})


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Players:
    """The registry: players by name, and the other stateful parts by name (restored in the order
    they were added; add the RNGs last)."""

    def __init__(self, precision: Precision, skip_nonfinite: bool = False):
        self.precision = precision
        self.skip_nonfinite = skip_nonfinite   # train.nonfinite=skip: a host sync per update
        self.players: dict[str, Player] = {}
        self.parts: dict[str, Stateful] = {}
        self.skipped = 0                       # updates skipped because their loss was not finite
        self.grad_norms: dict[str, list] = {}  # health/grad_<name>: each noted update's per-tensor norms
        # The training loop turns this on for the updates of its logging steps only (a norm per update
        # costs about 4% of a small MLP's step, bench/step_speed.py --pieces); off, nothing is kept.
        self.note_grads = False
        self.optional: set[str] = set()
        self.world = distributed.world_size()  # processes of a torchrun launch (read once, not per update)

    def add(self, name: str, module: nn.Module, optimizer_cfg=None, schedule: Optional[str] = None,
            steps: int = 0, ema: Optional[EMA] = None, hold: int = 0) -> Player:
        """Register a network; with an optimizer config (an `optimizer` option node) it trains."""
        from ganrun.config import make
        from ganrun.optimizers import lr_schedule

        optimizer = make("optimizer", optimizer_cfg, params=module.parameters()) if optimizer_cfg is not None else None
        # a constant schedule is no schedule: nothing to step every step
        scheduled = optimizer is not None and schedule and schedule != "constant"
        scheduler = lr_schedule(optimizer, schedule, steps, hold) if scheduled else None
        player = Player(module, optimizer, scheduler, self.precision.scaler(), ema)
        player.name = name
        self.players[name] = player
        return player

    def track(self, name: str, part: Stateful, optional: bool = False) -> None:
        """Register a stateful part that is not a network (saved and restored with the players).
        An optional part keeps its fresh state when a checkpoint (of an earlier version) lacks it."""
        self.parts[name] = part
        if optional:
            self.optional.add(name)

    def __getitem__(self, name: str) -> Player:
        return self.players[name]

    def __iter__(self) -> Iterator[tuple[str, Player]]:
        return iter(self.players.items())

    def update(self, players: Player | list[Player], loss: torch.Tensor) -> bool:
        """One optimizer step of `players` (one, or several sharing this loss: InfoGAN's D and Q)
        on `loss`; False when train.nonfinite=skip skipped it."""
        if self.skip_nonfinite and not distributed.all_true(bool(torch.isfinite(loss))):   # a sync anyway
            self.skipped += 1
            return False
        group = [players] if isinstance(players, Player) else players
        for p in group:
            p.zero_grad()
        scaler = group[0].scaler           # one scale for one backward pass
        scaler.scale(loss).backward()
        if self.world > 1:                 # several processes: every rank steps with the mean gradient
            distributed.average_gradients([q for p in group for q in p.params])
        for p in group:
            if self.note_grads:
                self._note_grad(p, scaler)
            scaler.step(p.optimizer)
        scaler.update()
        return True

    def _note_grad(self, player: Player, scaler: torch.amp.GradScaler) -> None:
        self.grad_norms.setdefault(player.name, []).append(player.grad_norms(scaler))

    def pop_grad_norms(self) -> dict[str, torch.Tensor]:
        """health/grad_<name>: each player's mean gradient norm over the updates noted since the last
        call (on the device)."""
        out = {f"health/grad_{name}": total_norms(updates, self.precision.device).mean()
               for name, updates in self.grad_norms.items()}
        self.grad_norms = {}
        return out

    def after_step(self) -> None:
        """Once per training step: every LR schedule advances (they count steps, not updates)."""
        for player in self.players.values():
            if player.scheduler is not None:
                player.scheduler.step()

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Every network in eval mode (batch norm uses its running statistics), then back."""
        modes = [(m, m.training) for p in self.players.values() for m in (p.module, p.eval_module)]
        for m, _ in modes:
            m.eval()
        try:
            yield
        finally:
            for m, training in modes:
                m.train(training)

    def modules(self) -> list[nn.Module]:
        return [p.module for p in self.players.values()]

    def state_dict(self) -> dict:
        return {"players": {name: p.state_dict() for name, p in self.players.items()},
                "state": self.parts_state(), "skipped": self.skipped}

    def parts_state(self) -> dict:
        """The stateful parts other than the networks: all that differs between the processes of a
        data-parallel run (RNG streams, buffers, data position), saved for each rank."""
        return {name: part.state_dict() for name, part in self.parts.items()}

    def load_state_dict(self, state: dict, source: str) -> None:
        stored = state.get("players", {})
        skipped = state.get("skipped", 0)
        if isinstance(skipped, bool) or not isinstance(skipped, int) or skipped < 0:
            raise CheckpointError(f"{source}: its count of skipped updates is {str(skipped)[:20]!r}, not a count")
        if set(stored) != set(self.players):
            raise CheckpointError(f"{source}: its players ({', '.join(sorted(stored)) or 'none'}) are not "
                                  f"this run's ({', '.join(sorted(self.players))}): it was written by another "
                                  f"game or model")
        for name, player in self.players.items():
            player.load_state_dict(stored[name], name, source)
        self.load_parts(state.get("state", {}), source)
        self.skipped = skipped

    def load_parts(self, parts: dict, source: str) -> None:
        for name, part in self.parts.items():
            if name not in parts:
                if name in self.optional:
                    continue
                raise CheckpointError(f"{source}: it has no {name} state, which this run needs")
            try:
                part.load_state_dict(parts[name])
                # a part that can say its loaded values are impossible (BEGAN's k outside [0, 1], ...)
                why = part.check_state() if hasattr(part, "check_state") else None
                if why:
                    raise ValueError(why)
            except CheckpointError:
                raise
            except Exception as e:
                raise CheckpointError(f"{source}: its {name} state does not fit this run "
                                      f"({type(e).__name__}: {str(e).strip()[:100]})") from None


def total_norms(updates: list[list[torch.Tensor]], device: torch.device) -> torch.Tensor:
    """The total gradient norm of each update, [n], from each update's per-tensor norms."""
    if len({len(norms) for norms in updates}) == 1 and updates[0]:     # one stack for the whole window
        flat = torch.stack([n for norms in updates for n in norms]).float()
        return torch.linalg.vector_norm(flat.reshape(len(updates), -1), dim=1)
    zero = torch.zeros((), device=device)        # an update whose weights had no gradients
    return torch.stack([torch.linalg.vector_norm(torch.stack(norms).float()) if norms else zero for norms in updates])
