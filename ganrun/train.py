"""The training loop: (1) update D n_critic times, (2) update G once (GAN_NOTES §1).

Losses, models and data come from the config (ganrun/experiment.py), so this file
has no per-loss or per-dataset branches. Running sums of the logged terms stay on
the device and are read once per logging step: the loop never waits on the GPU
in between.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from ganrun import visualize
from ganrun.checkpoint import save_checkpoint
from ganrun.experiment import Experiment, build, generate, plain_config
from ganrun.metrics import Evaluator
from ganrun.tricks import instance_noise_std

log = logging.getLogger(__name__)
step_log = logging.getLogger("ganrun.logfile")   # to <run>/ganrun.log only, not the console


class RunningMeans:
    """Sums of detached scalars kept on the device; `pop()` reads them all with one sync."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        for k, v in terms.items():
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1

    def pop(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        values = torch.stack([self.sums[k] for k in keys]).tolist()
        means = {k: v / self.counts[k] for k, v in zip(keys, values)}
        self.sums, self.counts = {}, {}
        return means


def checkpoint_state(exp: Experiment, step: int) -> dict:
    return {
        "step": step,
        "G": exp.G.state_dict(),
        "G_ema": exp.ema.state_dict() if exp.ema is not None else None,
        "D": exp.D.state_dict(),
        "opt_g": exp.opt_g.state_dict(),
        "opt_d": exp.opt_d.state_dict(),
        "loss": exp.loss.state_dict(),       # BEGAN's k_t
        "replay": exp.replay.state_dict(),
        "data_shape": list(exp.data.shape),
        "data_kind": exp.data.kind,
        "config": plain_config(exp.cfg),
    }


def log_samples(exp: Experiment, writer: SummaryWriter, fixed_z: torch.Tensor, step: int,
                run_dir: Path) -> None:
    """Log G(fixed noise) as the dataset kind's picture, to TensorBoard and <run>/samples/.
    G_ema draws the samples when it is kept."""
    G, D = exp.G_eval, exp.D
    was_training = G.training
    G.eval(), D.eval()
    with torch.no_grad():
        fake = G(fixed_z)
        critic = None if exp.critic.pack > 1 else (lambda x: exp.loss.link(D(x)))   # D scores packs
        tag, picture = visualize.render(exp.data, fake, critic=critic)
    G.train(was_training), D.train()
    writer.add_image(tag, picture, step)
    visualize.save_png(picture, run_dir / "samples" / f"step_{step:07d}.png")


def evaluate(exp: Experiment, evaluator: Evaluator, writer: SummaryWriter, step: int) -> tuple[dict, dict]:
    """Measure G_eval (G_ema when kept) and log the numbers as metrics/<name>."""
    G = exp.G_eval
    was_training = G.training
    G.eval()
    values, protocol = evaluator(lambda n, seed: generate(G, exp.cfg.tricks.prior, exp.device, n, seed))
    G.train(was_training)
    for k, v in values.items():
        if v is not None:
            writer.add_scalar(f"metrics/{k}", v, step)
    return values, protocol


def train(cfg: DictConfig, run_dir: Path) -> dict:
    run_dir = Path(run_dir)
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    exp = build(cfg)
    data, loss, G, D, opt_g, opt_d = exp.data, exp.loss, exp.G, exp.D, exp.opt_g, exp.opt_d
    critic, replay, ema, tricks = exp.critic, exp.replay, exp.ema, cfg.tricks
    B, steps, n_critic = cfg.train.batch_size, cfg.train.steps, cfg.train.n_critic
    noise_steps = tricks.instance_noise_steps or steps

    # Fixed noise for sample pictures, from its own generator so logging never
    # shifts the training RNG stream.
    noise_rng = torch.Generator(exp.device).manual_seed(cfg.seed)
    fixed_z = exp.latent(visualize.PREVIEW_COUNT[data.kind], generator=noise_rng)

    log.info("run folder: %s", run_dir)
    evaluator = Evaluator(cfg.eval, data, exp.device)
    writer = SummaryWriter(log_dir=str(run_dir / "tb"))
    real = visualize.real_grid(data)
    if real is not None:
        writer.add_image("samples/real", real, 0)
        visualize.save_png(real, run_dir / "samples" / "real.png")
    means = RunningMeans()
    last: dict[str, float] = {}
    log.info("training %s on %s with loss=%s on %s for %d steps", type(G).__module__.split(".")[-1],
             data.name, type(loss).__name__, exp.device, steps)
    t0 = time.perf_counter()
    bar = tqdm(total=steps, desc="train", unit="step", dynamic_ncols=True,
               disable=True if cfg.quiet else None)

    for step in range(1, steps + 1):
        critic.noise_std = instance_noise_std(tricks.instance_noise, noise_steps, step - 1)

        # (1) Update D: n_critic times on fresh real and fake batches; D sees the fakes detached
        # (some of them swapped for past fakes when the replay buffer is on).
        D.requires_grad_(True)
        for i in range(n_critic):
            real = data.sample(B)
            # The last fake batch keeps its graph: the G step below reuses it, as in
            # pytorch/examples' DCGAN, instead of running G a second time.
            with torch.set_grad_enabled(i == n_critic - 1):
                fake = G(exp.latent(B))
            d_terms = loss.discriminator(critic, real, replay.mix(fake))
            opt_d.zero_grad(set_to_none=True)
            d_terms["loss/D"].backward()
            opt_d.step()
            loss.after_d_step(D, d_terms)
            means.add(d_terms)

        # (2) Update G through a frozen D (no gradients for D's weights are computed).
        D.requires_grad_(False)
        g_terms = loss.generator(critic, real, fake)
        opt_g.zero_grad(set_to_none=True)
        g_terms["loss/G"].backward()
        opt_g.step()
        if ema is not None:
            ema.update(G, step)
        means.add(g_terms)
        bar.update(1)

        # Logging, pictures and checkpoints, each on its own schedule and at the end.
        final = step == steps
        if step % cfg.train.log_every == 0 or final:
            last = means.pop()
            if critic.noise_std > 0:
                last["tricks/instance_noise"] = critic.noise_std
            for k, v in last.items():
                writer.add_scalar(k, v, step)
            bar.set_postfix(D=f"{last['loss/D']:.3f}", G=f"{last['loss/G']:.3f}", refresh=False)
            step_log.info("step %d  %s", step, "  ".join(f"{k}={v:.4g}" for k, v in last.items()))
        if step % cfg.train.sample_every == 0 or final:
            log_samples(exp, writer, fixed_z, step, run_dir)
        if step % cfg.train.ckpt_every == 0 or final:
            save_checkpoint(checkpoint_state(exp, step), run_dir / "checkpoints", step)
        if cfg.eval.every and step % cfg.eval.every == 0 and not final:
            values, _ = evaluate(exp, evaluator, writer, step)
            step_log.info("step %d  eval  %s", step, "  ".join(f"{k}={v:.4g}" for k, v in values.items()
                                                                if v is not None))

    bar.close()
    values, protocol = evaluate(exp, evaluator, writer, steps)
    writer.close()
    metrics = {"steps": steps, "loss_d": last["loss/D"], "loss_g": last["loss/G"], **values,
               "wall_s": round(time.perf_counter() - t0, 3), "protocol": protocol}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    shown = "  ".join(f"{k}={v:.4g}" for k, v in values.items() if v is not None)
    log.info("done in %.1fs: loss_d=%.4f loss_g=%.4f %s -> %s", metrics["wall_s"], metrics["loss_d"],
             metrics["loss_g"], shown, run_dir)
    return metrics
