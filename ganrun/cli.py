"""`ganrun`: the command line. Hydra composes the config; `train` does the work.

User mistakes and environment problems (Hydra's composition errors, GanrunError, OSError) end
as one line on stderr and a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from ganrun.config import did_you_mean, register_configs, validate
from ganrun.errors import Diverged, GanrunError, Stopped, one_line
from ganrun.resume import register_resolvers

logfile = logging.getLogger("ganrun.logfile")   # <run>/ganrun.log only
register_configs()
register_resolvers()


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line for the user and exit non-zero."""
    print(f"ganrun: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def main() -> None:
    """The console script. Hydra's own errors (a wrong type, a misspelt key or option, bad
    override syntax) become one line too: Hydra hands them to us only when HYDRA_FULL_ERROR is
    set. A user who sets it themselves gets Hydra's full report, as Hydra documents."""
    if os.environ.get("HYDRA_FULL_ERROR"):
        return run()
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        run()
    except (ConfigCompositionException, OverrideParseException) as e:
        fail(hydra_error_line(e))


def hydra_error_line(e: Exception) -> str:
    """One line naming the override at fault and the fix, from Hydra's multi-line report."""
    cause = e.__cause__
    if isinstance(e, MissingConfigException) and e.options and e.missing_cfg_file:
        group, _, name = e.missing_cfg_file.rpartition("/")
        return (f"{group}={name}: no such option{did_you_mean(name, e.options)}; "
                f"choose one of {', '.join(e.options)}")
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and cause.full_key:
        parent, _, key = cause.full_key.rpartition(".")
        schema = cause.object_type
        known = [f.name for f in dataclasses.fields(schema)] if dataclasses.is_dataclass(schema) else []
        hint = did_you_mean(key, known, parent + "." if parent else "")
        if not hint and parent and known:
            hint = f" ({parent} has {', '.join(k for k in known if not k.startswith('_') and k != 'type')})"
        return f"{cause.full_key}: no such key{hint}; `ganrun --cfg job` lists every key"
    if isinstance(cause, OmegaConfBaseException) and cause.full_key:
        return f"{cause.full_key}: {cause.msg.splitlines()[0]}"
    first = next(line for line in str(e).splitlines() if line.strip())
    if isinstance(e, OverrideParseException):
        return (f"cannot read the overrides: {first} "
                "(syntax: https://hydra.cc/docs/advanced/override_grammar/basic/)")
    return first


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def run(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        validate(cfg)                    # a bad value fails at once, before the heavy imports
        from ganrun.resume import prepare
        from ganrun.train import train

        cfg, state = prepare(cfg, run_dir, list(hydra_cfg.overrides.task))
        train(cfg, run_dir, state)
    except Stopped as e:
        logfile.warning("%s", e)
        fail(str(e), 128 + e.signum)
    except KeyboardInterrupt:            # Ctrl-C while setting up; once training runs, it checkpoints
        logfile.warning("interrupted before training started")
        fail("interrupted before training started: nothing to save", 130)
    except Diverged as e:
        logfile.error("%s", e)
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # One diverged job should not end the sweep: it is recorded in its metrics.json.
            logging.getLogger("ganrun").error("job %s: %s", hydra_cfg.job.num, e)
            return
        fail(str(e), 3)
    except (GanrunError, OSError) as e:  # OSError: full disk, read-only or missing folders
        logfile.error("%s", e)
        fail(one_line(e))


if __name__ == "__main__":
    main()
