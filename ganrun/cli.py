"""`ganrun`: the command line. Hydra composes the config; `train` does the work.

User mistakes and environment problems (GanrunError, OSError) end as one line on stderr
and a non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ganrun.config import register_configs, validate
from ganrun.errors import Diverged, GanrunError, Stopped, one_line
from ganrun.resume import register_resolvers

logfile = logging.getLogger("ganrun.logfile")   # <run>/ganrun.log only
register_configs()
register_resolvers()


def fail(message: str, code: int = 2) -> "NoReturn":  # noqa: F821
    """Print one line for the user and exit non-zero."""
    print(f"ganrun: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
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
