"""`ganrun-sample`: pictures, raw arrays and PNG folders from a checkpoint, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import ganrun, train_run
from ganrun.trained import load_trained
from ganrun.commands.sample import main as sample_main

DIGITS = ["dataset=digits", "model.g_width=8", "model.d_width=8", "dataset.resolution=16"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("digits") / "run"
    train_run(run, DIGITS)
    return run


def test_grid_npy_and_png_folder_from_an_image_run(digits_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sample_main([str(digits_run), "--n", "16", "--out", "grid.png"]) == 0
    assert np.asarray(Image.open("grid.png")).shape[:2] == (4 * 18 + 2, 4 * 18 + 2)

    assert sample_main([str(digits_run / "checkpoints" / "last.pt"), "--n", "10", "--out", "x.npy"]) == 0
    x = np.load("x.npy")
    assert x.shape == (10, 1, 16, 16) and x.min() >= -1 and x.max() <= 1

    assert sample_main([str(digits_run), "--n", "5", "--out-dir", "pngs"]) == 0
    pngs = sorted((tmp_path / "pngs").glob("*.png"))
    assert [p.name for p in pngs] == [f"{i:06d}.png" for i in range(5)]
    assert np.asarray(Image.open(pngs[0])).shape[:2] == (16, 16)
    assert not (tmp_path / "outputs").exists(), "sampling creates no run folder"


def test_same_seed_same_samples(digits_run, tmp_path):
    for name, seed in [("a", 7), ("b", 7), ("c", 8)]:
        sample_main([str(digits_run), "--n", "6", "--seed", str(seed), "--out", str(tmp_path / f"{name}.npy")])
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # batching does not change the samples
    sample_main([str(digits_run), "--n", "6", "--seed", "7", "--batch-size", "4", "--out", str(tmp_path / "d.npy")])
    assert np.allclose(a, np.load(tmp_path / "d.npy"), atol=1e-6)


def test_toy_samples_come_back_in_data_space(tmp_path):
    run = tmp_path / "run"
    train_run(run, ["dataset=gaussian1d"])
    out = tmp_path / "x.npy"
    assert sample_main([str(run), "--n", "50", "--out", str(out), "--seed", "3"]) == 0
    trained = load_trained(run, "cpu")
    model_space = trained.generate(50, seed=3).x
    assert np.allclose(np.load(out), (model_space * 0.5 + 4.0).numpy(), atol=1e-5), "x = 4 + 0.5 * G(z)"
    assert sample_main([str(run), "--n", "500", "--out", str(tmp_path / "density.png")]) == 0
    assert Image.open(tmp_path / "density.png").size[0] > 100


def test_sample_command_errors_are_one_line(digits_run, tmp_path, capsys):
    assert sample_main([str(tmp_path / "missing"), "--n", "4", "--out", "x.png"]) == 2
    assert capsys.readouterr().err.strip() == f"ganrun-sample: error: checkpoint not found: {tmp_path / 'missing'}"
    assert sample_main([str(digits_run), "--n", "4"]) == 2
    assert "--out" in capsys.readouterr().err
    assert sample_main([str(digits_run), "--n", "4", "--out", "x.gif"]) == 2
    assert ".png" in capsys.readouterr().err


def test_the_installed_sample_command(digits_run, tmp_path):
    proc = ganrun(str(digits_run), "--n", "4", "--out", "g.png", cwd=tmp_path, script="ganrun-sample")
    assert (tmp_path / "g.png").is_file() and "4 samples from" in proc.stdout
    toy = tmp_path / "toy"
    train_run(toy, ["dataset=ring"])
    proc = ganrun(str(toy), "--n", "4", "--out-dir", "d", cwd=tmp_path, script="ganrun-sample", check=False)
    assert proc.returncode == 2 and "--out-dir writes images" in proc.stderr and "Traceback" not in proc.stderr
