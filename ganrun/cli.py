"""`ganrun`: the command line. Hydra composes the config; `train` does the work.

User mistakes (GanrunError) end as one line on stderr and exit status 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ganrun.config import register_configs, validate
from ganrun.errors import GanrunError

logfile = logging.getLogger("ganrun.logfile")   # <run>/ganrun.log only
register_configs()


def fail(message: str, code: int = 2) -> "NoReturn":  # noqa: F821
    """Print one line for the user and exit non-zero."""
    print(f"ganrun: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        validate(cfg)                    # a bad value fails at once, before the heavy imports
        from ganrun.train import train

        train(cfg, run_dir)
    except GanrunError as e:
        logfile.error("%s", e)
        fail(str(e))
    return None


if __name__ == "__main__":
    main()
