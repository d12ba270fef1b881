"""Mixed precision: autocast for the forward passes, and gradient scaling for float16.

`device.precision=bf16` runs forward passes in bfloat16 (no scaling needed: it has
float32's range). `fp16` adds a GradScaler per player, so small gradients do not flush
to zero; the scalers skip a step whose gradients overflowed, and they are saved in
checkpoints. Gradient penalties are computed in float32 (see losses.gradient_penalty).
"""

from __future__ import annotations

import contextlib
import warnings

import torch

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    def __init__(self, precision: str, device: torch.device):
        self.precision = precision
        self.device = device
        self.dtype = DTYPES.get(self.precision)
        fp16 = self.precision == "fp16"
        self.scalers = {p: torch.amp.GradScaler(device.type, enabled=fp16) for p in ("g", "d")}
        if fp16:
            # The scaler skips steps whose gradients overflowed (the first ones, while it finds its
            # scale); the LR schedule still advances with the G step, which PyTorch would warn about.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, player: str) -> None:
        """zero_grad, backward and optimizer step for one player, scaled when fp16."""
        scaler = self.scalers[player]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def state_dict(self) -> dict:
        return {p: s.state_dict() for p, s in self.scalers.items()}

    def load_state_dict(self, state: dict) -> None:
        for p, s in self.scalers.items():
            if state.get(p):
                s.load_state_dict(state[p])
