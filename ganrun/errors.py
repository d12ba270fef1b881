"""User-facing errors, and the one path that turns them into a single line on stderr.

Raise a GanrunError subclass for a mistake the user can fix (bad value, missing folder,
corrupt checkpoint); the message names the problem and the fix. Every command (`ganrun`
and the ganrun-* tools) runs through `entry_point`, which prints `prog: error: <line>` and
returns the exit status for those, for environment problems (a full disk, an unwritable
folder, running out of memory) and for Ctrl-C. Anything else is a bug and keeps its traceback.
This module imports nothing heavy: it is loaded before torch and Hydra, so that even a
Ctrl-C during those imports is one line.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import sys
from typing import Callable, Optional


class GanrunError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""

    exit_code = 2


class ConfigError(GanrunError):
    """A configuration value is wrong or two values do not fit together."""


class DataError(GanrunError):
    """A dataset is missing, empty, unreadable or cannot be downloaded."""


class CheckpointError(GanrunError):
    """A checkpoint is missing, corrupt, unsafe or from another model."""


class Diverged(GanrunError):
    """A loss or a weight stopped being finite; the last good checkpoint is kept."""

    exit_code = 3


class Stopped(GanrunError):
    """SIGINT or SIGTERM: the run saved a checkpoint and stopped."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum

    def __reduce__(self):          # a parallel launcher's worker sends it back to the sweep
        return type(self), (str(self), self.signum)


class SweepStopped(BaseException):
    """A stop signal ended a sweep inside one of its jobs. A BaseException, so that Hydra's
    launcher (which records an Exception as a failed job and goes on) lets it through."""

    def __init__(self, stopped: Stopped, sweep_dir: str):
        super().__init__(str(stopped))
        self.stopped, self.sweep_dir = stopped, sweep_dir

    def __reduce__(self):
        return type(self), (self.stopped, self.sweep_dir)


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class PlainFormatter(logging.Formatter):
    """The log's formatter (console and ganrun.log): control characters other than line breaks and tabs
    become spaces, so that text a message takes from a stranger's file (a stop reason, a path) cannot
    send terminal escape sequences (clear the screen, set the title, fake a line) to the console."""

    def format(self, record: logging.LogRecord) -> str:
        return CONTROL_BUT_LINES.sub(" ", super().format(record))



def did_you_mean(key: str, known, prefix: str = "") -> str:
    """' (did you mean train.steps?)' for a misspelt key, or '' when nothing is close. A name that
    begins a few known ones names them all (experiment=pacgan: pacgan_grid, pacgan_ring or
    pacgan_stacked), where the closest spelling alone would be another word (acgan)."""
    import difflib

    names = [str(k) for k in known if not str(k).startswith("_")]
    longer = sorted(n for n in names if len(key) >= 3 and n.startswith(key) and n != key)
    if 1 < len(longer) <= 4:
        shown = [prefix + n for n in longer]
        return f" (did you mean {', '.join(shown[:-1])} or {shown[-1]}?)"
    close = longer if len(longer) == 1 else difflib.get_close_matches(key, names, n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""

def printable(text) -> str:
    """Text that may come from a file, safe to print or to put in a table: control characters (line
    breaks, terminal escape sequences) become spaces."""
    return CONTROL.sub(" ", str(text))


def short_path(name) -> str:
    text = str(name)
    return text if len(text) <= 120 else text[:60] + "..." + text[-50:]


def oom_line(e: BaseException) -> Optional[str]:
    """The line for running out of memory (torch on CPU or GPU, numpy, Python), else None."""
    text = str(e)
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or (
            isinstance(e, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text
                                             or "not enough memory" in text)):
        return ("out of memory: lower train.batch_size, the model's size (e.g. model.g_width), eval.n or "
                "eval.ref_n, or a dataset's size keys")
    return None


def one_line(e: BaseException) -> str:
    """The single line a user sees for a GanrunError, an OSError (full disk, permissions,
    a name too long) or running out of memory."""
    if isinstance(e, OSError):
        what = e.strerror or str(e)
        if e.errno == errno.ENOSPC:
            what = "no space left on the device"
        elif e.errno in (errno.EACCES, errno.EPERM):
            what = "permission denied"
        elif e.errno == errno.ENAMETOOLONG:
            what = "file name too long for the file system (choose a shorter folder or hydra.run.dir)"
        return f"{what}: {short_path(e.filename)}" if e.filename else what
    return oom_line(e) or _first(str(e)) if str(e).strip() else type(e).__name__


def user_error(e: BaseException, args: Optional[list[str]] = None) -> Optional[tuple[int, str]]:
    """(exit status, line) for an error the user can act on; None for a bug. `args`: the overrides
    given (default: the command line's), to name the one at fault."""
    if isinstance(e, GanrunError):
        return e.exit_code, one_line(e)
    if type(e).__name__ == "InstantiationException" and isinstance(e.__cause__, GanrunError):
        return user_error(e.__cause__)      # raised in a Hydra plugin ganrun gives (hydra/sweeper=search)
    if isinstance(e, ValueError) and isinstance(e.__cause__, GanrunError) and "configure handler" in str(e):
        return user_error(e.__cause__)      # logging's dictConfig wraps the log file's refusal (runfiles.LogFile)
    hydra_line = _hydra_error_line(e, sys.argv[1:] if args is None else args)   # first: Hydra's missing-option
    #                                                                              error is also an OSError
    if hydra_line:
        return 2, hydra_line
    if isinstance(e, OSError) or oom_line(e):
        return 2, one_line(e)
    return None


def entry_point(prog: str, body: Callable[[], Optional[int]], flags: dict[str, str] | None = None) -> int:
    """Run a command's body; user errors and Ctrl-C become one line and an exit status.
    `flags` respells config keys as the tool's options ({"eval.n=": "--n "}), so the fix that
    the message names is one the user can type."""
    previous = _exit_on_ctrl_c(prog)
    try:
        return body() or 0
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        # `ganrun --help | head`: the reader left, which is no error of the user's. Say nothing, and
        # point stdout at /dev/null so that the interpreter's final flush does not complain either
        # (the Python documentation's recipe); 141 is a shell's status for a process ended by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as e:
        known = user_error(e)
        if known is None:
            raise
        code, line = known
        for key, flag in (flags or {}).items():
            line = line.replace(key, flag)
        report(prog, line)
        return code
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _exit_on_ctrl_c(prog: str):
    """Ctrl-C outside training (where ganrun's own handler checkpoints) ends the command at once
    with one line. Raised as KeyboardInterrupt instead, it could land inside an import (torch,
    numpy) and leave a half-imported module that later code trips over with a confusing error.
    Returns the handler it replaced (None if it could not install one)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupted(signum, frame):
        print(f"\n{prog}: interrupted (Ctrl-C) while no training step was running: nothing to save",
              file=sys.stderr, flush=True)
        os._exit(130)

    return signal.signal(signal.SIGINT, interrupted)


def report(prog: str, line: str) -> None:
    print(f"{prog}: error: {printable(line)}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- Hydra's errors
def _hydra_error_line(e: BaseException, args: list[str]) -> Optional[str]:
    """One line naming the override at fault and the fix, from Hydra's multi-line report
    (a wrong type, a misspelt key or option, bad override syntax, an interpolation that
    does not resolve); None if `e` is not one of Hydra's or OmegaConf's errors."""
    if "hydra" not in sys.modules and "omegaconf" not in sys.modules:
        return None
    import dataclasses

    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import (ConfigAttributeError, ConfigKeyError, InterpolationResolutionError,
                                  OmegaConfBaseException)


    if not isinstance(e, (ConfigCompositionException, OverrideParseException, OmegaConfBaseException)):
        return None
    cause = e.__cause__ if e.__cause__ is not None else e
    if cause is e and isinstance(e.__context__, (ConfigKeyError, ConfigAttributeError)):
        cause = e.__context__      # a key error inside a config file (a preset's keys) comes as the context
    if isinstance(e, MissingConfigException) and e.options and e.missing_cfg_file:
        group, _, name = e.missing_cfg_file.rpartition("/")
        return (f"{group}={name}: no such option{did_you_mean(name, e.options)}; "
                f"choose one of {', '.join(e.options)}")
    if isinstance(cause, InterpolationResolutionError):
        return f"{cause.full_key or 'a value'}: {_first(cause.msg)} (check the ${{...}} reference)"
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and cause.full_key:
        parent, _, key = cause.full_key.rpartition(".")
        schema = cause.object_type
        known = [f.name for f in dataclasses.fields(schema)] if dataclasses.is_dataclass(schema) else []
        hint = did_you_mean(key, known, parent + "." if parent else "")
        if not hint and parent and known:
            hint = f" ({parent} has {', '.join(k for k in known if not k.startswith('_') and k != 'type')})"
        full_key = cause.full_key
        preset = re.match(r"In '([\w-]+)/([\w-]+)'", _first(str(e)))
        if preset and parent and preset.group(1) != parent.split(".")[0]:
            # a preset sets a key of another group, whose option the command line changed
            source, group = f"{preset.group(1)}={preset.group(2)}", parent.split(".")[0]
            typed = next((a.lstrip("+") for a in args if a.lstrip("+").startswith(group + "=")), None)
            chosen = typed or f"the chosen {group}"
            return (f"{source} sets {full_key}, which {chosen} does not have: leave {group}= to the preset"
                    f"{' (drop ' + typed + ')' if typed else ''} or drop {source}")
        if not parent and hint:
            # a misspelt top-level key: name the override the user typed (data.root, not data)
            typed = next((a.split("=", 1)[0].lstrip("+") for a in args
                          if a.lstrip("+").startswith(key + ".")), None)
            if typed:
                full_key = typed
                hint = hint.replace("?)", typed[len(key):] + "?)")
        return f"{full_key}: no such key{hint}; `ganrun --cfg job` lists every key"
    if isinstance(cause, OmegaConfBaseException) and cause.full_key:
        fix = _type_fix(cause)
        return f"{cause.full_key}: {_first(cause.msg).rstrip('.') if fix else _first(cause.msg)}{fix}"
    first = _first(str(e))
    if isinstance(e, OverrideParseException):
        word = getattr(e, "override", None)
        if isinstance(word, str) and _bare_word(word) and word in args:
            # `ganrun dataset ring`: a word without "=" is no override
            after = args[args.index(word) + 1:args.index(word) + 2]
            value = after[0] if after and "=" not in after[0] and not after[0].startswith("-") else "VALUE"
            return f"{word!r} is not an override: write KEY=VALUE, as {word}={value}"
        return (f"cannot read the overrides: {first} "
                "(syntax: https://hydra.cc/docs/advanced/override_grammar/basic/)")
    if "~" in first and "delet" in first.lower() or "Could not delete" in first:
        return f"{first} (ganrun's config keys cannot be deleted with ~; set them to a value instead)"
    return first


def _bare_word(arg: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][\w.]*", arg))


def _type_fix(cause) -> str:
    """What to type instead, for OmegaConf's type errors (which name only what was wrong)."""
    message, key = str(cause.msg), cause.full_key
    value = re.match(r"Value '(.*?)'", message)
    if "converted to Integer" in message and value and re.fullmatch(r"\d+(\.\d*)?(e\+?\d+)?", value.group(1)):
        number = float(value.group(1))
        if number.is_integer():     # 1e3: OmegaConf reads it as the float 1000.0
            return f"; give a whole number: {key}={int(number)}"
    if "is not a ListConfig" in message:
        default = _default_of(cause)
        example = ",".join(str(v) for v in default) if isinstance(default, (list, tuple)) and default else "..."
        return f"; give a list in brackets: {key}=[{example}]"
    if "valid bool" in message and _is_optional(cause):
        return "; give true, false or null"
    fixes = {"converted to Integer": "a whole number", "converted to Float": "a number",
             "valid bool": "true or false", "is not Optional": "a value (null is not allowed here)",
             "Cannot convert 'list' to string": "one value, not a list (quote a value with commas: key='a,b')",
             "Cannot convert 'dict' to string": "one value, not a mapping"}
    want = next((fix for text, fix in fixes.items() if text in message), None)
    return f"; give {want}" if want else ""


def _field_of(cause):
    """The dataclass field that an OmegaConf error names, or None."""
    import dataclasses

    schema, key = cause.object_type, (cause.full_key or "").rpartition(".")[2]
    if not dataclasses.is_dataclass(schema):
        return None
    return next((f for f in dataclasses.fields(schema) if f.name == key), None)


def _default_of(cause):
    import dataclasses

    f = _field_of(cause)
    if f is None:
        return None
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _is_optional(cause) -> bool:
    import typing

    f = _field_of(cause)
    if f is None:
        return False
    hint = f.type
    if isinstance(hint, str):
        try:
            hint = typing.get_type_hints(cause.object_type)[f.name]
        except Exception:
            return False
    return type(None) in typing.get_args(hint)


def _first(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0].strip() if lines else "invalid configuration"
