"""User-facing errors: each one becomes a single line on stderr and a non-zero exit.

Raise these for mistakes a user can fix (bad value, missing folder, corrupt
checkpoint); let genuine bugs raise anything else so that they keep their
traceback.
"""

from __future__ import annotations

import sys


class GanrunError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class ConfigError(GanrunError):
    """A configuration value is wrong or two values do not fit together."""


class DataError(GanrunError):
    """A dataset is missing, empty, unreadable or cannot be downloaded."""


class CheckpointError(GanrunError):
    """A checkpoint is missing, corrupt, unsafe or from another model."""


class Diverged(GanrunError):
    """A loss or a weight stopped being finite; the last good checkpoint is kept."""


class Stopped(GanrunError):
    """SIGINT or SIGTERM: the run saved a checkpoint and stopped."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


def one_line(e: Exception) -> str:
    """The single line a user sees for a GanrunError, or for an OSError such as a full disk."""
    if isinstance(e, OSError) and e.filename:
        return f"{e.strerror or e}: {e.filename}"
    return str(e)


def report(prog: str, e: Exception, flags: dict[str, str] | None = None, code: int = 2) -> int:
    """Print `prog: error: ...` on stderr and return the exit code, for the ganrun-* tools.
    `flags` respells config keys as the tool's options ({"eval.n=": "--n "}), so the fix that
    the message names is one the user can type."""
    message = one_line(e)
    for key, flag in (flags or {}).items():
        message = message.replace(key, flag)
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return code
