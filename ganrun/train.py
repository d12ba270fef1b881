"""The training loop: (1) update D n_critic times, (2) update G once (GAN_NOTES §1).

Losses, models and data come from the config (ganrun/experiment.py), so this file
has no per-loss or per-dataset branches. Running sums of the logged terms stay on
the device and are read once per logging step: the loop never waits on the GPU
in between. A checkpoint holds everything the loop depends on, so a resumed run
continues exactly as if it had never stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Optional

import torch
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from ganrun import visualize
from ganrun.checkpoint import atomic_write_text, load_weights, remove_stale_temporaries, save_checkpoint
from ganrun.errors import CheckpointError, Diverged, GanrunError, Stopped
from ganrun.experiment import Experiment, build, generate, plain_config, rng_state, set_rng_state
from ganrun.metrics import Evaluator
from ganrun.report import read_metrics
from ganrun.tricks import instance_noise_std

log = logging.getLogger(__name__)
step_log = logging.getLogger("ganrun.logfile")   # to <run>/ganrun.log only, not the console

WATCHED = ("loss/D", "loss/G")   # the totals: any non-finite term makes them non-finite too


class RunningMeans:
    """Sums of detached scalars kept on the device; `pop()` reads them all with one sync.

    It also notes, on the device, the first step at which a watched loss was not finite,
    so divergence is caught at the next logging or checkpoint step without a per-step sync.
    """

    def __init__(self, device: torch.device):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.step = torch.zeros((), dtype=torch.long, device=device)
        self.first_bad = {k: torch.full((), -1, dtype=torch.long, device=device) for k in WATCHED}

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        for k, v in terms.items():
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1
            if k in self.first_bad:
                fresh = (self.first_bad[k] < 0) & ~torch.isfinite(v)
                self.first_bad[k] = torch.where(fresh, self.step, self.first_bad[k])

    def pop(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        values = torch.stack([self.sums[k] for k in keys]).tolist()
        means = {k: v / self.counts[k] for k, v in zip(keys, values)}
        self.sums, self.counts = {}, {}
        return means

    def divergence(self) -> Optional[tuple[str, int]]:
        """(watched loss, first step) if a watched loss was not finite, else None (one sync)."""
        steps = torch.stack(list(self.first_bad.values())).tolist()
        bad = [(k, s) for k, s in zip(self.first_bad, steps) if s >= 0]
        return min(bad, key=lambda ks: ks[1]) if bad else None

    def state_dict(self) -> dict:
        return {"sums": dict(self.sums), "counts": dict(self.counts), "step": self.step,
                "first_bad": dict(self.first_bad)}

    def load_state_dict(self, state: dict) -> None:
        device = self.step.device
        self.sums = {k: v.to(device) for k, v in state["sums"].items()}
        self.counts = dict(state["counts"])
        self.step = state["step"].to(device)
        self.first_bad = {k: v.to(self.step.device) for k, v in state["first_bad"].items()}


class StopSignals:
    """SIGINT and SIGTERM (what SLURM sends before preemption) ask the loop to save a checkpoint
    and stop at the next step boundary; a second signal exits at once."""

    def __init__(self):
        self.signum: Optional[int] = None
        self.arrived_after_save = False     # set by a signal, cleared by each checkpoint save
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self.signum is not None:
            print(f"\nganrun: second {name}: exiting now, without a checkpoint", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.signum = signum
        self.arrived_after_save = True
        log.warning("%s: saving a checkpoint at the end of this step, then stopping "
                    "(send it again to exit at once)", name)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def checkpoint_state(exp: Experiment, step: int, means: RunningMeans, wall_s: float, skipped: int,
                     last: dict) -> dict:
    """Everything needed to continue exactly: weights, optimizer and scheduler states, scalers,
    every RNG, the data position, BEGAN's k, the replay buffer and the open logging window."""
    return {
        "step": step,
        "G": exp.G.state_dict(),
        "G_ema": exp.ema.state_dict() if exp.ema is not None else None,
        "D": exp.D.state_dict(),
        "opt_g": exp.opt_g.state_dict(),
        "opt_d": exp.opt_d.state_dict(),
        "sched_g": exp.sched_g.state_dict(),
        "sched_d": exp.sched_d.state_dict(),
        "scalers": exp.precision.state_dict(),
        "loss": exp.loss.state_dict(),       # BEGAN's k_t
        "replay": exp.replay.state_dict(),
        "data": exp.data.state_dict(),       # position in a streamed dataset
        "rng": rng_state(),
        "means": means.state_dict(),
        "last_logged": dict(last),           # the latest logged means (metrics.json's losses)
        "wall_s": wall_s,
        "skipped": skipped,
        "data_shape": list(exp.data.shape),
        "data_kind": exp.data.kind,
        "config": plain_config(exp.cfg),
    }


def restore(exp: Experiment, state: dict, means: RunningMeans) -> None:
    """Load a checkpoint_state into a freshly built experiment."""
    source = state.get("source", "the checkpoint")
    load_weights(exp.G, state["G"], "G", source)
    load_weights(exp.D, state["D"], "D", source)
    if exp.ema is not None:
        load_weights(exp.ema.module, state["G_ema"] or state["G"], "G_ema", source)
    parts = [("opt_g", exp.opt_g), ("opt_d", exp.opt_d), ("sched_g", exp.sched_g), ("sched_d", exp.sched_d),
             ("scalers", exp.precision), ("loss", exp.loss), ("replay", exp.replay), ("data", exp.data),
             ("means", means)]
    for key, part in parts:
        try:
            part.load_state_dict(state[key])
        except Exception as e:      # a hand-edited or foreign file: any shape of wrongness
            raise CheckpointError(f"{source}: its {key} state does not fit this run "
                                  f"({type(e).__name__}: {str(e).strip()[:100]})") from None
    try:
        set_rng_state(state["rng"])
    except Exception as e:
        raise CheckpointError(f"{source}: its random-generator state is malformed ({type(e).__name__})") from None


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
    values, protocol = evaluator(lambda n, seed: generate(G, exp.prior, exp.device, n, seed))
    G.train(was_training)
    for k, v in values.items():
        if v is not None:
            writer.add_scalar(f"metrics/{k}", v, step)
    return values, protocol


def weights_finite(*modules: torch.nn.Module) -> bool:
    """All parameters finite (one fused reduction and one sync)."""
    params = [p.detach() for m in modules for p in m.parameters()]
    return bool(torch.stack(torch._foreach_norm(params, float("inf"))).isfinite().all())


def train(cfg: DictConfig, run_dir: Path, resume_state: Optional[dict] = None) -> dict:
    run_dir = Path(run_dir)
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    for folder in (run_dir, run_dir / "checkpoints"):    # left by a run killed mid-write
        if folder.is_dir():
            remove_stale_temporaries(folder)
    exp = build(cfg)
    data, loss, G, D, opt_g, opt_d = exp.data, exp.loss, exp.G, exp.D, exp.opt_g, exp.opt_d
    critic, replay, ema, precision, tricks = exp.critic, exp.replay, exp.ema, exp.precision, cfg.tricks
    # Plain Python values for everything the loop reads each step (OmegaConf access is slow).
    B, steps, n_critic = cfg.train.batch_size, cfg.train.steps, cfg.train.n_critic
    log_every, sample_every, ckpt_every = cfg.train.log_every, cfg.train.sample_every, cfg.train.ckpt_every
    eval_every = cfg.eval.every
    noise_start, noise_steps = tricks.instance_noise, tricks.instance_noise_steps or steps
    skip_nonfinite = cfg.train.nonfinite == "skip"
    # A skipped update (train.nonfinite=skip, or fp16's scaler skipping an overflow) still
    # advances the LR schedule, which counts steps, not updates: torch's warning is expected.
    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")

    means = RunningMeans(exp.device)
    start, wall_before, skipped, last = 0, 0.0, 0, {}
    if resume_state is not None:
        restore(exp, resume_state, means)
        start, wall_before, skipped = resume_state["step"], resume_state["wall_s"], resume_state["skipped"]
        last = dict(resume_state.get("last_logged") or {})
    atomic_write_text(run_dir / "config.json", json.dumps(plain_config(cfg), indent=2) + "\n")
    if start >= steps:
        try:
            done = read_metrics(run_dir)
        except ValueError:         # missing or unreadable: the final evaluation is redone below
            done = {}
        if done.get("status") == "finished":
            log.info("%s already finished at step %d (train.steps=%d): nothing to do", run_dir, start, steps)
            return done
        # Trained to the end, but the final evaluation never completed (interrupted): redo it.
        log.info("%s was trained to step %d; running its final evaluation", run_dir, start)
        evaluator = Evaluator(cfg.eval, data, exp.device)
        writer = SummaryWriter(log_dir=str(run_dir / "tb"), purge_step=start + 1)
        with StopSignals():
            return finish(exp, evaluator, writer, run_dir, start, last, wall_before, skipped)

    # Fixed noise for sample pictures, from its own generator so logging never
    # shifts the training RNG stream.
    noise_rng = torch.Generator(exp.device).manual_seed(cfg.seed)
    fixed_z = exp.latent(visualize.PREVIEW_COUNT[data.kind], generator=noise_rng)

    log.info("run folder: %s", run_dir)
    evaluator = Evaluator(cfg.eval, data, exp.device)
    # purge_step: TensorBoard drops what a killed run logged after its last checkpoint.
    writer = SummaryWriter(log_dir=str(run_dir / "tb"), purge_step=start + 1 if start else None)
    real = visualize.real_grid(data) if start == 0 else None
    if real is not None:
        writer.add_image("samples/real", real, 0)
        visualize.save_png(real, run_dir / "samples" / "real.png")
    t0 = time.perf_counter()
    bar = tqdm(total=steps, initial=start, desc="train", unit="step", dynamic_ncols=True,
               disable=True if cfg.quiet else None)

    saved_at = -1

    def save(step: int) -> Path:
        stop.arrived_after_save = False
        wall = wall_before + time.perf_counter() - t0
        return save_checkpoint(checkpoint_state(exp, step, means, wall, skipped, last),
                               run_dir / "checkpoints", step, cfg.train.keep_last)

    with StopSignals() as stop, run_folder_watch(run_dir):
        log.info("training %s on %s with loss=%s on %s for %d steps%s", type(G).__module__.split(".")[-1],
                 data.name, type(loss).__name__, exp.device, steps, f" from step {start}" if start else "")
        for step in range(start + 1, steps + 1):
            critic.noise_std = instance_noise_std(noise_start, noise_steps, step - 1)
            means.step += 1

            # (1) Update D: n_critic times on fresh real and fake batches; D sees the fakes detached
            # (some of them swapped for past fakes when the replay buffer is on).
            exp.freeze_d(False)
            for i in range(n_critic):
                real = data.sample(B)
                # The last fake batch keeps its graph: the G step below reuses it, as in
                # pytorch/examples' DCGAN, instead of running G a second time.
                with torch.set_grad_enabled(i == n_critic - 1), precision.autocast():
                    fake = G(exp.latent(B))
                with precision.autocast():
                    d_terms = loss.discriminator(critic, real, replay.mix(fake))
                if skip_nonfinite and not bool(torch.isfinite(d_terms["loss/D"])):
                    skipped += 1
                    continue
                precision.step(d_terms["loss/D"], opt_d, "d")
                loss.after_d_step(D, d_terms)
                means.add(d_terms)

            # (2) Update G through a frozen D (no gradients for D's weights are computed).
            exp.freeze_d(True)
            with precision.autocast():
                g_terms = loss.generator(critic, real, fake)
            if skip_nonfinite and not bool(torch.isfinite(g_terms["loss/G"])):
                skipped += 1
            else:
                precision.step(g_terms["loss/G"], opt_g, "g")
                if ema is not None:
                    ema.update(G, step)
                means.add(g_terms)
            exp.sched_g.step()
            exp.sched_d.step()
            bar.update(1)

            # Logging, pictures, checkpoints and evaluation, each on its own schedule and at the end.
            final = step == steps
            due_log = step % log_every == 0 or final
            due_sample = step % sample_every == 0 or final
            due_ckpt = step % ckpt_every == 0 or final or stop.requested
            due_eval = bool(eval_every) and step % eval_every == 0 and not final
            if due_log or due_sample or due_ckpt or due_eval:
                if not run_dir.is_dir():
                    close_quietly(writer)
                    raise GanrunError(f"the run folder {run_dir} was removed while training; stopped at "
                                      f"step {step} (its checkpoints went with it)")
                check_finite(exp, means, step, run_dir)
            if due_log:
                last = means.pop()
                if critic.noise_std > 0:
                    last["tricks/instance_noise"] = critic.noise_std
                if skip_nonfinite:
                    last["train/skipped"] = skipped
                for k, v in last.items():
                    writer.add_scalar(k, v, step)
                if "loss/D" in last and "loss/G" in last:
                    bar.set_postfix(D=f"{last['loss/D']:.3f}", G=f"{last['loss/G']:.3f}", refresh=False)
                step_log.info("step %d  %s", step, "  ".join(f"{k}={v:.4g}" for k, v in last.items()))
            if due_sample:
                log_samples(exp, writer, fixed_z, step, run_dir)
            if due_ckpt:
                path, saved_at = save(step), step
            if due_eval:
                values, _ = evaluate(exp, evaluator, writer, step)
                step_log.info("step %d  eval  %s", step, "  ".join(
                    f"{k}={v:.4g}" for k, v in values.items() if v is not None))
            if stop.requested and not final:
                # The signal may have come during any of the blocks above: save at this step
                # unless that was done after it arrived.
                if saved_at != step or stop.arrived_after_save:
                    path = save(step)
                bar.close()
                writer.close()
                raise stopped(run_dir, step, path, stop.signum)

        bar.close()
        # The final evaluation counts as part of the last step: a signal during it waits for it
        # (a second one exits at once, and resuming the run then redoes the evaluation).
        return finish(exp, evaluator, writer, run_dir, steps, last, wall_before + time.perf_counter() - t0,
                      skipped)


def finish(exp: Experiment, evaluator: Evaluator, writer: SummaryWriter, run_dir: Path, steps: int,
           last: dict, wall_s: float, skipped: int) -> dict:
    """The final evaluation and metrics.json."""
    t0 = time.perf_counter()
    values, protocol = evaluate(exp, evaluator, writer, steps)
    writer.close()
    metrics = {"steps": steps, "loss_d": last.get("loss/D"), "loss_g": last.get("loss/G"), **values,
               "wall_s": round(wall_s + time.perf_counter() - t0, 3), "status": "finished"}
    if exp.cfg.train.nonfinite == "skip":
        metrics["skipped"] = skipped
    metrics["protocol"] = protocol
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    shown = "  ".join(f"{k}={v:.4g}" for k, v in values.items() if v is not None)
    losses = "  ".join(f"{k}={v:.4f}" for k, v in (("loss_d", metrics["loss_d"]), ("loss_g", metrics["loss_g"]))
                       if v is not None)
    log.info("done in %.1fs: %s %s -> %s", metrics["wall_s"], losses, shown, run_dir)
    return metrics


def close_quietly(writer: SummaryWriter) -> None:
    """Close a TensorBoard writer whose folder is gone (its own error is beside the point)."""
    try:
        writer.close()
    except Exception:
        pass


@contextlib.contextmanager
def run_folder_watch(run_dir: Path):
    """While training: if the run folder is removed, TensorBoard's writer thread fails to write
    and would print a traceback; the loop says it in one line at its next schedule instead."""
    previous = threading.excepthook

    def hook(args):
        if not run_dir.is_dir():
            return
        previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def write_status(run_dir: Path, status: dict) -> None:
    """metrics.json for a run that did not finish: why, and where it stands."""
    atomic_write_text(run_dir / "metrics.json", json.dumps(status, indent=2) + "\n")


def stopped(run_dir: Path, step: int, checkpoint: Path, signum: int) -> Stopped:
    """The run saved `checkpoint` at `step` after a stop signal: record it, say how to go on."""
    name = signal.Signals(signum).name
    write_status(run_dir, {"steps": step, "status": "stopped", "signal": name, "checkpoint": str(checkpoint)})
    return Stopped(f"stopped by {name} at step {step}; checkpoint saved in {checkpoint}. "
                   f"Resume with: ganrun resume={shlex.quote(str(run_dir))}", signum)


def record_failure(run_dir: Path, line: str) -> None:
    """A sweep job that failed with a user error: its metrics.json says why (unless the run
    already has one, e.g. a finished run that a bad resume tried to continue)."""
    if run_dir.is_dir() and not (run_dir / "metrics.json").exists():
        write_status(run_dir, {"steps": 0, "status": "failed", "error": line})


def check_finite(exp: Experiment, means: RunningMeans, step: int, run_dir: Path) -> None:
    """Stop, naming the step and the term, before a non-finite state is logged or saved."""
    bad = means.divergence()
    if bad is None and weights_finite(exp.G, exp.D):
        return
    term, at = bad if bad else ("a weight of G or D", step)
    from ganrun.checkpoint import LAST

    last = run_dir / "checkpoints" / LAST
    keep = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written"
    write_status(run_dir, {"steps": step, "status": "diverged", "diverged_step": at, "diverged_term": term})
    raise Diverged(f"{term} is not finite at step {at}; stopped ({keep}). Lower the learning rates, "
                   f"or set train.nonfinite=skip to skip such updates")
