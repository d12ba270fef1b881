"""Seals on evaluation caches: a cache file is trusted only when this user's ganrun wrote it.

A cache (the classifier of a dataset, the features of its real images) decides what ganrun reports,
and a cache folder may come from someone else (a shared folder, a copied ~/.cache, --cache-dir given
a stranger's). A digest stored in the file proves nothing: whoever forges the file computes it too.
So each cache file carries a seal, an HMAC of what it holds made with a key that lives outside every
cache folder: `$GANRUN_KEY_FILE`, by default `~/.config/ganrun/cache.key` (`$XDG_CONFIG_HOME`),
made on first use and readable by its owner only. A file without a valid seal is computed again
and sealed anew, whoever wrote it. Where the key cannot be kept (a read-only home), a key for this
process alone is used: caches are then recomputed by each process.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)
_KEYS: dict[str, bytes] = {}


def key_file() -> Path:
    given = os.environ.get("GANRUN_KEY_FILE")
    if given:
        return Path(given).expanduser()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or "~/.config").expanduser()
    return config / "ganrun" / "cache.key"


def key() -> bytes:
    """This user's key (made on first use, owner-only)."""
    path = key_file()
    if str(path) in _KEYS:
        return _KEYS[str(path)]
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        except FileExistsError:
            pass
        with os.fdopen(os.open(path, os.O_RDONLY | nofollow), "r") as f:
            value = bytes.fromhex(f.read().strip())
        if len(value) < 16:
            raise ValueError("too short")
    except (OSError, ValueError) as e:
        log.warning("cannot keep the key that seals ganrun's caches at %s (%s): caches are recomputed by each "
                    "process (set GANRUN_KEY_FILE to a writable file)", path, e)
        value = secrets.token_bytes(32)
    _KEYS[str(path)] = value
    return value


def seal(*parts: str) -> str:
    """The seal of a cache file whose content is described by `parts` (digests, names)."""
    return hmac.new(key(), "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def sealed(value, *parts: str) -> bool:
    """Whether `value` is this user's seal of `parts`."""
    return isinstance(value, str) and hmac.compare_digest(value, seal(*parts))
