"""`ganrun`: the command line. Hydra composes the config; `train` does the work.

Errors take one path (ganrun/errors.py, `entry_point`): a user mistake or an environment
problem ends as one line on stderr and a non-zero exit, wherever it happens (composition,
a Hydra callback, building, training); anything else is a bug and keeps its traceback.
In a sweep, a job that fails that way is recorded as failed (its metrics.json says why)
and the other jobs run; the sweep's exit status is then 1. A stop signal (Ctrl-C, SLURM's
SIGTERM) saves a checkpoint, records the job as stopped and ends the sweep.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Optional

from ganrun.errors import ConfigError, SweepStopped, entry_point, report, short_path

# A single run's user error, raised again once Hydra has returned (raised through Hydra, it
# would be logged as "Error executing job" before our one line).
PENDING: list[Exception] = []
STARTED = [0.0]          # when this command began: what is newer in a run folder, it made
# What a run's setup makes in its folder before training opens its TensorBoard folder (Hydra's .hydra/,
# the log, the pictures' folder, the config record): a folder with tb/ has trained, or nearly, and is kept.
START_FILES = {".hydra", "ganrun.log", "samples", "config.json"}


def main() -> None:
    """The console script."""
    from ganrun import distributed

    code = entry_point("ganrun", _main)
    distributed.shutdown(clean=code == 0)
    if "torch" in sys.modules and not any(a.startswith("hydra/launcher=") for a in sys.argv[1:]):
        # Once the work is done and every file closed, leave without the interpreter's teardown:
        # torch's thread pools (gloo's under torchrun), destroyed there, sometimes abort the process
        # ("terminate called without an active exception", SIGABRT) after a run that went well,
        # and the shell, a sweep script or torchrun then takes it for a failure (seen in the suite
        # and under torchrun). Not after a launcher's sweep: its worker pools shut down at exit.
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _main() -> int:
    STARTED[0] = time.time()
    if sys.argv[1:] == ["--version"]:       # Hydra's own flag names Hydra's version only
        from importlib.metadata import version

        import ganrun

        print(f"ganrun {ganrun.__version__} (Hydra {version('hydra-core')}, PyTorch {version('torch')})")
        return 0
    topic = help_topic(sys.argv[1:])
    if topic is not None:
        from ganrun.reference import help_text

        print(help_text(topic))
        return 0
    sys.argv[1:] = quote_policies(sys.argv[1:])
    preflight(sys.argv[1:])
    sys.argv[1:] += distributed_overrides(sys.argv[1:])
    full_error = bool(os.environ.get("HYDRA_FULL_ERROR"))
    # Hydra hands its own errors (a wrong type, a misspelt key) to us only when HYDRA_FULL_ERROR
    # is set; a user who sets it themselves gets Hydra's full report, as Hydra documents.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    import hydra

    from ganrun.config import register_configs
    from ganrun.resume import register_resolvers

    register_configs()
    register_resolvers()
    app = hydra.main(version_base="1.3", config_path="../conf", config_name="config")(task)
    if full_error:
        app()
        return 0
    try:
        app()
        if PENDING:
            raise PENDING[0]
    except SweepStopped as e:
        from ganrun.report import report as sweep_report

        sweep_report(Path(e.sweep_dir))
        report("ganrun", f"{e.stopped}; the sweep's other jobs did not run. Run the same command with "
                         f"resume=auto to go on where it stopped (report so far: {e.sweep_dir}/report.md)")
        return e.stopped.exit_code
    from ganrun.callbacks import take_failed_jobs

    failed = take_failed_jobs()
    if failed:
        report("ganrun", f"{len(failed)} job(s) of the sweep failed, the others ran; first: {failed[0]}")
        return 1
    return 0


def help_topic(args: list[str]) -> Optional[str]:
    """`ganrun --help loss`, `ganrun --help loss=hinge`, `ganrun --help train`: the option reference of
    one group, option or block of keys (ganrun/reference.py), rather than Hydra's help of the app
    (which `ganrun --help` alone, or with overrides, still gives)."""
    if args and args[0].startswith("--help="):
        args = ["--help", args[0].partition("=")[2], *args[1:]]
    if len(args) < 2 or args[0] not in ("--help", "-h"):
        return None
    rest = args[1:]
    if len(rest) == 1 and not rest[0].startswith("-"):
        return rest[0]
    bare = [a for a in rest if "=" not in a and not a.startswith("-")]
    if bare:
        from ganrun.reference import HELP_TOPICS

        raise ConfigError(f"ganrun --help {' '.join(rest)}: give one topic ({HELP_TOPICS}), or overrides "
                          f"(key=value ...) to see the config they compose")
    return None


# Keys whose value is itself a comma-separated list (DiffAugment's policy string).
POLICY_KEYS = ("tricks.diffaug",)


def quote_policies(args: list[str]) -> list[str]:
    """In a single run, `tricks.diffaug=color,cutout` means the policy "color,cutout" (Hydra would
    read the commas as a sweep and refuse them outside -m). In a sweep the commas sweep, as
    everywhere; a policy is then quoted: 'tricks.diffaug="color,cutout"'."""
    if "-m" in args or "--multirun" in args:
        return args
    out = []
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and key in POLICY_KEYS and "," in value and value[:1] not in "'\"[":
            arg = f"{key}='{value}'"
        out.append(arg)
    return out


def preflight(args: list[str]) -> None:
    """Checks on the command line that must stop a run before Hydra composes it and creates its
    folder: deletions of keys every run needs, a resume path that does not exist, a run or sweep
    folder that cannot be written."""
    given = {}
    for arg in args:
        key, _, value = arg.partition("=")
        given[key] = value
        if arg.startswith("~") and key[1:] != "experiment" and not key[1:].startswith("hydra"):
            raise ConfigError(f"{arg}: ganrun's config keys and groups cannot be deleted; set a value "
                              f"instead (`ganrun --cfg job` shows them)")
    shows = [a for a in args if a in ("--cfg", "-c", "--info", "-i")]
    if shows and ("-m" in args or "--multirun" in args):
        raise ConfigError(f"{shows[0]} prints a config and runs nothing, -m runs a sweep: give one of them "
                          f"(without -m, {shows[0]} shows the config of the values given)")
    resume = given.get("resume")
    if resume and resume not in ("auto", "null") and "$" not in resume:
        path = Path(resume).expanduser()
        if not path.exists():
            raise ConfigError(f"resume={resume}: no such run folder or checkpoint file")
        from ganrun.resume import run_folder_of
        from ganrun.runfiles import refuse_odd_entries

        run = run_folder_of(path)
        if run is not None:          # the folder this run will write into (Hydra opens its log first)
            refuse_odd_entries(run, f"resume={resume}")
    sweep = "-m" in args or "--multirun" in args
    key = "hydra.sweep.dir" if sweep else "hydra.run.dir"
    folder = given.get(key, "outputs")
    why = unwritable(Path(folder)) if "$" not in folder else None
    if why:
        raise ConfigError(f"cannot create the run folder {short_path(folder)}: {why}; set {key} to a "
                          f"writable folder or run ganrun from one")


def distributed_overrides(args: list[str]) -> list[str]:
    """Under torchrun (ganrun/distributed.py), every process composes the same run: the run folder
    is rank 0's (its time stamp, sent to all), and the other ranks write nothing there (no .hydra/,
    no log file: they log warnings to the console)."""
    from ganrun import distributed

    if not distributed.active() or any(a in ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info")
                                       for a in args):
        return []
    if "-m" in args or "--multirun" in args:
        raise ConfigError("a torchrun launch trains one run over several processes; run sweeps with ganrun -m "
                          "(hydra/launcher=slurm runs each job on its own GPUs)")
    from datetime import datetime

    distributed.init()
    extra = []
    if not any(a.startswith("hydra.run.dir=") for a in args):
        stamp = distributed.broadcast(datetime.now().strftime("outputs/%Y-%m-%d/%H-%M-%S-%f"))
        extra.append(f"hydra.run.dir='${{ganrun_run_dir:${{resume}},{stamp}}}'")
    if not distributed.is_main():
        extra += ["hydra.output_subdir=null", "hydra/job_logging=ganrun_worker"]
    return extra


def unwritable(path: Path) -> Optional[str]:
    """Why a folder cannot be created and written at `path`, or None if it can."""
    probe = path.expanduser().absolute()
    if any(len(part.encode()) > 255 for part in probe.parts):
        return "a folder name in it is longer than the file system allows (255 bytes)"
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def task(cfg) -> Optional[dict]:
    """One run (or one job of a sweep); returns its metrics (None when it failed or stopped)."""
    import logging
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from ganrun.config import validate
    from ganrun.errors import Diverged, Stopped, user_error

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    logfile = logging.getLogger("ganrun.logfile")   # <run>/ganrun.log only
    sweep = hydra_cfg.mode == RunMode.MULTIRUN
    new_run = cfg.get("resume") in (None, "", "null")
    try:
        validate(cfg)
        share_cores(hydra_cfg.launcher)
        from ganrun import distributed

        if distributed.active() and distributed.broadcast(str(run_dir)) != str(run_dir):
            raise ConfigError("the processes of this run chose different run folders; give one with "
                              "hydra.run.dir=... (and a shared file system across machines)")
        from ganrun.resume import prepare
        from ganrun.loop import train

        cfg, state = prepare(cfg, run_dir, list(hydra_cfg.overrides.task))
        if state is not None and hydra_cfg.output_subdir:
            # Hydra saved the config it composed; the run goes on with the checkpoint's own.
            from omegaconf import OmegaConf

            from ganrun.checkpoint import atomic_write_text

            atomic_write_text(run_dir / hydra_cfg.output_subdir / "config.yaml", OmegaConf.to_yaml(cfg))
        return train(cfg, run_dir, state)     # metrics.json's content: a search's objective (ganrun/search.py)
    except Stopped as e:
        logfile.warning("%s", e)
        if sweep:
            raise SweepStopped(e, str(hydra_cfg.sweep.dir)) from None
        PENDING.append(e)
    except Exception as e:
        known = user_error(e)
        if known is None:
            raise                       # a bug: keep the traceback
        line = known[1]
        logfile.error("%s", line)
        if not sweep:
            PENDING.append(e)
            from ganrun import distributed

            if new_run and not distributed.active():
                discard_unstarted(run_dir, STARTED[0])
            return
        # One failed job must not end the sweep: record it and let the launcher go on.
        logging.getLogger("ganrun").error("job %s failed: %s", hydra_cfg.job.num, line)
        if not isinstance(e, Diverged):     # a diverged run has written its own metrics.json
            from ganrun.loop import record_failure

            record_failure(run_dir, line)


def discard_unstarted(run_dir: Path, since: float) -> None:
    """A new run refused during its setup (a value out of range, a missing data folder) leaves no
    folder behind: the console has its one line. Removed only when the folder holds nothing but what
    the setup makes, all of it made since `since` (no TensorBoard log, no file of the user's);
    then outputs/<date>/ where it is left empty."""
    import shutil

    def made_since(path: Path) -> bool:
        try:
            if path.is_symlink() or path.lstat().st_mtime < since - 1:
                return False
            return not path.is_dir() or all(made_since(p) for p in path.iterdir())
        except OSError:
            return False

    if since <= 0:                      # not started by the command: nothing is known to be its own
        return
    try:
        entries = list(run_dir.iterdir())
    except OSError:
        return
    if not all(p.name in START_FILES and made_since(p) for p in entries):
        return
    try:
        for p in entries:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        run_dir.rmdir()
        day = run_dir.parent            # the default layout's outputs/<date>/, when this run was its only one
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day.name) and not any(day.iterdir()):
            day.rmdir()
    except OSError:
        pass


def share_cores(launcher) -> None:
    """Jobs that run side by side (hydra/launcher=parallel) split the machine's cores: each gives
    torch cores / jobs threads. Two jobs of two threads each on two cores run many times slower
    than two of one thread (they spin waiting for each other's cores)."""
    if not str(launcher.get("_target_", "")).endswith("JoblibLauncher"):
        return
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n_jobs = int(launcher.get("n_jobs") or -1)
    jobs = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)   # joblib's rule: -1 all cores, -2 all but one
    threads = max(1, cores // min(jobs, cores))
    torch.set_num_threads(threads)
    import logging

    logging.getLogger("ganrun.logfile").info("parallel launcher: %d job(s) at once on %d core(s), %d torch "
                                             "thread(s) each", jobs, cores, threads)


if __name__ == "__main__":
    main()
