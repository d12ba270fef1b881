"""Your own GAN in one file (issue 27): the example plugin package in examples/bigan, installed as a
user would install it, gives options like built-in ones (a game with a third player, a dataset, a
loss, a model, a metric), with checkpoints, exact resume and TensorBoard, and no change to ganrun."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import REPO, ganrun, ganrun_here


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    """examples/bigan installed (pip, into a folder of its own) and the environment that sees it.
    Built from a copy: pip builds in the source folder (build/, *.egg-info), and two test workers
    building examples/bigan at once broke each other's build."""
    source = tmp_path_factory.mktemp("bigan-source") / "bigan"
    shutil.copytree(REPO / "examples" / "bigan", source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True, timeout=300)
    return {"PYTHONPATH": str(target)}


TINY = ["train.steps=6", "train.batch_size=32", "train.log_every=2", "train.sample_every=3", "train.ckpt_every=3",
        "quiet=true", "device=cpu", "eval.n=200"]


def test_a_plugins_options_are_chosen_listed_and_suggested_like_built_ins(site, tmp_path):
    help_text = ganrun("--help", cwd=tmp_path, env=site).stdout
    for group, name in [("game", "bigan"), ("dataset", "spiral"), ("loss", "wgan_lp"), ("model", "resmlp")]:
        line = next(line for line in help_text.splitlines() if line.startswith(f"{group}:"))
        assert name in line, line
    # the option reference reads a plugin's schema as it reads ganrun's own: its keys, values and comments
    option = ganrun("--help", "loss=wgan_lp", cwd=tmp_path, env=site).stdout
    assert "WGAN-LP" in option and re.search(r"loss\.gp_weight = 10\.0  \(float >= 0\)\n +lambda", option), option
    assert "wgan_lp" in ganrun("--help", "loss", cwd=tmp_path, env=site).stdout
    proc = ganrun("game=bigam", cwd=tmp_path, env=site, check=False)
    assert proc.returncode == 2 and "game=bigam: no such option (did you mean bigan?)" in proc.stderr


def test_the_bigan_game_trains_resumes_exactly_and_samples_with_all_three_players(site, tmp_path):
    common = ["game=bigan", "dataset=ring", "model=mlp", *TINY]
    ganrun(*common, "hydra.run.dir=straight", cwd=tmp_path, env=site)
    ganrun(*common, "train.steps=3", "hydra.run.dir=resumed", cwd=tmp_path, env=site)
    ganrun("resume=resumed", "train.steps=6", "quiet=true", cwd=tmp_path, env=site)
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoints" / "last.pt", weights_only=True)
    assert set(a["players"]) == {"G", "E", "D"} and a["plugins"] == {"game": "ganrun-bigan-example 0.1.0"}
    for name in ("G", "E", "D"):
        for key, value in a["players"][name]["module"].items():
            assert torch.equal(value, b["players"][name]["module"][key]), (name, key)
    metrics = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    assert {"modes", "hq", "rkl", "energy"} <= set(metrics), "the example's metric is measured too"
    assert any((tmp_path / "straight" / "tb").iterdir())
    ganrun("straight", "--n", "100", "--out", "x.npy", cwd=tmp_path, env=site, script="ganrun-sample")
    assert len(__import__("numpy").load(tmp_path / "x.npy")) == 100
    # without the package installed (this process has not got it), a run of its game says what to install, in one line
    proc = ganrun_here("straight", "--n", "10", "--out", "y.npy", cwd=tmp_path, script="ganrun-sample")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert ("'bigan', which the file says comes from a plugin package named 'ganrun-bigan-example 0.1.0'"
            in proc.stderr)


def test_each_kind_a_plugin_registers_is_used_by_a_run(site, tmp_path):
    """A dataset, a model, a loss and a metric, each one file of the example package."""
    ganrun("dataset=spiral", "model=resmlp", "loss=wgan_lp", "optimizer=adam_gp", *TINY, "hydra.run.dir=run",
           cwd=tmp_path, env=site)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["modes"] is not None and metrics["energy"] >= 0
    assert "Székely" in metrics["protocol"]["energy"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["dataset"]["type"], config["model"]["type"], config["loss"]["type"]) == ("spiral", "resmlp", "wgan_lp")


def test_a_plugin_cannot_take_a_built_in_options_name():
    from dataclasses import dataclass

    from ganrun import plugins
    from ganrun.config import register

    @dataclass
    class Imposter:
        type: str = "ns"

    plugins._loading.append("evil 1.0")
    try:
        with pytest.raises(ValueError, match="loss=ns is ganrun's own option"):
            register("loss", Imposter, "evil:build")
    finally:
        plugins._loading.pop()


def test_the_diff_in_docs_extending_is_the_example_file():
    """docs/extending.md shows adding a loss as the whole of one file: its diff is that file's code."""
    text = (REPO / "docs" / "extending.md").read_text()
    block = text.split("+++ examples/bigan/ganrun_wgan_lp.py\n", 1)[1].split("```", 1)[0]
    shown = [line[1:] for line in block.splitlines()]
    code = (REPO / "examples" / "bigan" / "ganrun_wgan_lp.py").read_text().splitlines()
    start = code.index(shown[0])
    assert code[start:start + len(shown)] == shown and start + len(shown) == len(code)
