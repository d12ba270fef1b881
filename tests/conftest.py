"""Shared test helpers: compose configs with Hydra's compose API and run short trainings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from ganrun.config import register_configs

register_configs()
REPO = Path(__file__).resolve().parents[1]
# Evaluation caches (classifiers, reference statistics) go to a folder of this test session,
# never the user's ~/.cache; subprocesses inherit it.
# One folder per test run, shared by parallel workers (cache files are written atomically).
# The controlling process names the session; parallel workers inherit the name with its environment.
os.environ.setdefault("GANRUN_TEST_SESSION", os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex)
os.environ["GANRUN_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / f"ganrun-test-cache-{os.environ['GANRUN_TEST_SESSION']}")
# The key that seals those caches (ganrun/metrics/seal.py): the session's, not the user's ~/.config.
os.environ["GANRUN_KEY_FILE"] = os.path.join(os.environ["GANRUN_CACHE_DIR"], "key", "cache.key")


def pytest_sessionfinish(session, exitstatus):
    """The session's cache folder goes with it (tens of MB of classifiers per run otherwise pile up
    in the temporary folder); the controlling process removes it once the workers are done."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        import shutil

        shutil.rmtree(os.environ["GANRUN_CACHE_DIR"], ignore_errors=True)
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Parallel test workers share the cores: one thread each (subprocesses inherit it).
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
BIN = Path(sys.executable).parent

# Small, fast settings for test runs; each test adds its own overrides.
FAST = ["train.steps=6", "train.batch_size=16", "train.log_every=2", "train.sample_every=3",
        "train.ckpt_every=3", "quiet=true", "device=cpu", "eval.n=200"]


def compose_config(overrides: list[str] = ()):
    """The config that `ganrun <overrides>` would run, composed in-process."""
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="ganrun.conf", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def train_run(run_dir: Path, overrides: list[str] = ()) -> dict:
    """Train in-process with FAST settings plus `overrides` (on the ring unless they name a
    dataset); returns metrics.json's content."""
    from ganrun.loop import train

    overrides = list(overrides)
    if not any(o.startswith(("dataset=", "experiment=")) for o in overrides):
        overrides.append("dataset=ring")
    train(compose_config(FAST + overrides), run_dir)
    return json.loads((run_dir / "metrics.json").read_text())


def ganrun(*args: str, cwd: Path, check: bool = True, script: str = "ganrun",
           env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an installed console script as a user would."""
    full_env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    full_env.update(env or {})
    proc = subprocess.run([str(BIN / script), *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


# The console scripts (pyproject.toml) other than ganrun itself: their modules, each with main(argv).
SUB_COMMANDS = {"ganrun-sample": "sample", "ganrun-eval": "evaluate", "ganrun-export": "export",
                "ganrun-report": "report", "ganrun-translate": "translate"}


def ganrun_here(*args: str, cwd: Path, script: str = "ganrun", check: bool = False) -> subprocess.CompletedProcess:
    """A console script (`ganrun`, `ganrun-sample`, ...) run in this process, through the same entry point and error path
    as the console script: its exit status and what it writes to sys.stdout and sys.stderr, with the
    Python warnings and unconfigured log records a fresh process would print there; `check=True`
    fails the test on a non-zero status, as `ganrun()` does. For the one-line-error cases and the
    resumes, sweeps and sub-commands whose subject is not the process itself, which would each pay a
    fresh interpreter's start-up (importing torch: 2-3 s on the 2-core CI machine; 120 such processes
    were half of the suite's time); `ganrun()` proves the installed commands themselves
    (tests/test_cli.py), and what only a real process shows: signals, kill -9, torchrun, launchers
    that start processes, the C++ side's output on file descriptor 2, a plugin installed on the
    process's path. A bug still raises here, as it would print its traceback there."""
    import contextlib
    import importlib
    import io
    import logging
    import random
    import warnings

    import numpy as np
    import torch

    from ganrun.commands import run as run_cmd
    from ganrun.errors import entry_point

    def all_loggers() -> list[logging.Logger]:
        return [logging.root, *(x for x in logging.Logger.manager.loggerDict.values() if isinstance(x, logging.Logger))]

    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    # Hydra configures logging for its job (handlers on the root logger, other loggers disabled) and
    # a run seeds the random generators; the tests after this one in the same worker get theirs back
    saved_logging = [(x, x.handlers[:], x.level, x.propagate, x.disabled) for x in all_loggers()]
    saved_random = random.getstate(), np.random.get_state(), torch.get_rng_state()
    saved_full_error = os.environ.pop("HYDRA_FULL_ERROR", None)
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            # a fresh process: no handler on the root logger (a record then goes to stderr through
            # logging's last resort) and Python's default warning filters
            logging.root.handlers = []
            warnings.resetwarnings()
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            if script == "ganrun":
                sys.argv = ["ganrun", *args]
                code = entry_point("ganrun", run_cmd._main)
            else:
                code = importlib.import_module(f"ganrun.commands.{SUB_COMMANDS[script]}").main([str(a) for a in args])
        for w in caught:
            err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        # the run sets HYDRA_FULL_ERROR for Hydra and a process would exit with it; here the next
        # call would take it for the user's and give Hydra's full report
        os.environ.pop("HYDRA_FULL_ERROR", None)
        if saved_full_error is not None:
            os.environ["HYDRA_FULL_ERROR"] = saved_full_error
        run_cmd.PENDING.clear()          # a process exits after raising it; this one goes on
        kept = {id(h) for _, handlers, *_ in saved_logging for h in handlers}
        known = {id(x) for x, *_ in saved_logging}
        for x in all_loggers():
            for h in x.handlers:
                if id(h) not in kept:
                    h.close()
            x.handlers = []
            if id(x) not in known:       # a logger first made during the call: a fresh logger's settings
                x.level, x.propagate, x.disabled = logging.NOTSET, True, False
        for x, handlers, level, propagate, disabled in saved_logging:
            x.handlers, x.level, x.propagate, x.disabled = handlers, level, propagate, disabled
        random.setstate(saved_random[0])
        np.random.set_state(saved_random[1])
        torch.set_rng_state(saved_random[2])
    proc = subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())
    if check and code not in (0, None):
        raise AssertionError(f"{script} {' '.join(args)} failed ({code}) in this process:\n{proc.stdout}\n{proc.stderr}")
    return proc


def scalar_and_image_tags(tb_dir: Path) -> tuple[set[str], set[str]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(tb_dir), size_guidance={"images": 0, "scalars": 0})
    ea.Reload()
    return set(ea.Tags()["scalars"]), set(ea.Tags()["images"])


def scalars(tb_dir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(tb_dir), size_guidance={"scalars": 0})
    ea.Reload()
    return [(e.step, e.value) for e in ea.Scalars(tag)]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


def make_data(type_: str, device: str = "cpu", **keys):
    """A dataset option built with its schema's defaults and `keys` (ganrun's registry, as a run does)."""
    from ganrun.config import make

    return make("dataset", {"type": type_, **keys}, device=device)


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory):
    """torch-fidelity's Inception-v3 with random weights, saved as a plain weights file (the real ones
    are a download)."""
    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    original_load, original_url = fe.FeatureExtractorInceptionV3.load_state_dict, fe.load_state_dict_from_url
    fe.FeatureExtractorInceptionV3.load_state_dict = lambda self, state, *a, **k: None
    fe.load_state_dict_from_url = lambda *a, **k: {}
    try:
        torch.manual_seed(0)
        model = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        fe.FeatureExtractorInceptionV3.load_state_dict, fe.load_state_dict_from_url = original_load, original_url
    state = model.state_dict()
    for k in state:     # batch-norm gains of 1 shrink the features to ~1e-7 through the 90-odd layers
        if k.endswith("bn.weight"):
            state[k].fill_(2.0)
    torch.save(state, path)
    return path
