"""Training tricks of GAN_NOTES §5 that act inside the loop (each a switch under `tricks.*`).

The label tricks live in ganrun/losses.py (`Labels`), spectral normalisation in
ganrun/models/__init__.py, the prior in ganrun/games/, G_ema in ganrun/players.py, and two
time-scale learning rates are just the two optimizer configs.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn


class DView:
    """What D sees: DiffAugment/ADA, instance noise and PacGAN packing (Lin et al. 2018) in front
    of the model, in that order.

    The augmentation (ganrun/augment.py) transforms every image D is shown, real or fake, in D's
    step and in G's step (DiffAugment's rule), before noise and packing.

    Packing concatenates `pack` consecutive samples along the first feature / channel
    dimension, so D scores groups and can see a lack of diversity. Instance noise adds
    N(0, noise_std^2) to every D input, real or generated (trick 5); the loop lowers
    `noise_std` linearly to 0.

    A plain callable, not a module: it holds no weights of its own (D and the augmentation are
    registered with the players), and a module call costs a few microseconds on every D forward.
    """

    def __init__(self, D: nn.Module, pack: int = 1, augment: nn.Module | None = None):
        self.D = D
        self.pack = pack
        self.noise_std = 0.0
        self.augment = augment

    def __call__(self, x: Tensor, y: Tensor | None = None):
        if self.augment is not None:
            x = self.augment(x)
        if self.noise_std > 0:
            x = x + self.noise_std * torch.randn_like(x)
        if self.pack > 1:
            x = x.reshape(len(x) // self.pack, self.pack * x.shape[1], *x.shape[2:])
        return self.D(x) if y is None else self.D(x, y)


def instance_noise_std(start: float, decay_steps: int, step: int) -> float:
    """Linear decay from `start` at step 0 to 0 at `decay_steps`."""
    if start <= 0 or decay_steps <= 0:
        return 0.0
    return start * max(0.0, 1.0 - step / decay_steps)


class ReplayBuffer(nn.Module):
    """Recent fakes, some of which are shown to D again (trick 7, experience replay).

    A ring buffer on the device: each D step swaps a `share` of the fake batch for random
    buffered samples, then stores the fresh fakes. Counters are Python ints, so the loop
    never waits on the device.
    """

    def __init__(self, capacity: int, share: float, per_image: bool = False, shape: Optional[tuple[int, ...]] = None):
        super().__init__()
        self.capacity, self.share, self.per_image = capacity, share, per_image
        self.shape = tuple(shape) if shape is not None else None     # of one sample (checked on loading)
        self.register_buffer("samples", torch.empty(0), persistent=False)
        self.filled = 0
        self.next = 0

    def mix(self, fake: Tensor) -> Tensor:
        """The batch D should see: `fake`, detached, with a share of it replaced from the buffer."""
        fake = fake.detach()
        if self.share <= 0:
            return fake
        if self.per_image:
            return self._image_pool(fake)
        n_old = min(int(round(self.share * len(fake))), self.filled)
        out = fake
        if n_old > 0:
            idx = torch.randint(self.filled, (n_old,), device=fake.device)
            out = torch.cat([self.samples[idx], fake[n_old:]])
        self._store(fake)
        return out

    def _image_pool(self, fake: Tensor) -> Tensor:
        """CycleGAN's ImagePool, image by image: until the pool is full each fake is stored and
        shown; then, with probability `share`, D sees a random stored fake instead and the new
        one takes its place (else the new one is shown and not stored)."""
        if self.samples.numel() == 0:
            self.samples = torch.empty(self.capacity, *fake.shape[1:], device=fake.device, dtype=fake.dtype)
        out = []
        # The draws come from the CPU generator: choosing slots never waits on the device.
        swaps = torch.rand(len(fake)).tolist()
        slots = torch.randint(self.capacity, (len(fake),)).tolist()
        for image, swap, slot in zip(fake, swaps, slots):
            if self.filled < self.capacity:
                self.samples[self.filled] = image
                self.filled += 1
                out.append(image)
            elif swap < self.share:
                out.append(self.samples[slot].clone())
                self.samples[slot] = image
            else:
                out.append(image)
        return torch.stack(out)

    def _store(self, fake: Tensor) -> None:
        if self.samples.numel() == 0:
            self.samples = torch.empty(self.capacity, *fake.shape[1:], device=fake.device, dtype=fake.dtype)
        idx = (torch.arange(len(fake), device=fake.device) + self.next) % self.capacity
        self.samples[idx] = fake
        self.next = (self.next + len(fake)) % self.capacity
        self.filled = min(self.capacity, self.filled + len(fake))

    def get_extra_state(self) -> dict:
        return {"samples": self.samples[: self.filled].clone(), "filled": self.filled, "next": self.next}

    def set_extra_state(self, state: dict) -> None:
        filled, next_, saved = state["filled"], state["next"], state["samples"]
        if not (isinstance(filled, int) and isinstance(next_, int) and 0 <= filled <= self.capacity
                and 0 <= next_ < max(1, self.capacity)):
            raise ValueError(f"its counters ({str(filled)[:20]}, {str(next_)[:20]}) do not fit a buffer of "
                             f"{self.capacity}")
        if not (isinstance(saved, Tensor) and saved.is_floating_point() and len(saved) == filled
                and (self.shape is None or not filled or tuple(saved.shape[1:]) == self.shape)):
            raise ValueError(f"its samples are not {filled} floating-point samples of shape {self.shape}")
        self.filled, self.next = filled, next_
        if self.filled:
            # On this buffer's device (checkpoints load onto the CPU), not the saved tensor's.
            device = self.samples.device
            self.samples = torch.empty(self.capacity, *saved.shape[1:], device=device, dtype=saved.dtype)
            self.samples[: self.filled] = saved.to(device)
