"""ganrun from Python, for notebooks and scripts: the same runs, checks and errors as the commands.

    import ganrun

    run = ganrun.train(["dataset=ring", "model=mlp", "train.steps=500"])   # as `ganrun dataset=ring ...`
    print(run.folder, run.metrics["modes"])
    model = ganrun.load(run.folder)                  # a run folder, a checkpoint or an export
    x = model.sample(1000)                           # samples in the data's units (a tensor)
    values, protocol = model.evaluate(n=2500)        # the metrics of `ganrun-eval`

A mistake raises the GanrunError (ConfigError, CheckpointError, DataError) whose text the command
would print as its one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

from ganrun.errors import ConfigError, GanrunError, user_error


@dataclass
class Run:
    """A finished run: its folder and its metrics.json."""
    folder: Path
    metrics: dict

    def load(self, device: str = "auto") -> "Loaded":
        return load(self.folder, device)


def compose(overrides: Sequence[str] = ()):
    """The config `ganrun <overrides>` would run (Hydra's compose API), checked."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from ganrun.config import register_configs, validate
    from ganrun.resume import register_resolvers

    register_configs()
    register_resolvers()
    if any(o.split("=", 1)[0].lstrip("+~") in ("resume", "hydra.run.dir") for o in overrides):
        raise ConfigError("ganrun.train starts new runs: give the folder as run_dir=..., and resume with the "
                          "command (ganrun resume=RUN)")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="ganrun.conf", version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
        validate(cfg)
    except GanrunError:
        raise
    except Exception as e:
        known = user_error(e, list(overrides))
        if known is None:
            raise
        raise ConfigError(known[1]) from None
    finally:
        GlobalHydra.instance().clear()
    return cfg


def train(overrides: Sequence[str] = (), run_dir: Optional[str | Path] = None) -> Run:
    """Train one run in this process, as `ganrun <overrides>` would (same config, checks, files), into
    `run_dir` (default: ./outputs/<date>/<time>, a new folder)."""
    from ganrun.loop import train as train_loop

    cfg = compose(overrides)
    folder = Path(run_dir) if run_dir else Path("outputs") / datetime.now().strftime("%Y-%m-%d/%H-%M-%S-%f")
    if (folder / "checkpoints").exists():
        raise ConfigError(f"run_dir={folder} already holds a run: give a new folder (resume it with ganrun resume=...)")
    metrics = train_loop(cfg, folder)
    return Run(folder, metrics)


class Loaded:
    """A trained run's networks (players), ready to sample from and to measure."""

    def __init__(self, path: str | Path, device: str = "auto"):
        from ganrun.trained import load_trained

        self.path, self.device_name = Path(path), device
        self.trained = load_trained(path, device, all_players=False)

    @property
    def players(self) -> dict:
        """name -> network (G's weights are the run's G_ema where it kept one)."""
        return {name: player.module for name, player in self.trained.exp.players}

    def sample(self, n: int, classes: Optional[int | str] = None, seed: int = 0, truncation: Optional[float] = None,
               code: Optional[int] = None):
        """n samples in the data's units (a tensor); `classes`: one class of a conditional run (index or
        name; default: round robin over the classes), `code`: InfoGAN's categorical code."""
        from ganrun.commands.sample import check_seed, check_truncation, class_index

        if not isinstance(n, int) or n < 1:
            raise GanrunError(f"sample(n={n!r}): n must be a whole number of samples, at least 1")
        check_seed(seed)
        check_truncation(truncation)
        t = self.trained
        if code is not None and not t.exp.game.takes_codes:
            raise GanrunError(f"sample(code={code!r}): this generator has no InfoGAN code (train with game=infogan)")
        label = class_index(None if classes is None else str(classes), t.data.class_names,
                            t.exp.game.takes_classes)
        batch = t.generate(n, seed=seed, label=label, code=code, truncation=truncation)
        return t.data.to_data(batch.x)

    def evaluate(self, n: Optional[int] = None, seed: Optional[int] = None, data_root: Optional[str] = None,
                 cache_dir: Optional[str] = None) -> tuple[dict, dict]:
        """(values, protocol): what `ganrun-eval` measures (the run's eval settings, `n` and `seed` if given)."""
        from types import SimpleNamespace

        from ganrun.commands.evaluate import eval_settings
        from ganrun.metrics import Evaluator, augmented
        from ganrun.trained import load_trained

        trained = load_trained(self.path, self.device_name, with_data=True,
                               paths={"dataset.root": data_root, "eval.cache_dir": cache_dir},
                               flags={"dataset.root": "data_root="})
        # the same changes and range checks as `ganrun-eval --n --seed`
        settings = eval_settings(trained, SimpleNamespace(n=n, seed=seed, truncation=None, inception=None))
        return Evaluator(settings, trained.data, trained.device, augmented(trained.cfg))(trained.generate)


def load(path: str | Path, device: str = "auto") -> Loaded:
    """A trained run (its folder, a checkpoint or an export) to sample from and measure."""
    return Loaded(path, device)
