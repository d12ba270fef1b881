"""`ganrun-eval SAMPLES --dataset NAME`: samples made anywhere, judged as a run's own are (issue 26)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ganrun_here, make_data, train_run
from ganrun.commands.evaluate import main as eval_main
from ganrun.commands.sample import main as sample_main


def judged(capsys, *args) -> dict:
    """ganrun-eval's JSON for these arguments (which name --out)."""
    code = eval_main([str(a) for a in args])
    err = capsys.readouterr().err
    assert code == 0, err
    return json.loads(Path(args[args.index("--out") + 1]).read_text())


def one_line(*args) -> str:
    proc = ganrun_here(*args, cwd=Path.cwd(), script="ganrun-eval")
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_runs_samples_judged_from_a_file_give_the_runs_own_numbers(tmp_path, capsys):
    run = tmp_path / "run"
    train_run(run, ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8",
                    "train.steps=2", "eval.n=120"])
    assert sample_main([str(run), "--n", "120", "--out", str(tmp_path / "x.npy")]) == 0
    own = judged(capsys, run, "--n", 120, "--out", tmp_path / "own.json")
    theirs = judged(capsys, tmp_path / "x.npy", "--dataset", "digits", "--out", tmp_path / "x.json")
    numbers = {k: v for k, v in own.items() if k not in ("checkpoint", "step", "protocol")}
    assert numbers and {k: theirs[k] for k in numbers} == numbers
    assert theirs["protocol"]["samples"] == f"120 samples read from {tmp_path / 'x.npy'}"
    assert theirs["protocol"]["fd_digits"] == own["protocol"]["fd_digits"]


def test_real_digits_drawn_for_their_classes_are_judged_right(tmp_path, capsys):
    """Real held-out digits as the 'samples': with their labels beside them, cond_acc is the classifier's
    accuracy; as InfoGAN codes under another numbering, code_acc finds the same by matching."""
    held = make_data("digits", resolution=16, split="test").reference(None)
    np.save(tmp_path / "x.npy", held.x.numpy())
    np.save(tmp_path / "x_labels.npy", held.y.numpy())
    np.save(tmp_path / "codes.npy", ((held.y + 3) % 10).numpy())
    values = judged(capsys, tmp_path / "x.npy", "--dataset", "digits", "--codes", tmp_path / "codes.npy",
                    "--out", tmp_path / "x.json")
    assert values["cond_acc"] > 0.9 and values["classes_covered"] == 10
    assert values["code_acc"] == pytest.approx(values["cond_acc"])
    assert values["confident"] == pytest.approx(values["confident_real"], abs=0.02), "the same held-out images"
    sevens = held.x[held.y == 7]
    np.save(tmp_path / "sevens.npy", sevens.numpy())
    values = judged(capsys, tmp_path / "sevens.npy", "--dataset", "digits", "--class", "7",
                    "--out", tmp_path / "s.json")
    assert values["cond_acc"] > 0.9 and values["classes_covered"] <= 3
    assert "all drawn for class 7" in values["protocol"]["samples"]


def test_a_folder_of_pngs_is_judged_like_the_array_it_came_from(tmp_path, capsys):
    from ganrun.pixels import to_uint8

    held = make_data("digits", resolution=16, split="test").reference(None)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(to_uint8(held.x[:60])):
        Image.fromarray(image[0].numpy()).save(folder / f"{i:03d}.png")
    np.save(tmp_path / "x.npy", held.x[:60].numpy())
    from_folder = judged(capsys, folder, "--dataset", "digits", "--out", tmp_path / "f.json")
    from_array = judged(capsys, tmp_path / "x.npy", "--dataset", "digits", "--out", tmp_path / "a.json")
    assert from_folder["fd_digits"] == pytest.approx(from_array["fd_digits"], rel=1e-4)
    assert from_folder["protocol"]["samples"] == f"60 images read from {folder}"


def test_points_on_the_modes_cover_them_all(tmp_path, capsys):
    ring = make_data("ring")
    points = ring.centers.repeat(40, 1) + 0.001 * torch.randn(320, 2, generator=torch.Generator().manual_seed(0))
    np.save(tmp_path / "p.npy", points.numpy())
    values = judged(capsys, tmp_path / "p.npy", "--dataset", "ring", "--out", tmp_path / "p.json")
    assert values["modes"] == 8 and values["hq"] == 1.0 and values["rkl"] == pytest.approx(0.0, abs=1e-9)


def test_targets_given_as_translations_score_perfectly(tmp_path, capsys):
    held = make_data("paired", name="edges2digits").heldout().reference(100)
    np.save(tmp_path / "t.npy", held.x.numpy())
    values = judged(capsys, tmp_path / "t.npy", "--dataset", "edges2digits", "--out", tmp_path / "t.json")
    assert values["l1"] == 0 and values["ssim"] == pytest.approx(1.0)


def test_bad_samples_are_one_line(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 1, 16, 16), np.float32))
    np.save(tmp_path / "nan.npy", np.full((20, 1, 16, 16), np.nan, np.float32))
    np.save(tmp_path / "wide.npy", np.full((20, 1, 16, 16), 255, np.float32))
    np.save(tmp_path / "short_labels.npy", np.zeros(3, np.int64))
    np.save(tmp_path / "big_labels.npy", np.full(20, 12, np.int64))
    np.save(tmp_path / "hwc.npy", np.zeros((20, 16, 16, 1), np.float32))
    np.save(tmp_path / "five.npy", np.zeros((5, 1, 16, 16), np.float32))
    np.save(tmp_path / "flat.npy", np.zeros(100, np.float32))
    (tmp_path / "empty").mkdir()
    (tmp_path / "pngs").mkdir()
    Image.new("L", (16, 16)).save(tmp_path / "pngs" / "0.png")
    (tmp_path / "sweep" / "0_seed=0" / "checkpoints").mkdir(parents=True)
    (tmp_path / "sweep" / "0_seed=0" / "checkpoints" / "last.pt").write_bytes(b"")
    for args, message in [
        ((tmp_path / "hwc.npy", "--dataset", "digits"), "images of shape (16, 16, 1), channels last; give (N, C, H, W)"),
        ((tmp_path / "five.npy", "--dataset", "digits"), "5 samples; give at least 10"),
        ((tmp_path / "flat.npy", "--dataset", "ring"), "samples of one number each; dataset=ring has samples of shape (2,)"),
        ((tmp_path / "x.npy",), "is an array of samples, not a run: add --dataset NAME"),
        ((tmp_path / "pngs",), "holds images, not a run: add --dataset NAME"),
        ((tmp_path / "sweep",), f"is a sweep's folder: give one of its runs, e.g. {tmp_path / 'sweep' / '0_seed=0'}"),
        ((tmp_path / "x.npy", "--dataset", "ring"), "samples of shape (1, 16, 16); dataset=ring has samples of shape (2,)"),
        ((tmp_path / "nan.npy", "--dataset", "digits"), "samples: holds NaN or infinite values"),
        ((tmp_path / "wide.npy", "--dataset", "digits"), "values span [255, 255]; give images in [-1, 1]"),
        ((tmp_path / "x.npy", "--dataset", "digits", "--labels", tmp_path / "short_labels.npy"),
         "3 entries for 20 samples"),
        ((tmp_path / "x.npy", "--dataset", "digits", "--labels", tmp_path / "big_labels.npy"),
         "class labels must be 0-9"),
        ((tmp_path / "x.npy", "--dataset", "ring", "--class", "3"), "--class 3: dataset=ring has no classes"),
        ((tmp_path / "x.npy", "--dataset", "digitz"), "dataset=digitz: no such option (did you mean digits?)"),
        ((tmp_path / "x.npy", "--dataset", "digits", "--n", "10"), "--n draws a trained run's samples"),
        ((tmp_path / "x.npy", "--class", "3"), "--class goes with --dataset"),
        ((tmp_path / "nope.npy", "--dataset", "digits"), "no such file or folder"),
        ((tmp_path / "empty", "--dataset", "digits"), "the folder holds no images"),
        ((tmp_path / "x.npy", "--dataset", "digits", "--out", tmp_path / "x.txt"), "use a .json file name"),
    ]:
        assert message in one_line(*args), args
