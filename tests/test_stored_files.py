"""Stored files may not steer what runs: the second hardening round (issue 25).

A run folder, a checkpoint, an export, a sweep folder or a cache may come from a stranger. Each
test below crafts one attack of that issue first, then checks that it is refused in one line, or
has no effect, and that nothing outside the user's own folders is read or written:

- critical: a run folder's stored eval settings pointed torch-fidelity at a pickled cache file
  (`test_a_stored_config_never_points_an_evaluation_at_a_pickled_cache_*`);
- paths and names: a stored dataset.root or cache folder is never used; a stored dataset.name cannot
  leave the cache folder (`test_stored_paths_*`, `test_a_dataset_name_*`);
- run-folder YAML and JSON: aliases, size and depth (`test_yaml_aliases_*`, `test_oversized_*`);
- caches: a poisoned or stale classifier cache is retrained or recomputed with a warning
  (`test_a_poisoned_classifier_cache_*`, `test_a_pickled_inception_feature_cache_*`);
- sweeps: a stale, crafted or linked .joblist (`test_a_sweeps_job_list_*`);
- tools: ganrun-eval --out, ganrun-translate's names and values, stored shapes, and the values of
  a resumed checkpoint's parts (`test_eval_out_*`, `test_translate_*`, `test_*_is_one_line`).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from conftest import FAST, compose_config, ganrun_here, train_run
from ganrun.checkpoint import export_generator
from ganrun.errors import CheckpointError, ConfigError, DataError
from ganrun.commands.evaluate import main as eval_main
from ganrun.commands.report import main as report_main

DIGITS = ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8", "train.steps=2",
          "train.ckpt_every=2", "eval.n=10", "eval.ref_n=10"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("trusted") / "run"
    train_run(run, DIGITS)
    return run


class Marker:
    """A pickle that, when loaded, creates a folder: proof that a file chose code to run."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (str(self.path),))


def copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def edit_checkpoints(run: Path, edit) -> dict:
    """Apply `edit` to the stored state of every checkpoint of a run (as a stranger would); returns it."""
    for ckpt in sorted((run / "checkpoints").glob("*.pt")):
        state = torch.load(ckpt, weights_only=True)
        edit(state)
        ckpt.unlink()
        torch.save(state, ckpt)
    return state


def plant_pickles(folder: Path, names: list[str], marker: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(pickle.dumps(Marker(marker)))


def poisoned_run(trusted: Path, where: Path, marker: Path, weights: Path) -> Path:
    """A copy of `trusted` whose stored eval settings turn the Inception metrics on with weights and a
    cache folder inside the run folder, where pickles wait under every name torch-fidelity (as ganrun
    used it before) and ganrun look for."""
    from ganrun.data import Batch
    from ganrun.metrics.classifier import data_digest
    from ganrun.metrics.inception import weights_digest

    run = copy_run(trusted, where)
    shutil.copy(weights, run / "w.pth")
    state = edit_checkpoints(run, lambda s: s["config"]["eval"].update(
        inception=True, inception_weights=str(run / "w.pth"), cache_dir=str(run / "cache")))
    config = json.loads((run / "config.json").read_text())
    config["eval"] = state["config"]["eval"]
    (run / "config.json").write_text(json.dumps(config))
    from ganrun.config import make

    real = make("dataset", state["config"]["dataset"], device="cpu").reference(10).x
    stat = (run / "w.pth").stat()
    name = (f"ganrun-digits-train-16px-n{len(real)}-d{data_digest(Batch(real))}-"
            f"w{weights_digest(run / 'w.pth', stat.st_size, stat.st_mtime)}")
    plant_pickles(run / "cache" / "torch-fidelity", [f"{name}-inception-v3-compat-{what}.pt" for what in
                                                     ("features-2048", "features-logits_unbiased",
                                                      "stat-fid-2048")], marker)
    plant_pickles(run / "cache" / "inception", [f"{name}.safetensors"], marker)
    return run


@pytest.fixture
def user_inception(random_inception_weights, tmp_path, monkeypatch) -> dict:
    """The user's own Inception weights where torch keeps them (the default the tools use), and the
    environment that points a subprocess there."""
    from ganrun.metrics.inception import hub_weights_path

    hub = tmp_path / "torch-home" / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    target = hub_weights_path()
    target.parent.mkdir(parents=True)
    os.link(random_inception_weights, target)
    return {"TORCH_HOME": str(tmp_path / "torch-home")}


# --------------------------------------------------------------------------- critical
def test_a_stored_config_never_points_an_evaluation_at_a_pickled_cache_eval_and_export(
        digits_run, user_inception, random_inception_weights, tmp_path, capsys):
    """ganrun-eval on a run folder and on an export of it: the stored weights file and cache folder are
    not used (the user's own are), so the planted pickles are never read; the metrics are measured."""
    marker = tmp_path / "pwned"
    run = poisoned_run(digits_run, tmp_path / "run", marker, random_inception_weights)
    assert eval_main([str(run), "--out", str(tmp_path / "e.json")]) == 0
    values = json.loads((tmp_path / "e.json").read_text())
    assert values["fid"] is not None and "Inception-v3" in values["protocol"]["fid"]
    assert "random-inception.pth" not in values["protocol"]["fid"] and "w.pth" not in values["protocol"]["fid"]
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    export = export_generator(state, tmp_path / "g.safetensors")
    assert eval_main([str(export), "--out", str(tmp_path / "e2.json")]) == 0
    assert json.loads((tmp_path / "e2.json").read_text())["fid"] == pytest.approx(values["fid"])
    user_cache = Path(os.environ["GANRUN_CACHE_DIR"]) / "inception"
    assert any(user_cache.glob("*.safetensors")), "the real features are cached in the user's folder"
    assert not marker.exists()


def test_a_stored_config_never_points_an_evaluation_at_a_pickled_cache_resume_path_and_auto(
        digits_run, user_inception, random_inception_weights, tmp_path):
    marker = tmp_path / "pwned"
    run = poisoned_run(digits_run, tmp_path / "run", marker, random_inception_weights)
    ganrun_here(f"resume={run}", "train.steps=3", cwd=tmp_path, check=True)
    assert json.loads((run / "metrics.json").read_text())["fid"] is not None
    # resume=auto: the same command as the run's, under ./outputs; the user asks for Inception metrics
    auto = poisoned_run(digits_run, tmp_path / "outputs" / "2026-01-01" / "00-00-00-000000", marker,
                        random_inception_weights)
    ganrun_here(*DIGITS, "train.steps=3", "quiet=true", "device=cpu", *FAST[2:5], "train.batch_size=16",
                "eval.inception=true", "resume=auto", cwd=tmp_path, check=True)
    assert torch.load(auto / "checkpoints" / "last.pt", weights_only=True)["step"] == 3, "it resumed that run"
    assert not marker.exists()


def test_a_pickled_inception_feature_cache_in_the_users_own_folder_is_not_unpickled(
        random_inception_weights, tmp_path, caplog):
    """Even the user's own cache is read without pickle: ganrun's features file is safetensors, stamped
    with a digest of its features; anything else is recomputed with a warning."""
    from ganrun.metrics.inception import InceptionMetrics

    real = torch.rand(10, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    metrics = InceptionMetrics(random_inception_weights, real, "noise", "train", tmp_path, torch.device("cpu"))
    plant_pickles(metrics.cache_file.parent, [metrics.cache_file.name], tmp_path / "pwned")
    first, _ = metrics(real.clone())
    assert not (tmp_path / "pwned").exists()
    assert any("unreadable Inception feature cache" in r.getMessage() for r in caplog.records)
    # the file is now ganrun's own and sealed; features forged with a digest of their own are not sealed
    from safetensors.torch import load_file, save_file

    from ganrun.metrics.inception import features_digest

    forged = {k: v * 2 for k, v in load_file(str(metrics.cache_file)).items()}
    save_file(forged, str(metrics.cache_file), metadata={"features": features_digest(forged)})
    again, _ = metrics(real.clone())
    assert again["fid"] == pytest.approx(first["fid"])
    assert any("its seal does not cover the features it holds" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- paths and names
def test_stored_paths_are_the_users_the_data_root_is_asked_for(tmp_path, capsys):
    """A folder run: its stored dataset.root is not followed by ganrun-eval or resume=; both say which
    folder the run used and how to give it; given on the command line, they run."""
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    for i in range(12):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(images / f"{i}.png")
    run = tmp_path / "run"
    train_run(run, ["dataset=folder", f"dataset.root={images}", "dataset.resolution=8", "model.g_width=4",
                    "model.d_width=4", "train.steps=2", "train.ckpt_every=2", "eval.n=10", "eval.ref_n=10"])
    assert eval_main([str(run), "--out", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"the run read its data from '{images}'" in err and "--data-root PATH" in err
    assert eval_main([str(run), "--out", str(tmp_path / "e.json"), "--data-root", str(images)]) == 0
    proc = ganrun_here(f"resume={run}", "train.steps=3", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "add dataset=folder dataset.root=PATH" in proc.stderr, proc.stderr
    ganrun_here(f"resume={run}", "train.steps=3", "dataset=folder", f"dataset.root={images}", cwd=tmp_path, check=True)
    assert json.loads((run / "metrics.json").read_text())["steps"] == 3


def test_stored_paths_are_replaced_by_the_users_defaults(digits_run, monkeypatch, tmp_path):
    from ganrun.config import load_stored_config

    stored = torch.load(digits_run / "checkpoints" / "last.pt", weights_only=True)["config"]
    stored["eval"].update(cache_dir="/somewhere/else", inception_weights="/tmp/evil.pth")
    monkeypatch.setenv("GANRUN_CACHE_DIR", str(tmp_path / "mine"))
    moved: dict = {}
    cfg = load_stored_config(stored, "src", moved=moved)
    assert cfg.eval.cache_dir == str(tmp_path / "mine") and cfg.eval.inception_weights is None
    assert moved == {"eval.cache_dir": "/somewhere/else", "eval.inception_weights": "/tmp/evil.pth"}
    cfg = load_stored_config(stored, "src", given={"eval.cache_dir": "/given"})
    assert cfg.eval.cache_dir == "/given"


def test_a_dataset_name_that_would_leave_the_cache_folder_is_refused(digits_run, tmp_path, capsys):
    escape = tmp_path / "x" / "escape"
    run = copy_run(digits_run, tmp_path / "run")
    edit_checkpoints(run, lambda s: s["config"]["dataset"].update(name=f"../../../../../{escape}"))
    assert eval_main([str(run), "--out", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err
    assert "refused: dataset.name=" in err and "a name goes into file names" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="dataset.name='a/b': a name goes into file names"):
        from ganrun.config import validate

        validate(compose_config(["dataset=digits", "dataset.name=a/b"]))


# --------------------------------------------------------------------------- run-folder YAML and JSON
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))


def sweep_job(folder: Path, overrides: str, metrics: dict) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(overrides)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_yaml_aliases_in_a_run_folder_are_refused_not_expanded(tmp_path, capsys):
    """A few hundred bytes of nested aliases (gigabytes once expanded) are one note naming the file."""
    assert len(BOMB) < 500
    sweep_job(tmp_path / "good", "- loss=ns\n- seed=0\n", {"status": "finished", "fd": 1.0})
    bomb = sweep_job(tmp_path / "bomb", BOMB, {"status": "finished", "fd": 2.0})
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"skipped {bomb / '.hydra' / 'overrides.yaml'}: holds YAML anchors or aliases" in out
    assert (tmp_path / "report.md").stat().st_size < 2000


def test_oversized_and_deep_run_folder_files_and_huge_numbers_are_one_note(tmp_path, capsys):
    sweep_job(tmp_path / "big", "- x=" + "y" * (5 * 2 ** 20) + "\n", {"fd": 1.0})
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "metrics.json").write_text("[" * 100_000 + "]" * 100_000)
    sweep_job(tmp_path / "huge", "- seed=1\n", {"status": "finished", "fd": int("9" * 400), "is": 1.5})
    sweep_job(tmp_path / "pipe", "- loss.name=a|b\n", {"status": "finished", "fd": 1.0})
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "overrides.yaml: larger than 256 kB" in out and "metrics.json: nested too deep" in out
    assert "| loss.name=a\\|b |" in out, "a | in an override is escaped in the markdown table"
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == rows[0].count(" | ") for line in rows), out


def test_resume_auto_skips_a_sweep_job_whose_yaml_is_a_bomb(tmp_path, caplog):
    from ganrun.resume import matching_run

    job = tmp_path / "outputs" / "multirun" / "d" / "t" / "0_x"
    sweep_job(job, BOMB, {"status": "finished"})
    (job.parent / "multirun.yaml").write_text("{}")
    (job / "config.json").write_text(json.dumps({"seed": 0}))
    (job / "checkpoints").mkdir()
    (job / "checkpoints" / "last.pt").write_bytes(b"")
    assert matching_run({"seed": 0}, root=tmp_path / "outputs") is None
    assert any("holds YAML anchors or aliases" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- caches
def test_a_poisoned_classifier_cache_is_retrained_or_recomputed(tmp_path, caplog):
    """Forged caches change no metric: features forged with a digest of their own, and a zeroed
    classifier stored with 99.9% accuracy, are not sealed with this user's key (ganrun/metrics/seal.py);
    a sealed classifier that has gone stale scores below its saved accuracy when measured again."""
    from ganrun.data import Batch
    from ganrun.metrics.classifier import ClassifierMetrics, _REFERENCE, state_digest, tensors_digest
    from ganrun.metrics.seal import seal
    from conftest import make_data

    data = make_data("digits", resolution=8)
    fake = Batch(data.reference(200).x.flip(-1))

    def measure():
        _REFERENCE.clear()
        return ClassifierMetrics(data, data.heldout(), tmp_path, torch.device("cpu"))(fake)

    honest, protocol = measure()
    features = next((tmp_path / "classifiers").glob("*-features.pt"))
    state = torch.load(features, weights_only=True)
    state["features"] = state["features"] * 0.05
    state["digest"] = tensors_digest(state["features"])
    torch.save(state, features)
    values, _ = measure()
    assert values["fd_digits"] == pytest.approx(honest["fd_digits"])
    assert any("its seal does not cover the features it holds" in r.getMessage() for r in caplog.records)

    weights = next(p for p in (tmp_path / "classifiers").glob("*.pt") if not p.name.endswith("-features.pt"))
    state = torch.load(weights, weights_only=True)
    state.update(model={k: torch.zeros_like(v) for k, v in state["model"].items()}, heldout_accuracy=0.999)
    torch.save(state, weights)
    values, again = measure()
    assert values["fd_digits"] == pytest.approx(honest["fd_digits"])
    assert values["confident_real"] == honest["confident_real"]
    assert again["fd_digits"] == protocol["fd_digits"], "the protocol names the real accuracy"
    assert any("was not sealed by ganrun for this user" in r.getMessage() for r in caplog.records)
    # sealed by this user, and stale: measured again, it falls short of what it was saved with
    state = torch.load(weights, weights_only=True)
    state["model"] = {k: torch.zeros_like(v) for k, v in state["model"].items()}
    from ganrun.metrics.classifier import DigitClassifier

    zeros = DigitClassifier(1, 8, 10)
    zeros.load_state_dict(state["model"])
    state.update(heldout_accuracy=0.999, seal=seal("classifier", weights.name, state_digest(zeros), repr(0.999)))
    torch.save(state, weights)
    values, _ = measure()
    assert values["fd_digits"] == pytest.approx(honest["fd_digits"])
    assert any("below the 99.9% it was saved with" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- sweeps
def test_a_sweeps_job_list_holds_only_this_sweeps_jobs(tmp_path, caplog):
    from ganrun.callbacks import JOBS_FILE, GanrunCallbacks, append_job, listed_jobs, take_failed_jobs

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("{}")
    mine = sweep_job(sweep / "0_seed=0", "- seed=0\n", {"status": "finished", "fd": 1.0})
    foreign = sweep_job(tmp_path / "foreign", "- seed=9\n", {"status": "failed", "error": "not this sweep"})
    (sweep / JOBS_FILE).write_text(f"{foreign}\n{mine}\n/etc\n")
    assert listed_jobs(sweep) == [mine]
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}})
    callbacks = GanrunCallbacks()
    callbacks.on_multirun_start(config)
    assert not (sweep / JOBS_FILE).exists(), "a sweep starts with an empty list (stale lines go)"
    (sweep / JOBS_FILE).write_text(f"{foreign}\n{mine}\n")
    take_failed_jobs()
    callbacks.on_multirun_end(config)
    assert take_failed_jobs() == [], "a foreign failed run does not fail a good sweep"
    assert "foreign" not in (sweep / "report.md").read_text()
    # a list that is a link is neither written through nor read
    target = tmp_path / "target.txt"
    target.write_text("keep\n")
    (sweep / JOBS_FILE).unlink()
    (sweep / JOBS_FILE).symlink_to(target)
    append_job(sweep, mine)
    assert target.read_text() == "keep\n"
    assert listed_jobs(sweep) == []
    # a run that a job of this sweep resumed (resume=auto) lives elsewhere and still counts
    (sweep / JOBS_FILE).unlink()
    resumed = sweep_job(tmp_path / "earlier" / "0_seed=1", "- seed=1\n", {"status": "finished", "fd": 2.0})
    (resumed / "config.json").write_text("{}")
    (resumed / ".hydra" / "resumed-2026-01-01_00-00-00-000000").mkdir()
    append_job(sweep, resumed)
    assert listed_jobs(sweep) == [resumed]


# --------------------------------------------------------------------------- tools
def test_eval_out_is_a_json_file_and_never_one_of_the_runs_files(digits_run, tmp_path, capsys):
    run = copy_run(digits_run, tmp_path / "run")
    checkpoint = run / "checkpoints" / "step_0000002.pt"
    before = checkpoint.read_bytes()
    for out, message in [(checkpoint, "use a .json file name"), (run / "metrics.json", "is a file of the run")]:
        assert eval_main([str(run), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert checkpoint.read_bytes() == before and json.loads((run / "metrics.json").read_text())["steps"] == 2
    assert eval_main([str(run), "--out", str(run / "eval_mine.json")]) == 0


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("p2p") / "run"
    train_run(run, ["experiment=pix2pix", "train.steps=2", "train.ckpt_every=2", "train.batch_size=4",
                    "eval.n=20", "eval.classifier=false", "model.g_width=8", "model.d_width=8"])
    return run


def test_translate_keeps_both_images_of_one_name_and_refuses_bad_arrays(pix2pix_run, tmp_path, capsys):
    from PIL import Image

    from ganrun.commands.translate import main as translate_main

    inp = tmp_path / "in"
    inp.mkdir()
    for suffix in ("png", "jpg"):
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(inp / f"x.{suffix}")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(inp / "y.png")
    assert translate_main([str(pix2pix_run), "--in", str(inp), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.jpg.png", "x.png.png", "y.png"]
    capsys.readouterr()
    for name, array, message in [
            ("nan", np.full((2, 1, 32, 32), np.nan, np.float32), "NaN or infinite values"),
            ("wide", np.full((2, 1, 32, 32), 255, np.float32), "values span [255, 255]; this run translates "
                                                                 "images in [-1, 1]"),
            ("text", np.full((2, 1, 32, 32), "a"), "an array of <U1; give numbers")]:
        np.save(tmp_path / f"{name}.npy", array)
        assert translate_main([str(pix2pix_run), "--in", str(tmp_path / f"{name}.npy"),
                               "--out", str(tmp_path / "o.npy")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("key,shape", [("source_shape", [1, 512, 512]), ("data_shape", [1, 16, 16])])
def test_stored_shapes_that_do_not_fit_the_runs_config_are_one_line(key, shape, pix2pix_run, tmp_path):
    from ganrun.checkpoint import load_checkpoint

    state = torch.load(pix2pix_run / "checkpoints" / "last.pt", weights_only=True)
    state[key] = shape
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=rf"bad.pt is not a valid ganrun checkpoint: {key} "
                                              rf"\[1, {shape[1]}, {shape[2]}\] does not fit its config's "
                                              rf"dataset.resolution=32"):
        load_checkpoint(tmp_path / "bad.pt")


def test_deeply_nested_export_metadata_is_one_line(digits_run, tmp_path):
    from safetensors.torch import save

    from ganrun.checkpoint import load_checkpoint

    weights = torch.load(digits_run / "checkpoints" / "last.pt", weights_only=True)["players"]["G"]["module"]
    meta = {"format": "ganrun-generator", "config": "[" * 50_000 + "]" * 50_000, "data_shape": "[1, 16, 16]",
            "data_kind": "images", "step": "2"}
    (tmp_path / "deep.safetensors").write_bytes(save(weights, metadata=meta))
    with pytest.raises(CheckpointError, match="deep.safetensors is not a valid ganrun export: its metadata config: "
                                              "nested too deep"):
        load_checkpoint(tmp_path / "deep.safetensors")


def test_lists_of_mappings_on_the_command_line_are_one_line():
    from ganrun.config import validate

    for override in ("model.g_hidden=[{_target_: os.system}]", "model.d_hidden=[[1, 2]]"):
        with pytest.raises(ConfigError, match=r"hidden: give a list of plain values \(numbers\)"):
            validate(compose_config(["dataset=ring", "model=mlp", override]))


@pytest.mark.parametrize("damage,fragment", [
    (lambda s: s["state"]["health"].update(said=[{}]), "its health state does not fit this run (KeyError"),
    (lambda s: next(iter(s["players"]["G"]["optimizer"]["state"].values())).update(exp_avg=torch.zeros(3)),
     "the optimizer state of G does not fit this run (ValueError: its exp_avg has shape [3] where the weight has"),
    # refused before torch's load copies it (each extra key would be one more copy)
    (lambda s: next(iter(s["players"]["G"]["optimizer"]["state"].values())).update(extra=torch.zeros(10 ** 6)),
     "the optimizer state of G does not fit this run (ValueError: its extra has 1000000 elements, more than any"),
    # a learning rate in the file is never read: test_a_resumed_run_trains_with_its_configs_hyperparameters_not_the_files
])
def test_a_resumed_checkpoint_whose_optimizer_state_is_wrong_is_one_line(damage, fragment, tmp_path):
    """Values that torch would take and fail on at the first step, far from the file, are refused when
    the checkpoint is loaded."""
    from ganrun.resume import prepare
    from ganrun.loop import train

    run = tmp_path / "run"
    train_run(run, ["train.steps=2", "train.ckpt_every=2"])
    edit_checkpoints(run, damage)
    cfg, state = prepare(compose_config(FAST + ["dataset=ring", f"resume={run}", "train.steps=4"]), run,
                         [f"resume={run}", "train.steps=4"])
    with pytest.raises(CheckpointError) as e:
        train(cfg, run, state)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_a_checkpoints_schedule_sets_its_step_only_and_a_wall_time_past_floats_is_one_line(tmp_path):
    """The LR schedule's entry of a file had gone through scheduler.load_state_dict, which sets every
    attribute it names: a `step` of 0 replaced the scheduler's method (a traceback at the first step).
    Now its step is read and the rest ignored: the run resumes as from the file ganrun wrote."""
    from ganrun.checkpoint import load_checkpoint
    from ganrun.loop import train

    linear = FAST + ["dataset=ring", "train.lr_schedule=linear", "train.ckpt_every=2", "train.log_every=2"]
    train(compose_config(linear + ["train.steps=2"]), tmp_path / "half")
    shutil.copytree(tmp_path / "half", tmp_path / "crafted")
    edit_checkpoints(tmp_path / "crafted", lambda s: [s["players"][p]["scheduler"].update(
        step=0, get_lr=1, base_lrs=[5.0], _last_lr=[5.0], lr_lambdas=[None, None]) for p in ("G", "D")])
    for run in ("half", "crafted"):
        train(compose_config(linear + ["train.steps=4"]), tmp_path / run,
              resume_state=load_checkpoint(tmp_path / run))
    a, b = (load_checkpoint(tmp_path / r)["players"] for r in ("half", "crafted"))
    assert all(torch.equal(a[p]["module"][k], b[p]["module"][k]) for p in ("G", "D") for k in a[p]["module"])
    assert a["G"]["scheduler"] == b["G"]["scheduler"]
    edit_checkpoints(tmp_path / "half", lambda s: s.update(wall_s=10 ** 400))
    with pytest.raises(CheckpointError, match="its wall time or last logged values are not numbers"):
        train(compose_config(linear + ["train.steps=6"]), tmp_path / "half",
              resume_state=load_checkpoint(tmp_path / "half"))


def test_a_corrupt_torchvision_file_is_one_line(tmp_path):
    from conftest import make_data

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + os.urandom(60))
    with pytest.raises(DataError, match=f"dataset=mnist: the files in {tmp_path / 'MNIST'} do not read .*delete "
                                        f"that folder to download them again"):
        make_data("torchvision", name="mnist", root=str(tmp_path), download=False)


# --------------------------------------------------------------------------- the hostile review's findings
def test_a_run_folder_holding_links_is_never_written_through(digits_run, tmp_path):
    """A stranger's run folder whose log (or samples/, tb/, .hydra/, ...) is a link: Hydra would open
    the log before ganrun's code runs and append to whatever it points at. resume= refuses it in one
    line before Hydra starts; resume=auto leaves it alone and starts a new run."""
    victim = tmp_path / "victim.pth"
    victim.write_text("keep\n")
    for entry in ("ganrun.log", "samples"):
        run = copy_run(digits_run, tmp_path / "outputs" / "2026-01-01" / f"00-00-00-{entry.replace('.', '')}")
        target = run / entry
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        target.symlink_to(victim if entry == "ganrun.log" else tmp_path)
        proc = ganrun_here(f"resume={run}", "train.steps=3", cwd=tmp_path, check=False)
        assert proc.returncode == 2 and f"{target} is a link" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    same = [o for o in DIGITS if not o.startswith("train.steps=")]
    proc = ganrun_here(*same, "train.steps=3", "quiet=true", "device=cpu", "train.batch_size=16", "train.log_every=2",
                       "train.sample_every=3", "resume=auto", cwd=tmp_path, check=True)
    assert "is a link" in proc.stdout + proc.stderr and len(list((tmp_path / "outputs").glob("*/*"))) == 3
    assert victim.read_text() == "keep\n"


def test_a_checkpoint_that_is_a_link_never_chooses_the_run_folder_written(digits_run, tmp_path):
    """resume=<stranger>/checkpoints/last.pt where last.pt links to another run's checkpoint: followed,
    the link's target named the run folder, and ganrun wrote its log, checkpoints and metrics there."""
    victim = copy_run(digits_run, tmp_path / "victim")
    before = sorted(p.relative_to(victim) for p in victim.rglob("*"))
    stranger = tmp_path / "stranger" / "checkpoints"
    stranger.mkdir(parents=True)
    (stranger / "last.pt").symlink_to(victim / "checkpoints" / "last.pt")
    proc = ganrun_here(f"resume={stranger / 'last.pt'}", "train.steps=5", cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"{stranger / 'last.pt'} is a link" in proc.stderr and "give the path it points to" in proc.stderr
    assert sorted(p.relative_to(victim) for p in victim.rglob("*")) == before, "nothing written into the victim"
    assert not (tmp_path / "stranger" / "ganrun.log").exists()
    # the run folder itself a link (resume would write, and prune old checkpoints, in its target)
    (tmp_path / "stranger" / "run").symlink_to(victim)
    for given in (tmp_path / "stranger" / "run", tmp_path / "stranger" / "run" / "checkpoints" / "last.pt"):
        proc = ganrun_here(f"resume={given}", "train.steps=5", cwd=tmp_path)
        assert proc.returncode == 2 and f"{tmp_path / 'stranger' / 'run'} is a link" in proc.stderr, proc.stderr
    assert sorted(p.relative_to(victim) for p in victim.rglob("*")) == before, "nothing written into the victim"
    # a link above the run folder is the user's own path (a linked home or data disk)
    (tmp_path / "disk").symlink_to(tmp_path)
    ganrun_here(f"resume={tmp_path / 'disk' / 'victim'}", "train.steps=3", cwd=tmp_path, check=True)


def test_the_report_never_writes_through_links_and_keeps_text_printable(tmp_path, capsys):
    victim = tmp_path / "victim.pth"
    victim.write_text("keep\n")
    sweep = tmp_path / "sweep"
    sweep_job(sweep / "0", "- seed=0\n- \"x=1\\nimport os; os.system('touch pwned')\\n\"\n", {"fd": 1.0})
    for name in ("report.md", "report.csv"):
        (sweep / name).symlink_to(victim)
    assert report_main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert victim.read_text() == "keep\n" and not (sweep / "report.csv").is_symlink()
    assert all(not line.startswith("import os") for line in (sweep / "report.csv").read_text().splitlines())
    assert "x=1 import os" in out


def test_a_fifo_or_deep_yaml_in_a_run_folder_is_refused_not_waited_on(tmp_path, capsys):
    from ganrun.resume import matching_run

    sweep_job(tmp_path / "good", "- seed=0\n", {"fd": 1.0})
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "metrics.json")
    sweep_job(tmp_path / "deep", "- " + "[" * 20_000 + "\n", {"fd": 1.0})
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "metrics.json: not a regular file" in out and "nested deeper than 64 levels" in out
    run = tmp_path / "outputs" / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    os.mkfifo(run / "config.json")
    assert matching_run({"seed": 0}, root=tmp_path / "outputs") is None


def test_a_checkpoint_with_compressed_entries_is_refused(digits_run, tmp_path):
    """torch.save stores its entries: a compressed one could unpack to far more memory than the file."""
    import zipfile

    from ganrun.checkpoint import load_checkpoint

    with zipfile.ZipFile(digits_run / "checkpoints" / "last.pt") as src, \
            zipfile.ZipFile(tmp_path / "bomb.pt", "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename))
    with pytest.raises(CheckpointError, match="holds compressed entries, which torch.save never writes"):
        load_checkpoint(tmp_path / "bomb.pt")


@pytest.mark.parametrize("edit,fragment", [
    (lambda c: c["model"].update(g_hidden=[100_000]), "model.g_hidden=[100000] is out of range: it must be <= 16384"),
    (lambda c: c["model"].update(g_hidden=[16] * 40), "model.g_hidden: 40 values; at most 32"),
    (lambda c: c["eval"].update(n=10_000_000), "eval.n=10000000 is out of range: it must be <= 100000"),
    (lambda c: c["tricks"].update(replay_size=10 ** 9), "tricks.replay_size=1000000000 is out of range"),
])
def test_sizes_a_stored_config_can_ask_for_are_bounded(edit, fragment):
    from ganrun.config import load_stored_config

    config = OmegaConf.to_container(compose_config(["dataset=ring", "model=mlp"]), resolve=True)
    edit(config)
    with pytest.raises(CheckpointError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        load_stored_config(config, "src")


RING = ["train.steps=2", "train.ckpt_every=2"]


@pytest.mark.parametrize("overrides,damage,fragment", [
    (RING, lambda s: s["state"]["health"].update(said=[{}]), "its health state does not fit this run (KeyError"),
    (RING, lambda s: s["state"]["health"].update(best_modes="x"), "its health state does not fit this run (ValueError"),
    (RING, lambda s: s["state"]["health"].update(previous=["a", "b"]), "its health state does not fit this run"),
    (RING, lambda s: next(iter(s["players"]["G"]["optimizer"]["state"].values())).update(exp_avg=torch.zeros(3)),
     "the optimizer state of G does not fit this run (ValueError: its exp_avg has shape [3] where the weight has"),
    (RING, lambda s: s["state"]["means"].update(values={"x\nimport os": torch.ones(1)}, counts={"x\nimport os": 1}),
     "its means state does not fit this run (ValueError: a logged term named"),
    (RING, lambda s: s["state"]["means"].update(values={"loss/D": torch.ones(2, 2)}, counts={"loss/D": 4}),
     "the values of loss/D are not one number per counted update"),
    (RING + ["tricks.replay=0.5", "tricks.replay_size=8"],
     lambda s: s["state"]["replay"].update({"_extra_state": {"samples": torch.zeros(3, 5), "filled": 3, "next": 3}}),
     "its replay state does not fit this run (ValueError: its samples are not 3 floating-point samples"),
    (RING + ["loss=began"], lambda s: s["state"]["loss"].update(k=torch.tensor(float("nan"))),
     "BEGAN's k is nan, outside [0, 1]"),
    (RING + ["train.lr_schedule=linear"], lambda s: s["players"]["D"]["scheduler"].update(last_epoch="x"),
     "the scheduler state of D does not fit this run (ValueError: its step is 'x'"),
    (RING, lambda s: s["players"]["D"]["optimizer"]["state"][0].update(
        exp_avg_sq=-s["players"]["D"]["optimizer"]["state"][0]["exp_avg_sq"] - 1),
     "its exp_avg_sq holds negative values, which a mean of squares never has"),
    (RING, lambda s: s.update(skipped="abc"), "its count of skipped updates is 'abc', not a count"),
    (RING, lambda s: s.update(wall_s="abc"), "its wall time or last logged values are not numbers"),
    (RING, lambda s: s.update(last_logged=[1, 2]), "its wall time or last logged values are not numbers"),
    (RING, lambda s: s["players"]["G"]["module"].update(
        {k: torch.full_like(v, float("nan")) for k, v in list(s["players"]["G"]["module"].items())[:1]}),
     "has NaN or infinite values in"),
])
def test_a_resumed_checkpoint_whose_parts_hold_wrong_values_is_one_line(overrides, damage, fragment, tmp_path):
    """Values that torch would take and fail on at the first step (or later, at a log or an evaluation),
    far from the file, are refused when the checkpoint is loaded."""
    from ganrun.resume import prepare
    from ganrun.loop import train

    run = tmp_path / "run"
    train_run(run, overrides)
    edit_checkpoints(run, damage)
    args = [f"resume={run}", "train.steps=4"]
    with pytest.raises(CheckpointError) as e:
        cfg, state = prepare(compose_config(FAST + ["dataset=ring", *overrides[len(RING):], *args]), run, args)
        train(cfg, run, state)
    assert fragment in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_resumed_run_trains_with_its_configs_hyperparameters_not_the_files(tmp_path):
    """An edited optimizer state (lr 0, maximize, amsgrad) changes nothing: every hyperparameter is the
    config's; only the optimizer's running statistics come from the file."""
    from ganrun.builder import build
    from ganrun.resume import prepare

    run = tmp_path / "run"
    train_run(run, RING)
    edit_checkpoints(run, lambda s: s["players"]["G"]["optimizer"]["param_groups"][0].update(
        lr=0.0, maximize=True, amsgrad=True, betas=(7.0, -3.0)))
    args = [f"resume={run}", "train.steps=4"]
    cfg, state = prepare(compose_config(FAST + ["dataset=ring", *args]), run, args)
    exp = build(cfg)
    exp.game.players.load_state_dict(state, "src")
    group = exp.game.players["G"].optimizer.param_groups[0]
    assert (group["lr"], group["maximize"], group["amsgrad"], tuple(group["betas"])) == (2e-4, False, False, (0.5, 0.999))


@pytest.mark.parametrize("damage,fragment", [
    (lambda s: s.update(step=2 ** 70), "step 1180591620717411303424 is not a step number"),
    (lambda s: s.update(data_kind="images"), "data_kind 'images' is not its dataset's (ring: points)"),
])
def test_stored_bookkeeping_that_does_not_fit_is_one_line(damage, fragment, tmp_path):
    from ganrun.checkpoint import load_checkpoint

    run = tmp_path / "run"
    train_run(run, RING)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    damage(state)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=re.escape(f"bad.pt is not a valid ganrun checkpoint: {fragment}")):
        load_checkpoint(tmp_path / "bad.pt")


def test_text_from_a_file_cannot_drive_the_terminal(capsys):
    from ganrun.errors import GanrunError, entry_point

    def fails():
        raise GanrunError("data moved\x1b[2K\x1b[0G\x1b[32mfetch it with: curl x | sh\x1b[0m")

    assert entry_point("ganrun-eval", fails) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "fetch it with" in err and err.count("\n") == 1


# The tensors a stranger's file may hold in place of ganrun's: a few bytes in the file each, which a
# copy, a digest or a finiteness check would turn into gigabytes, or types no check is written for.
ODD_TENSORS = [
    (lambda: torch.zeros(1).expand(10 ** 9), "shows 1000000000 elements in the memory of 1 (an expanded view)"),
    (lambda: torch.zeros(4, 4).to_sparse(), "is a torch.sparse_coo tensor"),
    (lambda: torch.zeros(4, 4).to(torch.float8_e4m3fn), "has dtype torch.float8_e4m3fn"),
    (lambda: torch.zeros(4, 4, dtype=torch.complex64), "has dtype torch.complex64"),
]


@pytest.mark.parametrize("make, message", ODD_TENSORS, ids=["expanded", "sparse", "float8", "complex"])
def test_a_checkpoint_or_export_holding_odd_tensors_is_one_line_before_any_work_on_them(make, message, digits_run,
                                                                                      tmp_path):
    from ganrun.checkpoint import load_checkpoint

    run = copy_run(digits_run, tmp_path / "run")
    edit_checkpoints(run, lambda s: s["players"]["G"]["module"].update({"net.0.weight": make()}))
    with pytest.raises(CheckpointError, match=re.escape(f"players.G.module.net.0.weight {message}")):
        load_checkpoint(run)
    proc = ganrun_here(str(run), "--n", "4", "--out", str(tmp_path / "x.npy"), cwd=tmp_path, script="ganrun-sample")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    # in an optimizer's state, as deep as ganrun nests (a resume would copy it into the optimizer)
    edit_checkpoints(run, lambda s: s["players"]["G"]["module"].update(
        load_checkpoint(digits_run)["players"]["G"]["module"]))
    edit_checkpoints(run, lambda s: s["players"]["D"]["optimizer"]["state"][0].update({"exp_avg": make()}))
    with pytest.raises(CheckpointError, match=re.escape(f"players.D.optimizer.state.0.exp_avg {message}")):
        load_checkpoint(run)
    if "expanded" not in message and "sparse" not in message:      # safetensors holds dense tensors only
        from safetensors.torch import save_file

        export = tmp_path / "g.safetensors"
        ganrun_here(str(digits_run), "--out", str(export), cwd=tmp_path, script="ganrun-export", check=True)
        from safetensors import safe_open

        with safe_open(str(export), framework="pt") as f:
            meta, weights = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
        save_file({**weights, "net.0.weight": make()}, str(export), metadata=meta)
        with pytest.raises(CheckpointError, match=re.escape(f"is not a valid ganrun export: net.0.weight {message}")):
            load_checkpoint(export)


def test_a_classifier_cache_that_is_a_view_or_compressed_is_recomputed_before_any_work_on_it(tmp_path, caplog):
    """A stranger's cache file is read as a checkpoint is: an expanded view of features (tiny on disk,
    gigabytes once digested) and a compressed entry (a zip bomb) are ignored with a warning before the
    seal is checked, and the metrics are the honest ones."""
    import zipfile

    from ganrun.data import Batch
    from ganrun.metrics.classifier import ClassifierMetrics, _REFERENCE
    from conftest import make_data

    data = make_data("digits", resolution=8)
    fake = Batch(data.reference(200).x.flip(-1))

    def measure():
        _REFERENCE.clear()
        return ClassifierMetrics(data, data.heldout(), tmp_path, torch.device("cpu"))(fake)[0]

    honest = measure()
    features = next((tmp_path / "classifiers").glob("*-features.pt"))
    state = torch.load(features, weights_only=True)
    torch.save(dict(state, features=torch.zeros(1).expand(len(state["features"]), 10 ** 7)), features)
    caplog.clear()
    assert measure()["fd_digits"] == pytest.approx(honest["fd_digits"])
    assert f"ignoring the unreadable feature cache {features} (features shows" in caplog.text
    weights = next(p for p in (tmp_path / "classifiers").glob("*.pt") if not p.name.endswith("-features.pt"))
    stored = zipfile.ZipFile(weights)
    entries = [(info.filename, stored.read(info.filename)) for info in stored.infolist()]
    with zipfile.ZipFile(weights, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name, content in entries:
            bomb.writestr(name, content)
    caplog.clear()
    assert measure()["fd_digits"] == pytest.approx(honest["fd_digits"])
    assert f"ignoring the unreadable classifier cache {weights} (it holds compressed entries" in caplog.text


def test_a_metric_named_as_a_report_column_does_not_take_its_place(tmp_path):
    """metrics.json's names are a stranger's: "setting", "runs" or "finished" had overwritten those
    columns of the report (a traceback for "setting", a false run count for the others)."""
    from ganrun.report import summarize

    sweep = tmp_path / "sweep"
    for i in range(2):
        sweep_job(sweep / str(i), f"- seed={i}\n", {"setting": 7, "runs": 9, "finished": 0, "fd": 1.0 + i,
                                                    "fd_std": 5.0})
    names, rows, _, _ = summarize(sorted(sweep.iterdir()), by=[])
    assert names == ["fd"] and len(rows) == 1, "nor a metric named as another's spread column (fd_std)"
    assert (rows[0]["setting"], rows[0]["runs"], rows[0]["finished"]) == ("(defaults)", 2, 2)
    assert report_main([str(sweep)]) == 0
    assert "| (defaults) | 2 | 2 | 1.5 ± 0.71 |" in (sweep / "report.md").read_text()
    assert (sweep / "report.csv").read_text().splitlines()[0] == "setting,runs,finished,fd,fd_std"


def test_a_stored_config_naming_huge_networks_is_refused_before_they_are_built(tmp_path, monkeypatch):
    """A file of a few hundred KB whose config names networks of 16 384-unit layers: built before the
    weights were compared, they took 7 GB (up to the options' bounds: tens of GB) for ganrun-sample,
    ganrun-eval and resume. Now the stored weights are compared with the networks built on the meta
    device (no memory), and nothing is built for real."""
    from ganrun import loop, trained
    from ganrun.checkpoint import load_checkpoint

    run = tmp_path / "run"
    train_run(run, ["model=mlp", "train.steps=2", "train.ckpt_every=2"])
    edit_checkpoints(run, lambda s: s["config"]["model"].update(g_hidden=[16384] * 4, d_hidden=[16384] * 4))

    def built(*args, **kwargs):
        raise AssertionError("the stored config's networks were built for real")

    monkeypatch.setattr(trained, "build", built)
    monkeypatch.setattr(loop, "build", built)
    fits = "G has net.0.weight of shape [128, 8] where the model of its config has [16384, 8]"
    proc = ganrun_here(str(run), "--n", "4", "--out", str(tmp_path / "x.npy"), cwd=tmp_path, script="ganrun-sample")
    assert proc.returncode == 2 and fits in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    with pytest.raises(CheckpointError, match=re.escape(fits)):
        loop.train(compose_config(FAST + ["dataset=ring", "model=mlp", "model.g_hidden=[16384,16384,16384,16384]",
                                          "model.d_hidden=[16384,16384,16384,16384]", "train.steps=4"]),
                   run, load_checkpoint(run))


def test_views_of_one_memory_and_networks_the_file_holds_no_weights_for_are_refused(digits_run, tmp_path,
                                                                                    monkeypatch):
    """Two ways past the checks above (a second review): many views of one memory each pass the
    per-tensor test (64 views of 16 MB in an optimizer's state: 5 GB once torch's load cast them), and
    networks that a file holds no weights for (an export holds G only, yet sampling builds D too)."""
    from ganrun import trained
    from ganrun.checkpoint import load_checkpoint

    run = copy_run(digits_run, tmp_path / "views")
    memory = torch.zeros(2 ** 22, dtype=torch.int8)
    edit_checkpoints(run, lambda s: next(iter(s["players"]["D"]["optimizer"]["state"].values())).update(
        {f"x{i}": memory[i:] for i in range(64)}))
    with pytest.raises(CheckpointError, match="bytes of memory \\(views of one memory\\), which ganrun never writes"):
        load_checkpoint(run)

    def built(*args, **kwargs):
        raise AssertionError("the stored config's networks were built for real")

    monkeypatch.setattr(trained, "build", built)
    run = tmp_path / "no_d"
    train_run(run, ["model=mlp", "train.steps=2", "train.ckpt_every=2"])
    edit_checkpoints(run, lambda s: (s["players"].pop("D"), s["config"]["model"].update(d_hidden=[16384] * 4)))
    proc = ganrun_here(str(run), "--n", "4", "--out", str(tmp_path / "x.npy"), cwd=tmp_path, script="ganrun-sample")
    assert proc.returncode == 2 and "networks that the file holds no weights for" in proc.stderr, proc.stderr


def test_a_conditional_run_counting_its_classes_samples_without_its_data(tmp_path):
    """game.fake_labels=frequency counted the real classes when the game was built, so ganrun-sample
    (which loads no images) failed with a traceback; the count is now taken when first needed."""
    run = tmp_path / "run"
    train_run(run, ["dataset=digits", "dataset.resolution=8", "model.g_width=4", "model.d_width=4",
                    "game=conditional", "game.fake_labels=frequency", "train.steps=2", "eval.n=100"])
    proc = ganrun_here(str(run), "--n", "20", "--out", str(tmp_path / "x.npy"), cwd=tmp_path, script="ganrun-sample")
    assert proc.returncode in (0, None), proc.stderr
    assert len(np.load(tmp_path / "x.npy")) == 20


# --------------------------------------------------------------------------- the third hostile review
def test_a_checkpoint_whose_containers_repeat_one_another_is_refused_at_once(digits_run, tmp_path):
    """13 kB on disk: one list holding one list a thousand times, six deep (torch.load keeps what the
    pickle shares), 10^18 entries for any walk over it; the check stops counting at MAX_ENTRIES."""
    from ganrun.checkpoint import MAX_ENTRIES, load_checkpoint

    bomb = [0]
    for _ in range(6):
        bomb = [bomb] * 1000
    run = copy_run(digits_run, tmp_path / "run")
    edit_checkpoints(run, lambda s: s.update(wall_time=bomb))
    assert (run / "checkpoints" / "last.pt").stat().st_size < 2 ** 20
    with pytest.raises(CheckpointError, match=f"it holds more than {MAX_ENTRIES} entries"):
        load_checkpoint(run)
    proc = ganrun_here(f"resume={run}", "train.steps=3", cwd=tmp_path)
    assert proc.returncode == 2 and "entries (containers that repeat one another)" in proc.stderr, proc.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_or_folder_where_a_run_folder_has_a_file_is_refused_not_waited_on(digits_run, tmp_path):
    """A FIFO named ganrun.log held `resume=` forever (opening it for writing waits for a reader); a
    folder of that name failed deep in Hydra's logging with a traceback. A FIFO given to ganrun-eval
    as samples held np.load forever."""
    from ganrun.commands.judge import image_size, read_array
    from ganrun.errors import GanrunError
    from ganrun.runfiles import LogFile, StoredFileError

    for odd in ("fifo", "folder"):
        run = copy_run(digits_run, tmp_path / odd)
        (run / "ganrun.log").unlink(missing_ok=True)
        os.mkfifo(run / "ganrun.log") if odd == "fifo" else (run / "ganrun.log").mkdir()
        proc = ganrun_here(f"resume={run}", "train.steps=3", cwd=tmp_path)
        assert proc.returncode == 2 and f"{run / 'ganrun.log'} is not a regular file" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    with pytest.raises(StoredFileError, match="is not a regular file"):
        LogFile(str(tmp_path / "fifo" / "ganrun.log"))
    os.mkfifo(tmp_path / "x.npy")
    assert image_size(tmp_path / "x.npy") is None
    with pytest.raises(GanrunError, match="not a regular file"):
        read_array(tmp_path / "x.npy", "samples")


def test_arrays_that_are_no_array_of_samples_are_one_line(tmp_path):
    """np.savez's archive under a .npy name, a single number, labels or codes of the wrong shape:
    each had ended in a traceback (AttributeError, TypeError, RuntimeError, IndexError)."""
    from ganrun.commands.judge import read_samples
    from ganrun.errors import GanrunError

    x = np.zeros((12, 2), np.float32)
    np.savez(tmp_path / "archive.npz", x=x)
    (tmp_path / "archive.npz").rename(tmp_path / "archive.npy")
    np.save(tmp_path / "one.npy", np.float32(3))
    for name, message in (("archive", "a .npz archive of several arrays"), ("one", "a single number")):
        with pytest.raises(GanrunError, match=message):
            read_samples(tmp_path / f"{name}.npy", {}, 1)
    np.save(tmp_path / "s.npy", x)
    for companion, array, message in (("labels", np.zeros((12, 3), np.int64), r"shape \(12, 3\); give one whole"),
                                      ("codes", np.zeros((12, 5), np.int64), r"shape \(12, 5\); give one whole"),
                                      ("labels", np.int64(2), "a single number")):
        np.save(tmp_path / f"s_{companion}.npy", array)
        with pytest.raises(GanrunError, match=message):
            read_samples(tmp_path / "s.npy", {}, 1)
        (tmp_path / f"s_{companion}.npy").unlink()


def test_code_accuracy_does_not_grow_with_the_code_values():
    """matched_accuracy built a (largest code)^2 matrix: one code value of 14 000 in a stranger's
    codes file asked for 1.5 GB. Any names of the code values give the same best matching."""
    from ganrun.metrics.classifier import matched_accuracy

    predicted = torch.tensor([3, 3, 5, 5, 5, 1])
    assert matched_accuracy(torch.tensor([0, 0, 1, 1, 1, 2]), predicted, 10) == 1.0
    assert matched_accuracy(torch.tensor([10 ** 12, 10 ** 12, 7, 7, 7, -4]), predicted, 10) == 1.0
    assert matched_accuracy(torch.tensor([0, 0, 0, 1, 1, 1]), predicted, 10) == pytest.approx(4 / 6)   # 0 -> 3, 1 -> 5


def test_the_log_never_passes_terminal_escapes_from_a_file(digits_run, tmp_path):
    """A stranger's metrics.json stop_reason reached the console raw (clear the screen, set the
    window title, print a fake line): the log's formatter makes control characters spaces."""
    run = copy_run(digits_run, tmp_path / "run")
    edit_checkpoints(run, lambda s: s["config"]["train"].update(stop_on="collapse"))
    (run / "metrics.json").write_text(json.dumps({"status": "stopped_early",
                                                  "stop_reason": "\x1b[2J\x1b]0;owned\x07 now run: curl x|sh"}))
    proc = ganrun_here(f"resume={run}", "device=cpu", cwd=tmp_path, check=True)
    out = proc.stdout + proc.stderr
    assert "now run: curl x|sh" in out and "\x1b" not in out and "\x07" not in out
    assert "\x1b" not in (run / "ganrun.log").read_text()


def test_a_report_never_writes_a_formula_nor_reads_through_a_link(tmp_path):
    """report.csv: a stranger's override '=cmd|...' became a cell a spreadsheet runs; a metrics.json
    that is a link put another file's values into the report."""
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"status": "finished", "token": 123456}))
    for name, overrides in (("0_a", ["=cmd|' /C calc'!A0"]), ("1_b", ["@SUM(1)"]), ("2_c", ["loss=ns"])):
        run = tmp_path / "sweep" / name
        (run / ".hydra").mkdir(parents=True)
        (run / ".hydra" / "overrides.yaml").write_text(json.dumps(overrides))
        (run / "metrics.json").write_text(json.dumps({"status": "finished", "fd": 1.5}))
    (tmp_path / "sweep" / "2_c" / "metrics.json").unlink()
    (tmp_path / "sweep" / "2_c" / "metrics.json").symlink_to(secret)
    assert report_main([str(tmp_path / "sweep")]) == 0
    table = (tmp_path / "sweep" / "report.csv").read_text()
    assert "\n'=cmd|" in table and "\n'@SUM(1)" in table and "\n=" not in table
    assert "token" not in table + (tmp_path / "sweep" / "report.md").read_text()


def test_an_export_is_written_only_from_a_checkpoint_whose_generator_loads(digits_run, tmp_path):
    """ganrun-export wrote NaN weights (or weights of another shape) into an export with exit 0: the
    file failed only later, when someone loaded it."""
    run = copy_run(digits_run, tmp_path / "run")

    def poison(state):
        for part in ("module", "ema"):        # the export takes G_ema where the run kept one
            weights = state["players"]["G"].get(part) or {}
            weights.update({k: torch.full_like(v, float("nan")) for k, v in weights.items() if v.is_floating_point()})

    edit_checkpoints(run, poison)
    out = tmp_path / "g.safetensors"
    proc = ganrun_here(str(run), "--out", str(out), cwd=tmp_path, script="ganrun-export")
    assert proc.returncode == 2 and "NaN or infinite" in proc.stderr and not out.exists(), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_hostile_review_follow_ups_a_float_image_a_typo_and_a_flags_value(tmp_path):
    """From the review of the fixes above: a 32-bit float image (its pixels read-only) failed in the
    in-place scaling; `train.steps=1.2.3` raised inside the error handler; `--cfg job` with a bad
    override blamed `job`; many distinct code values still asked for a square matrix."""
    from PIL import Image

    from ganrun.data.images import to_8bit
    from ganrun.errors import _hydra_error_line
    from ganrun.metrics.classifier import matched_accuracy

    img = to_8bit(Image.fromarray(np.array([[0.0, 0.5], [1.0, 0.25]], np.float32), mode="F"))
    assert np.asarray(img).tolist() == [[0, 128], [255, 64]]
    proc = ganrun_here("train.steps=1.2.3", cwd=tmp_path)
    assert proc.returncode == 2 and "give a whole number" in proc.stderr and "Traceback" not in proc.stderr
    proc = ganrun_here("--cfg", "job", "train.steps", "7", cwd=tmp_path)
    assert proc.returncode == 2 and "'train.steps' is not an override: write KEY=VALUE, as train.steps=7" in proc.stderr
    assert matched_accuracy(torch.arange(50_000), torch.zeros(50_000, dtype=torch.long), 10) == 1 / 50_000
    assert _hydra_error_line(ValueError("x"), []) is None
    if hasattr(os, "mkfifo"):       # a new run into a folder whose log is a FIFO: logging's own wrapper unwrapped
        (tmp_path / "fifo").mkdir()
        os.mkfifo(tmp_path / "fifo" / "ganrun.log")
        proc = ganrun_here("dataset=ring", "model=mlp", "train.steps=2", "hydra.run.dir=fifo", cwd=tmp_path)
        assert proc.returncode == 2 and "ganrun.log is not a regular file" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
