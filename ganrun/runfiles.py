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

import json
from pathlib import Path
from typing import Any

from ganrun.errors import GanrunError

LIMIT = 4 * 2 ** 20      # bytes: ganrun's own files of this kind are a few kB
MAX_DEPTH = 64           # nesting of lists and mappings (ganrun writes at most 4)


class StoredFileError(GanrunError):
    """A run folder's file that is not what ganrun writes: too large, nested too deep, aliased."""


def read_text(path: Path, limit: int = LIMIT) -> str:
    """The file's text, refused past `limit` bytes (OSError when it cannot be read)."""
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise StoredFileError(f"{path}: larger than {limit // 2 ** 20} MB, not a file ganrun wrote; ignored")
    return data.decode("utf-8", errors="replace")


def read_json(path: Path, limit: int = LIMIT) -> Any:
    """A JSON file as plain data; StoredFileError when it is not valid, too large or too deep."""
    return parse_json(read_text(path, limit), path)


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


def read_yaml(path: Path, limit: int = LIMIT) -> Any:
    """A YAML file as plain data, without expanding anchors and aliases (refused when it has any)."""
    import yaml

    text = read_text(path, limit)
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise StoredFileError(f"{path}: holds YAML anchors or aliases, which ganrun never writes "
                                      f"and does not expand; ignored")
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
