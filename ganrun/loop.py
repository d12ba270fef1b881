"""The training loop: each step is the game's (for the classic GAN: (1) update D n_critic times,
(2) update G once; ganrun/games/gan.py), then the schedules run: logging, pictures,
checkpoints, evaluation, and the answer to a stop signal.

The game owns the maths; the loop owns everything around it, the same for every game. Running
sums of the logged terms stay on the device and are read once per logging step: the loop never
waits on the GPU in between. A checkpoint holds every player and stateful part (ganrun/players.py),
so a resumed run continues exactly as if it had never stopped.
"""

from __future__ import annotations

import json
import logging
import shlex
import signal
import time
import warnings
from pathlib import Path
from typing import Optional

import torch
from omegaconf import DictConfig
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from ganrun import distributed, plugins, visualize
from ganrun.builder import Experiment, GlobalRNG, build, plain_config, speed_options
from ganrun.checkpoint import FORMAT, LAST, atomic_write_text, remove_stale_temporaries, save_checkpoint
from ganrun.errors import CheckpointError, Diverged, GanrunError, Stopped, printable
from ganrun.health import HealthMonitor
from ganrun.kinds import KINDS
from ganrun.means import RunningMeans
from ganrun.metrics import Evaluator, augmented
from ganrun.runfiles import read_metrics
from ganrun.stopping import StopSignals, run_folder_watch

log = logging.getLogger(__name__)
step_log = logging.getLogger("ganrun.logfile")   # to <run>/ganrun.log only, not the console


def train(cfg: DictConfig, run_dir: Path, resume_state: Optional[dict] = None) -> dict:
    run_dir = Path(run_dir)
    main = distributed.is_main()      # several processes (torchrun): rank 0 alone writes
    if main:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        for folder in (run_dir, run_dir / "checkpoints"):    # left by a run killed mid-write
            if folder.is_dir():
                remove_stale_temporaries(folder)
    if resume_state is not None:      # the stored weights fit the config's networks before any is built
        from ganrun.trained import stored_networks_fit

        stored_networks_fit(cfg, resume_state, resume_state.get("source", "the checkpoint"))
    exp = build(cfg)
    for line in speed_options(exp):
        log.info("train: %s", line)
    game, players, steps = exp.game, exp.players, cfg.train.steps
    # A skipped update (train.nonfinite=skip, or fp16's scaler skipping an overflow) still
    # advances the LR schedule, which counts steps, not updates: torch's warning is expected.
    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
    means = RunningMeans(exp.device)
    health = HealthMonitor(cfg.train.stop_on, cfg.train.steps)
    players.track("means", means)         # the open logging window
    players.track("health", health, optional=True)   # the warnings said, the signals' streaks
    players.track("rng", GlobalRNG())     # last: restored after everything else
    run = Schedules(exp, run_dir, means, health)
    if resume_state is not None:
        run.restore(resume_state)
    if main:
        atomic_write_text(run_dir / "config.json", json.dumps(plain_config(cfg), indent=2) + "\n")
    if run.start >= steps or run.stopped_early_at() == run.start:
        return run.already_trained() if main else {}

    log.info("run folder: %s", run_dir)
    run.open()
    with StopSignals() as stop, run_folder_watch(run.folder_gone):
        log.info("training %s with game=%s on %s with loss=%s on %s for %d steps%s", cfg.model.type,
                 cfg.game.type, exp.data.name, cfg.loss.type,
                 f"{exp.device} x {run.world} processes" if run.world > 1 else exp.device, steps,
                 f" from step {run.start}" if run.start else "")
        for step in range(run.start + 1, steps + 1):
            means.step += 1
            players.note_grads = run.logs_at(step)      # health/grad_*: the logging step's updates
            for terms in game.step(step):
                means.add(terms)
            if run.after_step(step, stop):      # train.stop_on: a health warning ends the run here
                break
        if run.world > 1:
            run.check_ranks_in_step()
        # The final evaluation counts as part of the last step: a signal during it waits for it
        # (a second one exits at once, and resuming the run then redoes the evaluation).
        return run.finish(step) if main else {}


class Schedules:
    """Everything that happens between steps, each on its own schedule: log the means, draw the
    pictures, save a checkpoint, evaluate, and stop cleanly on a signal."""

    def __init__(self, exp: Experiment, run_dir: Path, means: RunningMeans, health: HealthMonitor):
        cfg = exp.cfg
        self.exp, self.run_dir, self.means, self.health = exp, run_dir, means, health
        self.stop_early: Optional[str] = None
        # Plain Python values for what is read every step (OmegaConf access is slow).
        t = cfg.train
        self.steps, self.log_every, self.sample_every, self.ckpt_every = t.steps, t.log_every, t.sample_every, \
            t.ckpt_every
        self.eval_every, self.keep_last, self.quiet = cfg.eval.every, t.keep_last, cfg.quiet
        self.count_skipped = t.nonfinite == "skip"
        self.start, self.wall_before, self.last = 0, 0.0, {}
        self.saved_at = -1
        self.main, self.world = distributed.is_main(), distributed.world_size()
        self.ranks_in_step: Optional[bool] = None
        self.folder_id: Optional[tuple[int, int]] = None     # the run folder's identity once open

    def restore(self, state: dict) -> None:
        source = state.get("source", "the checkpoint")
        self.exp.players.load_state_dict(state, source)
        wall, last = state.get("wall_s", 0.0), state.get("last_logged") or {}
        if not (isinstance(wall, (int, float)) and not isinstance(wall, bool) and 0 <= wall < 2 ** 62
                and isinstance(last, dict) and all(isinstance(k, str) and isinstance(v, (int, float))
                                                   for k, v in last.items())):
            raise CheckpointError(f"{source}: its wall time or last logged values are not numbers")
        self.start, self.wall_before = state["step"], float(wall)
        if distributed.rank() > 0:            # this rank's own RNG streams, buffers, data position
            ranks = state.get("ranks") or []
            if distributed.rank() <= len(ranks):
                self.exp.players.load_parts(ranks[distributed.rank() - 1], source)
            else:
                log.warning("%s was written by %d process(es); rank %d starts fresh random streams (the run "
                            "goes on, not exactly as it would have)", source, len(ranks) + 1, distributed.rank())
        self.last = dict(state.get("last_logged") or {})

    def open(self) -> None:
        exp = self.exp
        if not self.main:             # other ranks only train: nothing to draw, write or measure
            self.bar = tqdm(disable=True)
            self.t0 = time.perf_counter()
            return
        self.folder_id = folder_identity(self.run_dir)
        self.evaluator = Evaluator(exp.cfg.eval, exp.data, exp.device, augmented(exp.cfg))
        with self.own_rng():
            self.fixed = exp.game.fixed_inputs(exp.cfg.seed)
        # purge_step: TensorBoard drops what a killed run logged after its last checkpoint.
        self.writer = tb_writer(self.run_dir / "tb", purge_step=self.start + 1 if self.start else None)
        self.references = health_references(exp)
        real = KINDS[exp.data.kind].real_picture(exp.data) if self.start == 0 else None
        if real is not None:
            self.writer.add_image("samples/real", real, 0)
            visualize.save_png(real, self.run_dir / "samples" / "real.png")
        self.t0 = time.perf_counter()
        self.bar = tqdm(total=self.steps, initial=self.start, desc="train", unit="step", dynamic_ncols=True,
                        disable=True if self.quiet else None)

    def logs_at(self, step: int) -> bool:
        return step % self.log_every == 0 or step == self.steps

    def after_step(self, step: int, stop: StopSignals) -> bool:
        """The schedules due after `step`; True when the health monitor ends the run here."""
        self.bar.update(1)
        final = step == self.steps
        # Several processes stop at the same step, on a signal that reached any of them.
        stopping = distributed.any_rank(stop.requested) if self.world > 1 else stop.requested
        due_log = self.logs_at(step)
        due_sample = step % self.sample_every == 0 or final
        due_ckpt = step % self.ckpt_every == 0 or final or stopping
        due_eval = bool(self.eval_every) and step % self.eval_every == 0 and not final
        if not (due_log or due_sample or due_ckpt or due_eval):
            return False
        if not self.main:
            return self.after_step_other_rank(step, final, due_log, due_ckpt, stopping, stop)
        if self.folder_gone():
            raise self.folder_removed(step)
        try:
            return self.after_step_main(step, stop, final, stopping, due_log, due_sample, due_ckpt, due_eval)
        except (OSError, RuntimeError) as e:
            # TensorBoard's writer thread re-raises its own failure at the next add_*: when the
            # folder is gone that failure means only this, said in one line.
            if not self.folder_gone():
                raise
            raise self.folder_removed(step) from e

    def folder_gone(self) -> bool:
        """The run folder was removed while training, even if a write (a picture, a checkpoint) has
        made a new one since: then its TensorBoard folder, made only at the start, is missing."""
        return self.folder_id is not None and (folder_identity(self.run_dir) != self.folder_id
                                               or not (self.run_dir / "tb").is_dir())

    def folder_removed(self, step: int) -> GanrunError:
        close_quietly(self.writer)
        return GanrunError(f"the run folder {self.run_dir} was removed while training; stopped at "
                           f"step {step} (its checkpoints went with it)")

    def after_step_main(self, step: int, stop: StopSignals, final: bool, stopping: bool, due_log: bool,
                        due_sample: bool, due_ckpt: bool, due_eval: bool) -> bool:
        self.check_finite(step)
        if due_log:
            self.log(step)
        if due_sample:
            self.pictures(step)
        if due_ckpt:
            self.path = self.save(step, stop)
        if due_eval:
            values, _ = self.evaluate(step)
            step_log.info("step %d  eval  %s", step, "  ".join(
                f"{k}={v:.4g}" for k, v in values.items() if v is not None))
        if self.world > 1 and due_log:       # rank 0's health monitor decides for all
            self.stop_early = distributed.broadcast(self.stop_early)
        if (stop.requested if self.world == 1 else stopping) and not final:
            # The signal may have come during any of the blocks above: save at this step unless
            # that was done after it arrived (several processes: the next step's agreement catches it).
            if self.saved_at != step or (self.world == 1 and stop.arrived_after_save):
                self.path = self.save(step, stop)
            self.bar.close()
            self.writer.close()
            error = stopped(self.run_dir, step, self.path, stop.signum or signal.SIGTERM)
            stop.pass_on()
            raise error
        if self.stop_early and not final:
            if not due_ckpt:
                self.path = self.save(step, stop)
            log.warning("stopping at step %d (train.stop_on=%s): %s", step, self.health.stop_on, self.stop_early)
            return True
        return False

    def after_step_other_rank(self, step: int, final: bool, due_log: bool, due_ckpt: bool, stopping: bool,
                              stop: StopSignals) -> bool:
        """Rank > 0 of several processes: take part in each checkpoint (its own state goes to rank 0)
        and in rank 0's decisions to stop, in the order rank 0 makes them; write nothing."""
        if due_log:                          # rank 0 logs its own means
            self.means.pop()
            self.exp.players.pop_grad_norms()
        if due_ckpt:
            self.save(step, stop)
        if due_log:
            self.stop_early = distributed.broadcast(None)
        if stopping and not final:
            raise Stopped(f"rank {distributed.rank()} stopped at step {step} with rank 0",
                          stop.signum or signal.SIGTERM)
        if self.stop_early and not final:
            if not due_ckpt:
                self.save(step, stop)
            return True
        return False

    def check_ranks_in_step(self) -> None:
        """After training: every rank's networks must hold the same weights (they took the same steps)."""
        digests = distributed.gather(distributed.fingerprint(self.exp.players.modules()))
        if self.main:
            self.ranks_in_step = len(set(digests)) == 1
            if not self.ranks_in_step:
                log.warning("the %d processes ended with different weights: their steps were not the same "
                            "(a bug; please report it with the command line)", self.world)

    def log(self, step: int) -> None:
        self.means.add(self.exp.players.pop_grad_norms())
        self.last = self.means.pop()
        self.last.update(self.exp.game.status())
        if self.references is not None:
            self.last.update(self.heldout_gap())
        if self.count_skipped:
            self.last["train/skipped"] = self.exp.players.skipped
        for k, v in self.last.items():
            self.writer.add_scalar(k, v, step)
        if "loss/D" in self.last and "loss/G" in self.last:
            self.bar.set_postfix(D=f"{self.last['loss/D']:.3f}", G=f"{self.last['loss/G']:.3f}", refresh=False)
        step_log.info("step %d  %s", step, "  ".join(f"{k}={v:.4g}" for k, v in self.last.items()))
        self.warn(self.health.on_log(step, self.last))

    def heldout_gap(self) -> dict[str, float]:
        """r on fixed training and held-out images (D in eval mode): D overfits when they part."""
        train, held = (self.exp.game.real_scores(batch) for batch in self.references)
        r_train, r_held = torch.stack([train.sign().mean(), held.sign().mean()]).tolist()
        return {"health/r_heldout": r_held, "health/r_gap": r_train - r_held}

    def warn(self, warnings: list[dict]) -> None:
        """Say each new health warning once: console, TensorBoard text, metrics.json at the end."""
        for w in warnings:
            log.warning("step %d: %s", w["step"], w["message"])
            self.writer.add_text("health", f"step {w['step']}: {w['message']}", w["step"])
        reason = self.health.stop_reason(warnings)
        if reason and not self.stop_early:
            self.stop_early = reason

    def own_rng(self):
        """Pictures and their fixed inputs never draw from the training RNG stream (a resumed run
        makes them again, at other steps): whatever a game draws there is forgotten."""
        device = self.exp.device
        return torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else [])

    def pictures(self, step: int) -> None:
        with self.own_rng():
            pictures = self.exp.game.pictures(self.fixed)
        for tag, picture in pictures:
            self.writer.add_image(tag, picture, step)
            suffix = "" if tag == KINDS[self.exp.data.kind].tag else "_" + tag.rsplit("/", 1)[-1]
            visualize.save_png(picture, self.run_dir / "samples" / f"step_{step:07d}{suffix}.png")

    def wall(self) -> float:
        return self.wall_before + time.perf_counter() - self.t0

    def save(self, step: int, stop: Optional[StopSignals] = None) -> Path:
        if stop is not None:
            stop.arrived_after_save = False
        self.saved_at = step
        exp = self.exp
        if self.world > 1:     # every rank's own state, gathered on rank 0 (exact resume of each stream)
            others = distributed.gather(None if self.main else on_cpu(exp.players.parts_state()))
            if not self.main:
                return self.run_dir / "checkpoints" / LAST
        state = {"format": FORMAT, "step": step, "config": plain_config(exp.cfg), "data_shape": list(exp.data.shape),
                 "data_kind": exp.data.kind, "class_names": list(exp.data.class_names), "wall_s": self.wall(),
                 "last_logged": dict(self.last), **exp.players.state_dict(),
                 # the plugin packages its options come from: a machine without them can say what to install
                 "plugins": plugins.provided({g: exp.cfg[g].type for g in ("game", "model", "dataset", "loss")})}
        if hasattr(exp.data, "source_shape"):         # image-to-image runs: the inputs' shape too
            state["source_shape"] = list(exp.data.source_shape)
        if self.world > 1:
            state["ranks"] = others[1:]
        return save_checkpoint(state, self.run_dir / "checkpoints", step, self.keep_last)

    def evaluate(self, step: int) -> tuple[dict, dict]:
        """Measure the generator (G_ema when kept) and log the numbers as metrics/<name>."""
        values, protocol = self.evaluator(self.exp.game.generate)
        for k, v in values.items():
            if v is not None:
                self.writer.add_scalar(f"metrics/{k}", v, step)
        self.warn(self.health.on_eval(step, values))
        return values, protocol

    def stopped_early_at(self) -> Optional[int]:
        """The step a run was stopped at by train.stop_on (still set), or None."""
        try:
            done = read_metrics(self.run_dir)
        except ValueError:
            return None
        on = self.health.stop_on != "none" and done.get("status") == "stopped_early"
        return done.get("steps") if on else None

    def already_trained(self) -> dict:
        """A resumed run with no steps left: nothing to do, or its final evaluation was cut off."""
        try:
            done = read_metrics(self.run_dir)
        except ValueError:         # missing or unreadable: the final evaluation is redone below
            done = {}
        if done.get("status") == "stopped_early" and self.health.stop_on != "none":
            log.info("%s was stopped at step %d by train.stop_on (%s): nothing to do; train.stop_on=none "
                     "trains it on", self.run_dir, self.start, printable(done.get("stop_reason")))
            return done
        if done.get("status") == "finished":
            log.info("%s already finished at step %d (train.steps=%d): nothing to do", self.run_dir, self.start,
                     self.steps)
            return done
        log.info("%s was trained to step %d; running its final evaluation", self.run_dir, self.start)
        self.evaluator = Evaluator(self.exp.cfg.eval, self.exp.data, self.exp.device, augmented(self.exp.cfg))
        self.writer = tb_writer(self.run_dir / "tb", purge_step=self.start + 1)
        self.t0 = time.perf_counter()
        with StopSignals():
            return self.finish(self.start)

    def finish(self, steps: int) -> dict:
        """The final evaluation and metrics.json."""
        if hasattr(self, "bar"):
            self.bar.close()
        values, protocol = self.evaluate(steps)
        write_hparams(self.writer, self.exp.cfg, values)
        self.writer.close()
        metrics = {"steps": steps, "loss_d": self.last.get("loss/D"), "loss_g": self.last.get("loss/G"), **values,
                   "wall_s": round(self.wall(), 3), "status": "stopped_early" if self.stop_early else "finished"}
        if self.stop_early:
            metrics["stop_reason"] = self.stop_early
        if self.count_skipped:
            metrics["skipped"] = self.exp.players.skipped
        if self.world > 1:
            metrics["processes"] = self.world
            metrics["ranks_in_step"] = self.ranks_in_step
        metrics["warnings"] = list(self.health.said)
        metrics["protocol"] = protocol
        atomic_write_text(self.run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        shown = "  ".join(f"{k}={v:.4g}" for k, v in values.items() if v is not None)
        losses = "  ".join(f"{k}={v:.4f}" for k, v in (("loss_d", metrics["loss_d"]), ("loss_g", metrics["loss_g"]))
                           if v is not None)
        log.info("done in %.1fs: %s %s -> %s", metrics["wall_s"], losses, shown, self.run_dir)
        return metrics

    def check_finite(self, step: int) -> None:
        """Stop, naming the step and the term, before a non-finite state is logged or saved."""
        bad = self.means.divergence()
        if bad is None and weights_finite(*self.exp.players.modules()):
            return
        term, at = bad if bad else ("a weight of a network", step)
        last = self.run_dir / "checkpoints" / LAST
        keep = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written"
        write_status(self.run_dir, {"steps": step, "status": "diverged", "diverged_step": at, "diverged_term": term})
        raise Diverged(f"{term} is not finite at step {at}; stopped ({keep}). Lower the learning rates, "
                       f"or set train.nonfinite=skip to skip such updates")


def tb_writer(folder: Path, purge_step: Optional[int]) -> SummaryWriter:
    """The run's TensorBoard writer. TensorBoard reads a folder's event files in name order, and a name
    begins with the second its writer was made, then the host and process id: a resume within the
    second of the stopped run's file could sort before it, and its purge_step would then drop the
    stopped run's steps instead of its unsaved tail (seen in the SIGTERM resume test). So a resume
    waits, at most a second, until its file sorts after the others."""
    if purge_step is not None:
        stamps = [int(part) for p in folder.glob("events.out.tfevents.*")
                  for part in p.name.split(".")[3:4] if part.isdigit()]
        wait = max(stamps, default=0) + 1 - time.time()
        if 0 < wait <= 1:
            time.sleep(wait)
    return SummaryWriter(log_dir=str(folder), purge_step=purge_step)


def health_references(exp: Experiment):
    """Fixed training and held-out real batches for the r_gap signal, where the data has a held-out
    split and the game's D scores real samples alone; else None."""
    data = exp.data
    heldout = data.heldout() if KINDS[data.kind].image_like else None
    if heldout is None or exp.game.real_scores(data.reference(2)) is None:
        return None
    return data.reference(256), heldout.reference(256)


def weights_finite(*modules: torch.nn.Module) -> bool:
    """All parameters finite (one fused reduction and one sync)."""
    params = [p.detach() for m in modules for p in m.parameters()]
    return bool(torch.stack(torch._foreach_norm(params, float("inf"))).isfinite().all())


def write_hparams(writer: SummaryWriter, cfg: DictConfig, values: dict) -> None:
    """TensorBoard's HPARAMS tab: the run's settings (every scalar key of its config, flattened)
    beside its final metrics (the metrics/<name> scalars just logged), so a sweep's runs compare
    in one table. Written into the run's own TensorBoard folder (SummaryWriter.add_hparams
    would open a second, timestamped sub-run)."""
    from torch.utils.tensorboard.summary import hparams

    from ganrun.config import flatten

    settings = {}
    for key, value in flatten(plain_config(cfg)).items():
        settings[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    metrics = {f"metrics/{k}": v for k, v in values.items() if isinstance(v, (int, float))}
    for summary in hparams(settings, metrics):
        writer.file_writer.add_summary(summary)


def on_cpu(tree):
    """A state tree with its tensors moved to the CPU (to be sent to rank 0 and saved)."""
    if isinstance(tree, torch.Tensor):
        return tree.cpu()
    if isinstance(tree, dict):
        return {k: on_cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(on_cpu(v) for v in tree)
    return tree


def folder_identity(path: Path) -> Optional[tuple[int, int]]:
    """(device, inode) of a folder, None when it is missing: a removed folder made again differs."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def close_quietly(writer: SummaryWriter) -> None:
    """Close a TensorBoard writer whose folder is gone (its own error is beside the point)."""
    try:
        writer.close()
    except Exception:
        pass


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
