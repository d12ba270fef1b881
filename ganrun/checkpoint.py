"""Checkpoint files: written atomically, read without unpickling code.

A run keeps `<run>/checkpoints/step_XXXXXXX.pt` files and `last.pt`, a hard
link to the newest one. Every file is written to a temporary name, fsynced
and renamed, so a crash mid-write never leaves a half file under a real name.
Loading uses `torch.load(weights_only=True)`: tensors and plain containers only,
so a crafted checkpoint cannot run code.

torch is imported inside the functions that need it: `ganrun`'s resolvers use this module
(checkpoint names, the list of a run's checkpoints) while composing a config, before and
without any training.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import reprlib       # a stranger's value in a message: cut short (it may be megabytes)
import stat
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ganrun.errors import CheckpointError

try:
    import fcntl
except ImportError:          # Windows: no file locks (one_at_a_time then runs its block unlocked)
    fcntl = None

if TYPE_CHECKING:
    import torch

LAST = "last.pt"
log = logging.getLogger(__name__)


def step_name(step: int) -> str:
    return f"step_{step:07d}.pt"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Sink:
    """A file that remembers the OSError of a failed write: torch's zip writer turns that error
    into a RuntimeError ("file write failed") that no longer says the disk is full."""

    def __init__(self, f):
        self.f, self.error = f, None

    def write(self, data) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.f.flush()


@functools.cache
def _umask() -> int:
    """The process's umask (read once: reading it means setting it, for an instant)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write, sync: bool = True) -> None:
    """write(file) into a temporary file in the same folder, fsync (unless not `sync`: pictures),
    then rename over `path`.
    On any failure the temporary file is removed, `path` is left as it was, and the error is an
    OSError naming `path` (ENOSPC, EACCES, ...), whatever the writer turned it into."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        # mkstemp makes the file private (0600); the result is an ordinary file of the user's, with
        # the permissions the umask gives any other (0644 usually), readable by the user's group
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None
    sink = None
    try:
        with os.fdopen(fd, "wb") as f:
            sink = _Sink(f)
            write(sink)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        cause = sink.error if sink is not None and sink.error is not None else e
        if isinstance(cause, OSError):
            raise OSError(cause.errno, cause.strerror or str(cause), str(path)) from None
        raise
    if sync:
        _fsync_dir(path.parent)


def atomic_save(obj: dict, path: Path) -> None:
    """torch.save, atomically."""
    import torch

    _atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text.encode()))


def atomic_write_bytes(path: Path, data: bytes, sync: bool = True) -> None:
    _atomic_write(path, lambda f: f.write(data), sync)


LOCK_WAIT_S = 1200.0      # the longest a run waits for another's cache entry before computing its own
LOCK_POLL_S = 0.2


def _lock_file(path: Path) -> Optional[int]:
    """An open descriptor of `path` + ".lock", or None where no lock can be had: no fcntl (Windows), a
    folder that cannot be made or written, a link in its place, or a file that is not this user's own
    regular file (someone else's lock in a shared folder must not hold this user's runs)."""
    if fcntl is None:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def one_at_a_time(path: Path, what: str, wait_s: float = LOCK_WAIT_S):
    """Hold the lock file `path` + ".lock" for the block: a cache entry read, or computed and written,
    by one process at a time. The jobs of a parallel sweep all build their evaluator together, and
    each trained the same classifier at once; now one does and the others wait and read its file.
    Where no lock can be taken (see _lock_file; a file system without locks) the block runs unlocked:
    the work may be done twice, as before, and nothing else changes. A run waits at most `wait_s`
    (a stopped or stuck holder), then warns and computes its own. The lock goes with the process,
    however it ends."""
    fd = _lock_file(path)
    if fd is None:
        yield
        return
    try:
        deadline, said = time.monotonic() + wait_s, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    log.warning("waited %.0f s for another ganrun process computing the same %s (%s); "
                                "computing it here", wait_s, what, path.name)
                    break
                if not said:
                    log.info("waiting for another ganrun process that is computing the same %s (%s)", what,
                             path.name)
                    said = True
                time.sleep(LOCK_POLL_S)
            except OSError:              # no locks on this file system
                break
        yield
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: Path) -> int:
    """Delete the .*.tmp files that a process killed mid-write (kill -9) left in `folder`."""
    removed = 0
    for tmp in Path(folder).glob(".*.tmp"):
        try:
            tmp.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _point_last_at(target: Path) -> None:
    """Make last.pt name the same file as `target` (hard link; a copy where links are not allowed)."""
    last = target.parent / LAST
    tmp = target.parent / f".{LAST}.link.tmp"
    tmp.unlink(missing_ok=True)
    try:
        os.link(target, tmp)
    except OSError:
        import shutil
        shutil.copyfile(target, tmp)
    os.replace(tmp, last)


def save_checkpoint(state: dict, folder: Path, step: int, keep_last: int = 0) -> Path:
    """Write step_XXXXXXX.pt, point last.pt at it, then prune to the newest `keep_last` (0: keep all)."""
    path = folder / step_name(step)
    try:
        atomic_save(state, path)
        _point_last_at(path)
    except OSError as e:
        from ganrun.errors import one_line

        raise CheckpointError(f"cannot write checkpoint {path}: {one_line(OSError(e.errno, e.strerror))}; "
                              f"the earlier checkpoints are intact") from None
    if keep_last > 0:
        # Steps past this one are from before a resume at an earlier checkpoint (a branch this run left):
        # they go first, so the newest of this run's own are the ones kept.
        kept = list_checkpoints(folder)
        kept = [p for p in kept if step_of(p) > step] + [p for p in kept if step_of(p) <= step]
        for old in kept[:-keep_last]:
            old.unlink(missing_ok=True)
    return path


def step_of(path: Path) -> int:
    """The step in a step_XXXXXXX.pt name (-1 for another name)."""
    digits = path.stem.removeprefix("step_")
    return int(digits) if digits.isdigit() else -1


def later_checkpoints(folder: Path, step: int) -> list[Path]:
    """step_*.pt files of steps past `step`: after a resume at `step`, those of the branch it left."""
    return [p for p in list_checkpoints(folder) if step_of(p) > step]


def list_checkpoints(folder: Path) -> list[Path]:
    """step_*.pt files in a checkpoints folder, oldest first."""
    return sorted(Path(folder).glob("step_*.pt"))


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run folder meaning its last checkpoint."""
    p = Path(path).expanduser()
    if p.is_dir():
        for candidate in (p / "checkpoints" / LAST, p / LAST):
            if candidate.is_file():
                return candidate
        raise CheckpointError(f"no checkpoint in {p}: expected {p / 'checkpoints' / LAST}")
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    return p


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint safely (weights_only), or a generator exported as safetensors;
    a clear error if it is corrupt or not ours."""
    p = resolve_checkpoint(path)
    if p.suffix == ".safetensors":
        return checked(load_exported_generator(p), p)
    return checked(load_tensors(p, map_location, "checkpoint"), p)


# The number types ganrun's files hold: float8, complex and the quantized types are none of them.
PLAIN_DTYPES = ("float16", "bfloat16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool")
MAX_NESTING = 32          # ganrun's own files nest about 6 levels (players, G, optimizer, state, 0, exp_avg)
# Entries (containers, tensors, numbers) of a file, each counted as often as it is reached: ganrun's own
# checkpoints hold a few thousand (a run logging rarely keeps one number per update since its last log
# line). torch.load keeps what a pickle shares, so 13 kB can hold a list that holds one list a thousand
# times, six levels deep: 10^18 entries for any walk over it. The count itself visits each container once.
MAX_ENTRIES = 10_000_000


class _Odd(Exception):
    """Why a file is odd, raised out of odd_tensor's walk."""


def odd_tensor(state) -> Optional[str]:
    """Why a loaded file holds something that torch.save of ganrun's own state never writes, or None:
    a tensor that is not dense (sparse, nested, quantized), of another number type, or that shows more
    elements than its memory holds (an expanded view: a few bytes in the file that a copy, a digest or
    a finiteness check turns into gigabytes), containers nested past MAX_NESTING, or more than MAX_ENTRIES
    entries counted along every path (containers that hold one another many times over). Each container
    is walked once (a shared one adds its count again from memory), so the check costs what the file holds."""
    import torch

    storages: dict[int, int] = {}
    seen: dict[int, tuple[int, int]] = {}      # id of a container -> (entries, bytes shown) under it

    def walk(value, where: str, depth: int) -> tuple[int, int]:
        name = where if len(where) <= 80 else where[:77] + "..."
        if isinstance(value, torch.Tensor):
            kind = ("a nested tensor" if value.is_nested else "a quantized tensor" if value.is_quantized
                    else None if value.layout == torch.strided else f"a {value.layout} tensor")
            if kind:
                raise _Odd(f"{name or 'a tensor'} is {kind}, which ganrun never writes")
            if str(value.dtype).removeprefix("torch.") not in PLAIN_DTYPES:
                raise _Odd(f"{name or 'a tensor'} has dtype {value.dtype}, which ganrun never writes")
            if value.numel() * value.element_size() > value.untyped_storage().nbytes():
                raise _Odd(f"{name or 'a tensor'} shows {value.numel()} elements in the memory of "
                           f"{value.untyped_storage().nbytes() // max(1, value.element_size())} (an expanded "
                           f"view), which ganrun never writes")
            storages[value.untyped_storage().data_ptr()] = value.untyped_storage().nbytes()
            return 1, value.numel() * value.element_size()
        if not isinstance(value, (dict, list, tuple)):
            return 1, 0
        if id(value) in seen:
            return seen[id(value)]
        if depth >= MAX_NESTING:
            raise _Odd(f"{name} is nested more than {MAX_NESTING} levels deep")
        entries, shown = 1, 0
        for key, part in (value.items() if isinstance(value, dict) else enumerate(value)):
            more, bytes_ = walk(part, f"{where}.{name_of(key)}" if where else name_of(key), depth + 1)
            entries, shown = entries + more, shown + bytes_
            if entries > MAX_ENTRIES:
                raise _Odd(f"it holds more than {MAX_ENTRIES} entries (containers that repeat one another), "
                           f"which ganrun never writes")
        seen[id(value)] = entries, shown
        return entries, shown

    try:
        _, shown = walk(state, "", 0)
    except _Odd as e:
        return str(e)
    # Many tensors over one memory each pass the test above, and each becomes its own copy once cast
    # or loaded; ganrun's files hold one tensor per memory (twice: slack for a shared weight)
    held = sum(storages.values())
    if shown > 2 * held + 2 ** 20:
        return (f"its tensors show {shown} bytes over {held} bytes of memory (views of one memory), which "
                f"ganrun never writes")
    return None


def name_of(key) -> str:
    """A stored key as a short name for messages (a stranger's key may be megabytes long)."""
    text = str(key) if isinstance(key, (str, int)) else type(key).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def load_tensors(p: Path, map_location, what: str):
    """torch.load(p, weights_only=True) of a file of torch.save's format, refused with a CheckpointError
    ("cannot read <what> <p>: <why>") when it is not one, holds pickled objects or compressed entries,
    or holds what ganrun never writes (odd_tensor). The caller checks its own layout."""
    # torch.save writes a zip archive; a file cut short loses the archive's directory at its end.
    if not zipfile.is_zipfile(p):
        raise CheckpointError(f"cannot read {what} {p}: it is truncated or not a PyTorch checkpoint")
    try:
        with zipfile.ZipFile(p) as archive:
            compressed = any(info.compress_type != zipfile.ZIP_STORED for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {what} {p}: it is corrupt ({str(e)[:120]})") from None
    if compressed:       # torch.save stores; a compressed entry could unpack to far more than the file
        raise CheckpointError(f"cannot read {what} {p}: it holds compressed entries, which torch.save never "
                              f"writes (they could unpack to far more memory than the file's size)")
    import torch

    try:
        with warnings.catch_warnings():     # torch's notes on what a file holds (a sparse tensor's check):
            warnings.simplefilter("ignore")  # odd_tensor says what is wrong, in the error's one line
            state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # a damaged archive, or a pickle that wants to run code
        if "Weights only load failed" in str(e) or "Unsupported global" in str(e):
            reason = "it contains pickled Python objects, which ganrun refuses to load"
        else:
            reason = "it is corrupt (" + (str(e).strip().splitlines() or [type(e).__name__])[0][:120] + ")"
        raise CheckpointError(f"cannot read {what} {p}: {reason}") from None
    why = odd_tensor(state)
    if why:
        raise CheckpointError(f"cannot read {what} {p}: {why}")
    return state


KINDS = ("points", "density1d", "curves", "images", "stacked", "paired", "unpaired")
FORMAT = "ganrun-checkpoint"
SAMPLED = "G"           # the player whose network `ganrun-sample`, `ganrun-eval` and exports use


def _weights(value) -> bool:
    import torch

    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                           for k, v in value.items())


def upgrade(state: dict) -> dict:
    """A checkpoint of ganrun 0.1 (G, D, opt_g, ... at the top) in today's layout (players, state)."""
    if not isinstance(state, dict) or "players" in state or "G" not in state:
        return state
    scalers = state.get("scalers") or {}
    players = {"G": {"module": state["G"], "ema": state.get("G_ema"), "optimizer": state.get("opt_g"),
                     "scheduler": state.get("sched_g"), "scaler": scalers.get("g")}}
    if "D" in state:
        players["D"] = {"module": state["D"], "ema": None, "optimizer": state.get("opt_d"),
                        "scheduler": state.get("sched_d"), "scaler": scalers.get("d")}
    parts = {k: state[k] for k in ("loss", "replay", "data", "means", "rng") if k in state}
    rest = {k: v for k, v in state.items() if k in ("step", "config", "data_shape", "data_kind", "wall_s",
                                                    "last_logged", "skipped")}
    return {"format": FORMAT, **rest, "players": players, "state": parts}


def generator_weights(state: dict) -> tuple[dict, str]:
    """(weights, "G_ema" or "G"): the sampled network of a checkpoint, its moving average if kept."""
    player = state["players"][SAMPLED]
    return (player["ema"], f"{SAMPLED}_ema") if player.get("ema") else (player["module"], SAMPLED)


def checked(state, p: Path) -> dict:
    """A loaded checkpoint or export whose structure is what ganrun writes, with its config rebuilt
    on ganrun's schema (load_stored_config: a stored config never chooses code to run). Anything
    else is one CheckpointError naming the file and what is wrong."""
    from omegaconf import OmegaConf

    from ganrun.config import load_stored_config

    try:
        state = upgrade(state)
    except Exception:              # an old layout with parts of the wrong kinds
        raise CheckpointError(f"{p} is not a valid ganrun checkpoint: its layout of ganrun 0.1 is malformed") from None
    players = state.get("players") if isinstance(state, dict) else None
    if not isinstance(players, dict) or not (SAMPLED in players or "G_AB" in players) or "config" not in state:
        raise CheckpointError(f"{p} is not a ganrun checkpoint (no generator weights or config in it)")
    problems = []
    for name, player in players.items():
        if not isinstance(player, dict) or not _weights(player.get("module")):
            problems.append(f"{name} is not a set of named tensors")
        elif player.get("ema") is not None and not _weights(player["ema"]):
            problems.append(f"{name}_ema is not a set of named tensors")
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < 2 ** 62:
        problems.append(f"step {reprlib.repr(step)} is not a step number")
    shape = state.get("data_shape")
    if not (isinstance(shape, (list, tuple)) and 1 <= len(shape) <= 4
            and all(isinstance(d, int) and 1 <= d <= 65536 for d in shape)):
        problems.append(f"data_shape {reprlib.repr(shape)} is not a sample shape")
    if state.get("data_kind") not in KINDS:
        problems.append(f"data_kind {reprlib.repr(state.get('data_kind'))} is not one of {', '.join(KINDS)}")
    if not isinstance(state.get("state", {}), dict):
        problems.append("its state is not a mapping")
    source = state.get("source_shape")
    if source is not None and not (isinstance(source, (list, tuple)) and len(source) == 3
                                   and all(isinstance(d, int) and 1 <= d <= 65536 for d in source)):
        problems.append(f"source_shape {reprlib.repr(source)} is not an image shape")
    if state.get("data_kind") in ("paired", "unpaired") and source is None:
        problems.append("it has no source_shape, which an image-to-image run needs")
    names = state.setdefault("class_names", [])
    if not (isinstance(names, list) and len(names) <= 100_000 and all(isinstance(n, str) for n in names)):
        problems.append("class_names is not a list of names")
    if problems:
        raise CheckpointError(f"{p} is not a valid ganrun checkpoint: {problems[0]}")
    # The stored paths are replaced by the user's here already (a stored file never says where files
    # are read or written); those that differed are kept aside, for messages only.
    providers = state.get("plugins") or {}
    if not (isinstance(providers, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in providers.items())):
        raise CheckpointError(f"{p} is not a valid ganrun checkpoint: its plugins are not names of packages")
    state["stored_paths"] = {}
    state["config"] = OmegaConf.to_container(load_stored_config(state["config"], str(p), moved=state["stored_paths"],
                                                                providers=providers), resolve=True)
    mismatch = shapes_against_config(state)
    if mismatch:
        raise CheckpointError(f"{p} is not a valid ganrun checkpoint: {mismatch}")
    return state


def shapes_against_config(state: dict) -> Optional[str]:
    """Why the stored kind and sample shapes of a run do not fit its own config (its dataset's kind,
    resolution and channels), or None: the networks are built from these, so they must be the config's."""
    from ganrun.config import option

    dataset = state["config"]["dataset"]
    kind = getattr(option("dataset", dataset["type"]).schema, "kind", None)
    if kind is not None and state["data_kind"] != kind:
        return f"data_kind {state['data_kind']!r} is not its dataset's ({dataset['type']}: {kind})"
    resolution, channels = dataset.get("resolution"), dataset.get("channels") or None
    if state["data_kind"] not in ("images", "stacked", "paired", "unpaired") or not resolution:
        return None
    for key in ("data_shape", "source_shape"):
        shape = state.get(key)
        if shape is None:
            continue
        if len(shape) != 3 or list(shape[1:]) != [resolution, resolution]:
            return f"{key} {list(shape)} does not fit its config's dataset.resolution={resolution}"
        if shape[0] not in (1, 3) or (channels and key == "data_shape" and shape[0] != channels):
            return f"{key} {list(shape)} does not fit its config's channels ({channels or '1 or 3'})"
    return None


# --------------------------------------------------------------------------- sharing G
def export_generator(state: dict, path: Path) -> Path:
    """G's weights (G_ema when the run kept one) as safetensors, with what rebuilding G needs
    (the config, sample shape and kind, step) in the file's metadata."""
    from safetensors.torch import save

    weights, which = generator_weights(state)
    metadata = {"format": "ganrun-generator", "config": json.dumps(state["config"]),
                "data_shape": json.dumps(list(state["data_shape"])), "data_kind": state["data_kind"],
                "step": str(state["step"]), "weights": which,
                "class_names": json.dumps(state.get("class_names", [])),
                "plugins": json.dumps(state.get("plugins") or {})}
    # serialised in memory, then written by ganrun (safetensors' own writer hides a full disk)
    atomic_write_bytes(path, save({k: v.contiguous() for k, v in weights.items()}, metadata=metadata))
    return path


def load_exported_generator(path: Path) -> dict:
    """A safetensors export read back as a checkpoint-like dict holding G only."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        weights = load_file(str(path))
    except Exception as e:
        raise CheckpointError(f"cannot read {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if meta.get("format") != "ganrun-generator":
        raise CheckpointError(f"{path} is not a generator exported by ganrun (no ganrun metadata)")
    why = odd_tensor(weights)
    if why:
        raise CheckpointError(f"{path} is not a valid ganrun export: {why}")
    from ganrun.runfiles import StoredFileError, parse_json

    try:
        return {"format": FORMAT, "export": True, "players": {SAMPLED: {"module": weights, "ema": None}},
                "config": parse_json(meta["config"], "config"), "data_shape": parse_json(meta["data_shape"], "data_shape"),
                "data_kind": meta["data_kind"], "step": int(meta["step"]),
                "class_names": parse_json(meta.get("class_names", "[]"), "class_names"),
                "plugins": parse_json(meta.get("plugins", "{}"), "plugins")}
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path} is not a valid ganrun export: its metadata {e} is missing or "
                              f"malformed") from None
    except StoredFileError as e:
        raise CheckpointError(f"{path} is not a valid ganrun export: its metadata {e}") from None


# --------------------------------------------------------------------------- weights into models
# Which config keys shape each network: named when a checkpoint's weights do not fit.
SHAPED_BY = {"G": "model.latent_dim or model.g_* (or the dataset's sample shape)",
             "D": "model.d_*, tricks.pack or the loss (loss=began gives D an autoencoder)"}


def load_weights(module: torch.nn.Module, weights: dict, name: str, source) -> None:
    """module.load_state_dict(weights), or a CheckpointError naming the first weight that does not
    fit and the option that probably differs."""
    import torch

    problem = weights_misfit(module, weights)          # names and shapes first: no work on a misfit
    bad = problem is None and next((k for k, v in weights.items()
                                    if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
    if bad:
        raise CheckpointError(f"{source}: {name} has NaN or infinite values in {bad}: the run that wrote it had "
                              f"diverged; use an earlier checkpoint")
    if problem is None:
        try:
            module.load_state_dict(weights)
            return
        except (RuntimeError, TypeError, ValueError) as e:
            problem = f"does not load ({str(e).strip().splitlines()[-1][:120]})"
    raise misfit_error(source, name, problem)


def weights_misfit(module: torch.nn.Module, weights: dict) -> Optional[str]:
    """How stored weights do not fit a network (a weight it lacks or has, or another shape), or None;
    from names and shapes only, so the network may be one built on PyTorch's meta device."""
    own = module.state_dict()
    for key, value in weights.items():
        if key not in own:
            return f"has a weight {key} that the model of its config lacks"
        if tuple(value.shape) != tuple(own[key].shape):
            return f"has {key} of shape {list(value.shape)} where the model of its config has {list(own[key].shape)}"
    missing = [k for k in own if k not in weights]
    return f"lacks the weight {missing[0]} of the model of its config" if missing else None


def misfit_error(source, name: str, problem: str) -> CheckpointError:
    """The one-line error for weights of `name` that do not fit, with the options that shape it."""
    hint = SHAPED_BY.get(name.split("/")[0].split("_")[0], "the model's options")
    return CheckpointError(f"{source}: {name} {problem}; {hint} probably differs from the run that wrote it")
