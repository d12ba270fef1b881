"""Resuming a run in place: `ganrun ... resume=RUN_OR_CKPT` or `resume=auto`.

A resumed run continues in its own folder with the config stored in its checkpoint.
Only settings that do not change the experiment may differ (ALLOWED_CHANGES: more steps,
logging and checkpoint cadence, evaluation, device); anything else is refused.
`resume=auto` looks under ./outputs for the latest run whose config matches this one
(ignoring those same settings) and resumes it, or starts a new run if there is none, so
a preempted cluster job can simply be submitted again with the same command.

Hydra creates the run folder before ganrun's code runs, so the folder is chosen in the
config itself: `hydra.run.dir: ${ganrun_run_dir:${resume},<default>}` (see register_resolvers).
"""

from __future__ import annotations

import functools
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig, OmegaConf

from ganrun.checkpoint import LAST, later_checkpoints, list_checkpoints, load_checkpoint
from ganrun.config import flatten
from ganrun.errors import CheckpointError, ConfigError
from ganrun.runfiles import StoredFileError, odd_entry

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"          # the resolved config, written at the start of every run
SEARCH_ROOT = Path("outputs")        # where resume=auto looks, relative to the working directory
ALLOWED_CHANGES = ("resume", "quiet", "train.steps", "train.log_every", "train.sample_every",
                   "train.ckpt_every", "train.keep_last", "eval", "device")


def _allowed(key: str) -> bool:
    return any(key == a or key.startswith(a + ".") for a in ALLOWED_CHANGES)


def differences(a: dict, b: dict) -> list[str]:
    """Flattened keys whose values differ between two plain configs, outside ALLOWED_CHANGES."""
    fa, fb = flatten(a), flatten(b)
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k) and not _allowed(k))


def job_config(root: DictConfig) -> dict:
    """A composed config without Hydra's own node, resolved, as plain data."""
    keys = [k for k in root.keys() if k != "hydra"]
    return OmegaConf.to_container(OmegaConf.masked_copy(root, keys), resolve=True)


def run_folder_of(path: Path) -> Optional[Path]:
    """The run folder a resume path names: a run folder, or a checkpoint inside <run>/checkpoints/.
    Read from the path as given, links not followed: a checkpoint or run folder that is a link (planted
    in a stranger's folder) would choose the run folder ganrun writes into, its target's, so it is refused."""
    path = path.expanduser().absolute()
    if path.is_dir() and (path / "checkpoints").is_dir():
        run = path
    elif path.is_file() and path.parent.name == "checkpoints":
        run = path.parent.parent
    else:
        return None
    # the checkpoint file or the run folder itself a link (links above the run folder, a user's own
    # linked home or data disk, are the user's path)
    for linked in (path, run):
        if linked.is_symlink():
            raise StoredFileError(f"resume: {linked} is a link; ganrun resumes from a run folder or checkpoint file "
                                  f"itself, never through a link (the link would choose the run folder it writes "
                                  f"into): give the path it points to")
    return run


_claimed: set[Path] = set()   # runs that a job of this process resumes (a sweep's jobs never share one)


def _read_config(config_file: Path) -> Optional[dict]:
    """A run's config.json, or None (with a warning when it is not a file ganrun wrote)."""
    from ganrun.runfiles import StoredFileError, read_json

    try:
        stored = read_json(config_file)
    except OSError:
        return None
    except StoredFileError as e:
        log.warning("resume=auto: %s", e)
        return None
    return stored if isinstance(stored, dict) else None


def first_overrides(run: Path) -> Optional[dict[str, str]]:
    """The command-line overrides a run was started with (its first .hydra/, not a resume's); None,
    with a warning, when that file is not one ganrun can have written (the run is then never taken)."""
    from ganrun.report import run_overrides
    from ganrun.runfiles import StoredFileError

    try:
        return dict(o.partition("=")[::2] for o in run_overrides(run))
    except StoredFileError as e:
        log.warning("resume=auto: %s", e)
        return None


def swept_keys(sweep: Path, cache: dict) -> set[str]:
    """The override keys that tell a sweep's jobs apart (set to different values across its jobs)."""
    if sweep not in cache:
        jobs = [first_overrides(d) or {} for d in sweep.iterdir() if d.is_dir()]
        cache[sweep] = {k for job in jobs for k in job if any(other.get(k) != job[k] for other in jobs)}
    return cache[sweep]


def matching_run(current: dict, root: Path = SEARCH_ROOT, exclude_under: Optional[Path] = None,
                 overrides: Optional[dict[str, str]] = None) -> Optional[Path]:
    """The run under `root` to continue for config `current` (given on the command line with
    `overrides`): the most recently checkpointed run with exactly this config, else one that
    differs only in ALLOWED_CHANGES (more steps, say). A job of an earlier sweep is only taken
    over by a job with the same values of the keys that sweep varied (train.steps=6,9 are two
    jobs, not one run to extend). Runs under `exclude_under` (the sweep being launched) and runs
    already claimed are skipped."""
    exact, close, sweeps = [], [], {}
    identity = {k: v for k, v in flatten(current).items() if k not in ("resume", "quiet")}
    for config_file in root.glob(f"**/{CONFIG_FILE}"):
        run = config_file.parent.resolve()
        last = run / "checkpoints" / LAST
        if not last.is_file() or run in _claimed or (exclude_under and run.is_relative_to(exclude_under)):
            continue
        why = odd_entry(run)
        if why:
            log.warning("resume=auto: skipping %s: %s (ganrun writes a run folder only into its own files and "
                        "folders, never through a link)", run, why)
            continue
        stored = _read_config(config_file)
        if stored is None:
            continue
        if (run.parent / "multirun.yaml").is_file():      # a job of a sweep
            started_with = first_overrides(run)
            if started_with is None or any(started_with.get(k) != (overrides or {}).get(k) for k in swept_keys(run.parent, sweeps)
                   if k.lstrip("+~") not in ("resume", "quiet", "hydra.run.dir", "hydra.sweep.dir")):
                continue
        if not differences(stored, current):
            same = {k: v for k, v in flatten(stored).items() if k not in ("resume", "quiet")} == identity
            (exact if same else close).append((last.stat().st_mtime, run))
    found = exact or close
    return max(found)[1] if found else None


@functools.lru_cache(maxsize=None)
def _target(resume: Optional[str], config_json: str, sweep_dir: Optional[str],
            overrides: tuple[str, ...] = ()) -> Optional[str]:
    if not resume:
        return None
    if resume == "auto":
        run = matching_run(json.loads(config_json), exclude_under=Path(sweep_dir).resolve() if sweep_dir else None,
                           overrides=dict(o.partition("=")[::2] for o in overrides))
        if run:
            _claimed.add(run)
        return str(run) if run else None
    run = run_folder_of(Path(resume))
    return str(run) if run else None


def resume_target(resume: Optional[str], root: DictConfig) -> Optional[str]:
    """The existing run folder this invocation continues in, or None for a new run."""
    if not resume:
        return None
    multirun = str(OmegaConf.select(root, "hydra.mode", default="")).endswith("MULTIRUN")
    sweep_dir = str(root.hydra.sweep.dir) if multirun else None
    overrides = tuple(str(o) for o in (OmegaConf.select(root, "hydra.overrides.task") or []))
    return _target(resume, json.dumps(job_config(root), sort_keys=True, default=str), sweep_dir, overrides)


def register_resolvers() -> None:
    """Resolvers used by hydra.run.dir, hydra.sweep.subdir and hydra.output_subdir."""
    def run_dir(resume, default, *, _root_):
        return resume_target(resume, _root_) or default

    def hydra_subdir(resume, *, _root_):
        if resume_target(resume, _root_):
            return f".hydra/resumed-{datetime.now():%Y-%m-%d_%H-%M-%S-%f}"
        return ".hydra"

    OmegaConf.register_new_resolver("ganrun_run_dir", run_dir, replace=True)
    OmegaConf.register_new_resolver("ganrun_hydra_subdir", hydra_subdir, replace=True)


def latest_good_checkpoint(run: Path) -> tuple[Path, dict]:
    """The newest checkpoint of a run that loads; corrupt ones are reported and skipped."""
    folder = run / "checkpoints"
    candidates = [folder / LAST] + list(reversed(list_checkpoints(folder)))
    problems = []
    for path in candidates:
        if not path.is_file():
            continue
        try:
            return path, load_checkpoint(path)
        except CheckpointError as e:
            problems.append(str(e))
            log.warning("%s; trying an older checkpoint", e)
    if problems:
        raise CheckpointError(f"no readable checkpoint in {folder}: {problems[-1]}")
    raise CheckpointError(f"no checkpoint in {folder}: nothing to resume")


def _touches(key: str, changed: list[str]) -> bool:
    """Whether `key` lies under (or above) one of the keys the command line set ("" is the root)."""
    return any(c == "" or key == c or key.startswith(c + ".") or c.startswith(key + ".") for c in changed)


def explicit_keys(overrides: list[str], top_level: set[str], stored: Optional[dict] = None) -> list[str]:
    """Config keys that command-line overrides set. A group choice maps to its package; one that
    fills no single key (experiment=..., which sets several groups) counts as touching them all.
    A group choice that names the run's own option (dataset=folder for a folder run, given so that
    dataset.root can be set) changes nothing by itself."""
    keys = []
    for item in overrides:
        key, _, value = item.partition("=")
        key = key.lstrip("+~")
        node = (stored or {}).get(key)
        if "." not in key and isinstance(node, dict) and value in (node.get("type"), node.get("name")):
            continue
        keys.append(key if "." in key or key in top_level else "")
    return keys


def where_given(path_key: str, stored: dict) -> str:
    """How to give a path on the command line of a resumed run: with the run's own option, whose keys
    the command line can then set (dataset=folder dataset.root=PATH)."""
    group, _, leaf = path_key.partition(".")
    node = stored.get(group) or {}
    option = node.get("name") if group == "dataset" and node.get("name") else node.get("type")
    return f"{group}={option} {path_key}=PATH" if option else f"{path_key}=PATH"


def prepare(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> tuple[DictConfig, Optional[dict]]:
    """The config to run and the checkpoint state to resume from (None: a fresh run)."""
    if not cfg.resume:
        return cfg, None
    current = OmegaConf.to_container(cfg, resolve=True)
    if cfg.resume == "auto":
        if not list_checkpoints(run_dir / "checkpoints"):
            log.info("resume=auto: no earlier run with this config under %s/, starting a new one", SEARCH_ROOT)
            return cfg, None
        path, state = latest_good_checkpoint(run_dir)
        changed_by_user = list(flatten(current))
    else:
        given = Path(cfg.resume).expanduser()
        if not given.exists():
            raise CheckpointError(f"resume={cfg.resume}: no such run folder or checkpoint file")
        if given.is_dir():
            if run_folder_of(given) is None:
                raise CheckpointError(f"resume={cfg.resume}: not a ganrun run folder (no checkpoints/ in it)")
            path, state = latest_good_checkpoint(given)
        else:
            run_folder_of(given)                       # refuses a checkpoint that is a link
            path, state = given, load_checkpoint(given)
        changed_by_user = explicit_keys(overrides, set(current), state["config"])
    if state.get("export"):
        raise CheckpointError(f"resume={cfg.resume}: {path} holds only a generator (an export), not a training "
                              f"state; resume from the run's .pt checkpoint")
    from ganrun.config import load_stored_config, path_keys

    stored = state["config"]       # its paths already the user's defaults (checkpoint.checked)
    # Where files are read and written is this command line's (or the user's defaults), never the file's.
    paths = path_keys(load_stored_config(stored, str(path)))
    mine = flatten(current)
    given = {k: mine[k] for k in paths
             if k in mine and mine[k] is not None and (cfg.resume == "auto" or _touches(k, changed_by_user))}
    refused = [k for k in differences(stored, current) if _touches(k, changed_by_user) and k not in paths]
    if refused:
        # a different option (loss.type) says more than the keys that come with it
        k = min(refused, key=lambda key: (not key.endswith(".type"), key))
        raise ConfigError(f"resume: {k}={flatten(current).get(k)!r} differs from the run's "
                          f"{flatten(stored).get(k)!r}; a resumed run keeps its config (only "
                          f"{', '.join(a for a in ALLOWED_CHANGES if a != 'resume')} may change)")
    # The stored config rebuilt on ganrun's schema (its options looked up in ganrun's registry,
    # never instantiated from the file), with the allowed settings taken from this command
    # line: all of them for resume=auto, the ones the user set otherwise.
    root = state.get("stored_paths", {}).get("dataset.root")
    if root is not None and "dataset.root" not in given:
        raise ConfigError(f"resume: the run read its data from {str(root)[:200]!r} (recorded in {path}); a stored "
                          f"file never says where ganrun reads files: add {where_given('dataset.root', stored)} "
                          f"(that folder, or where the data is on this machine)")
    resumed = load_stored_config(stored, str(path), given)
    for k, v in mine.items():
        if _allowed(k) and k not in paths and (cfg.resume == "auto" or _touches(k, changed_by_user)):
            OmegaConf.update(resumed, k, v, merge=False)
    resumed.resume = cfg.resume
    state["source"] = str(path)
    log.info("resuming %s from %s (step %d)", run_dir, path, state["step"])
    later = later_checkpoints(run_dir / "checkpoints", int(state["step"]))
    if later:
        log.warning("%s holds checkpoints past step %d from before this resume (%s): the run will overwrite "
                    "them as it reaches their steps, and prune them before its own (train.keep_last)",
                    run_dir / "checkpoints", state["step"], ", ".join(p.name for p in later[:3])
                    + (f" and {len(later) - 3} more" if len(later) > 3 else ""))
    return resumed, state
