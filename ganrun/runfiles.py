"""Reading the small text files of run folders (config.json, metrics.json, .hydra/*.yaml, a sweep's
.joblist) as plain data, whoever wrote them.

A run folder may come from a stranger, and `ganrun-report` and `resume=auto` read every one under
a folder. So each file is read with a size cap, JSON without deep nesting, and YAML without anchors
and aliases (a few hundred bytes of nested aliases expand to gigabytes); a file that breaks these
rules is a `StoredFileError` naming the file, which the callers turn into one line (a note in the
report, a warning in a search) instead of a traceback or an exhausted machine.

Checkpoints and exports are read elsewhere (ganrun/checkpoint.py: tensors only, never pickle).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from ganrun.errors import GanrunError

LIMIT = 4 * 2 ** 20      # bytes: ganrun's own files of this kind are a few kB
YAML_LIMIT = 256 * 2 ** 10   # YAML parses slowly: Hydra's files in .hydra/ are a few kB
MAX_DEPTH = 64           # nesting of lists and mappings (ganrun writes at most 4)


class StoredFileError(GanrunError):
    """A run folder's file that is not what ganrun writes: too large, nested too deep, aliased."""


def read_text(path: Path, limit: int = LIMIT) -> str:
    """The file's text, refused past `limit` bytes or when it is not a regular file (a FIFO would
    block the reader forever, a device never end); OSError when it cannot be opened."""
    path = Path(path)
    try:      # not through a link either: a stranger's folder could point it at any file of the reader's
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        if e.errno == errno.ELOOP and path.is_symlink():
            raise StoredFileError(f"{path}: a link, which ganrun never writes; ignored") from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoredFileError(f"{path}: not a regular file; ignored")
        data = f.read(limit + 1)
    if len(data) > limit:
        shown = f"{limit // 2 ** 20} MB" if limit >= 2 ** 20 else f"{limit // 2 ** 10} kB"
        raise StoredFileError(f"{path}: larger than {shown}, not a file ganrun wrote; ignored")
    return data.decode("utf-8", errors="replace")



def read_json(path: Path, limit: int = LIMIT) -> Any:
    """A JSON file as plain data; StoredFileError when it is not valid, too large or too deep."""
    return parse_json(read_text(path, limit), path)

def read_metrics(run: Path) -> dict:
    """A run's metrics.json; ValueError saying why if it is not one ganrun wrote."""
    try:
        values = read_json(run / "metrics.json")
    except OSError as e:
        raise ValueError(e.strerror or str(e)) from None
    except StoredFileError as e:
        raise ValueError(str(e).split(": ", 1)[-1]) from None
    if not isinstance(values, dict):
        raise ValueError("not a JSON object")
    return values



def parse_json(text: str, source: Any) -> Any:
    """JSON text (a file's, or an export's metadata) as plain data; StoredFileError naming `source`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise StoredFileError(f"{source}: nested too deep, not a file ganrun wrote") from None
    except ValueError as e:
        raise StoredFileError(f"{source}: not valid JSON ({str(e).splitlines()[0]})") from None
    check_depth(value, source)
    return value


def read_yaml(path: Path, limit: int = YAML_LIMIT) -> Any:
    """A YAML file as plain data, without expanding anchors and aliases (refused when it has any) and
    refused when nested deeper than MAX_DEPTH (checked as it is parsed: deep nesting is slow to parse)."""
    import yaml

    text = read_text(path, limit)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise StoredFileError(f"{path}: holds YAML anchors or aliases, which ganrun never writes "
                                      f"and does not expand; ignored")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise StoredFileError(f"{path}: nested deeper than {MAX_DEPTH} levels, not a file ganrun "
                                          f"wrote; ignored")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        value = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise StoredFileError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    except RecursionError:
        raise StoredFileError(f"{path}: nested too deep, not a file ganrun wrote; ignored") from None
    check_depth(value, path)
    return value


def check_depth(value: Any, source: Any, limit: int = MAX_DEPTH) -> None:
    """StoredFileError when lists and mappings nest deeper than `limit` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            raise StoredFileError(f"{source}: nested deeper than {limit} levels, not a file ganrun wrote")
        stack.extend((child, depth + 1) for child in children)


# --------------------------------------------------------------------------- run folders
# What ganrun writes into a run folder. Any of them that is a link would make ganrun (or Hydra, which
# opens the log before ganrun's code runs) write wherever the link points.
RUN_ENTRIES = ("ganrun.log", "samples", "tb", "checkpoints", ".hydra", "metrics.json", "config.json")
FOLDERS = ("samples", "tb", "checkpoints", ".hydra")


def regular_file(path: Path) -> bool:
    """Whether `path` is (or links to) a regular file: a FIFO would block its reader or writer until the
    other end opens it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def odd_entry(run: Path) -> str | None:
    """Why one of ganrun's entries of a run folder is not what ganrun makes there, or None: a link,
    or an entry of the wrong type (a FIFO named ganrun.log blocks the log's opening forever, a folder
    of that name fails deep in Hydra's logging)."""
    for name in RUN_ENTRIES:
        entry = Path(run) / name
        if entry.is_symlink():
            return f"{entry} is a link"
    for name in RUN_ENTRIES:
        entry = Path(run) / name
        if not os.path.lexists(entry):
            continue
        if name in FOLDERS and not entry.is_dir():
            return f"{entry} is not a folder"
        if name not in FOLDERS and not regular_file(entry):
            return f"{entry} is not a regular file"
    return None


def refuse_odd_entries(run: Path, what: str) -> None:
    """StoredFileError when a run folder that ganrun is about to write into holds a link, or an entry
    that is not what ganrun makes there."""
    why = odd_entry(run)
    if why:
        raise StoredFileError(f"{what}: {why}; ganrun writes its run folders itself and never through a link "
                              f"or into anything but its own files and folders: remove it, or resume from the "
                              f"checkpoint file into a new folder")


class LogFile(logging.FileHandler):
    """The run's log file (<run>/ganrun.log), opened without following a link (Hydra's job logging
    opens it before any of ganrun's code runs, so this is the only place that can refuse one)."""

    def _open(self):
        # not blocking either: a FIFO of that name would hold the open until someone reads it
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.baseFilename, flags, 0o644)
        except OSError as e:        # ENXIO: a FIFO with no reader
            if e.errno != errno.ENXIO:
                raise
            fd = None
        if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode):
            if fd is not None:
                os.close(fd)
            raise StoredFileError(f"{self.baseFilename} is not a regular file; ganrun logs into its own file only")
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8")
