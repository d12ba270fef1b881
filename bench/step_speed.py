"""Training-step speed of ganrun's loop against a naive loop, measured in the same run.

    python bench/step_speed.py                 # ring MLP and digits DCGAN on this machine's device
    python bench/step_speed.py --steps 400

The naive loop is what GAN scripts often do: a second G forward for the G step, `.item()` on
the losses every step (a host sync), and D's weight gradients computed during G's update.
ganrun reuses the last D step's fake batch (as pytorch/examples' DCGAN does), keeps loss sums
on the device, and freezes D during G's update. Both loops use the same models, data, loss and
optimizers. ganrun's per-step time is (T(2N) - T(N)) / N, T being the loop's own wall time
(metrics.json's wall_s) over two `train()` calls, so the last picture, checkpoint and evaluation
cancel out. Each figure is the median of --repeats alternating measurements (the machine may be
shared). Prints steps/s and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_module

from ganrun.config import register_configs
from ganrun.experiment import build
from ganrun.train import train

CASES = {
    "ring MLP (n_critic 1)": ["dataset=ring"],
    "ring MLP wgan_gp (n_critic 5)": ["dataset=ring", "loss=wgan_gp"],
    "digits DCGAN 32x32 (width 32)": ["dataset=digits"],
}
QUIET = ["quiet=true", "train.log_every=100", "train.sample_every=100000", "train.ckpt_every=100000",
         "eval.n=10", "eval.classifier=false", "eval.memorisation=false"]


def naive_steps_per_s(cfg, steps: int) -> float:
    exp = build(cfg)
    data, game = exp.data, exp.game
    loss, G, D = game.loss, exp.players["G"], exp.players["D"]
    B, n_critic = cfg.train.batch_size, cfg.train.n_critic
    history = []

    def step():
        for _ in range(n_critic):
            real = data.sample(B).x
            fake = G.module(game.z(B)).detach()
            d_terms = loss.discriminator(D.module, real, fake)
            D.optimizer.zero_grad()
            d_terms["loss/D"].backward()
            D.optimizer.step()
            loss.after_d_step(D.module, d_terms)
            history.append(d_terms["loss/D"].item())           # a host sync every step
        fake = G.module(game.z(B))                              # a second G forward
        g_terms = loss.generator(D.module, real, fake)          # D's weight grads computed too
        G.optimizer.zero_grad()
        g_terms["loss/G"].backward()
        G.optimizer.step()
        history.append(g_terms["loss/G"].item())

    for _ in range(10):
        step()
    if exp.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if exp.device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def ganrun_steps_per_s(overrides: list[str], steps: int, tmp: Path) -> float:
    walls = []
    for n in (steps, 2 * steps):
        cfg = compose(config_name="config", overrides=overrides + [f"train.steps={n}"])
        walls.append(train(cfg, tmp / f"run_{n}_{time.monotonic_ns()}")["wall_s"])
    return steps / (walls[1] - walls[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    register_configs()
    print(f"{'case':32s} {'naive step/s':>13s} {'ganrun step/s':>14s} {'ratio':>6s}")
    with initialize_config_module(config_module="ganrun.conf", version_base="1.3"), \
            tempfile.TemporaryDirectory() as tmp:
        for name, case in CASES.items():
            overrides = case + QUIET
            naive, ours = [], []
            for _ in range(args.repeats):
                naive.append(naive_steps_per_s(compose(config_name="config", overrides=overrides), args.steps))
                ours.append(ganrun_steps_per_s(overrides, args.steps, Path(tmp)))
            naive_s, ours_s = statistics.median(naive), statistics.median(ours)
            print(f"{name:32s} {naive_s:13.1f} {ours_s:14.1f} {ours_s / naive_s:6.2f}x", flush=True)


if __name__ == "__main__":
    main()
