"""ganrun from Python (issue 27): ganrun.train, ganrun.load(...).sample/evaluate, and the commands'
one-line errors raised as exceptions with the same text."""

from __future__ import annotations

import pytest

import ganrun
from conftest import FAST, ganrun as command
from ganrun.errors import CheckpointError, ConfigError, GanrunError


def test_train_load_sample_and_evaluate_as_the_commands_do(tmp_path):
    run = ganrun.train(FAST + ["dataset=ring", "model=mlp"], run_dir=tmp_path / "run")
    assert run.folder == tmp_path / "run" and run.metrics["steps"] == 6
    assert (run.folder / "checkpoints" / "last.pt").is_file() and (run.folder / "tb").is_dir()
    model = run.load("cpu")
    assert sorted(model.players) == ["D", "G"]
    x = model.sample(300, seed=1)
    assert x.shape == (300, 2) and not (x == model.sample(300, seed=2)).all()
    assert (x == model.sample(300, seed=1)).all(), "the same seed, the same samples"
    values, protocol = model.evaluate()              # the run's own eval settings: its own numbers
    assert {k: values[k] for k in ("modes", "hq")} == {k: run.metrics[k] for k in ("modes", "hq")}
    assert "PacGAN" in protocol["modes"] or "mode" in protocol["modes"]
    # the command line's checks: eval.n within its range, at least one sample
    with pytest.raises(ConfigError, match="eval.n"):
        model.evaluate(n=10**9)
    with pytest.raises(GanrunError, match="at least 1"):
        model.sample(0)
    # what the game declares (games/__init__.py): no class, no InfoGAN code for a plain GAN
    with pytest.raises(GanrunError, match="has no InfoGAN code"):
        model.sample(10, code=1)
    with pytest.raises(GanrunError, match="not conditional"):
        model.sample(10, classes=1)


@pytest.mark.parametrize("overrides", [["trian.steps=3"], ["loss=nsx"], ["train.steps=0"]])
def test_mistakes_raise_the_commands_line(overrides, tmp_path):
    with pytest.raises(ConfigError) as e:
        ganrun.train(["dataset=ring", *overrides], run_dir=tmp_path / "run")
    line = command("dataset=ring", *overrides, f"hydra.run.dir={tmp_path / 'cli'}", cwd=tmp_path,
                   check=False).stderr.strip()
    assert line == f"ganrun: error: {e.value}"


def test_loading_what_is_not_a_run_raises_its_line(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        ganrun.load(tmp_path / "x.pt")
