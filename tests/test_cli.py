"""The `ganrun` command as a user runs it: from any folder, installed from a wheel, in sweeps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BIN, REPO, ganrun, ganrun_here, scalar_and_image_tags

TINY = ["train.steps=4", "train.batch_size=8", "train.log_every=2", "train.sample_every=4",
        "train.ckpt_every=4", "device=cpu", "dataset=ring"]


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory) -> Path:
    """ganrun built as a wheel and installed (no deps) into a folder of its own."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(root / "dist"), str(REPO)], check=True, capture_output=True)
    wheel = next((root / "dist").glob("ganrun-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(root / "site"), str(wheel)], check=True, capture_output=True)
    return root / "site"


def test_installed_wheel_prints_the_job_config_from_any_folder(wheel_install, tmp_path):
    env = {"PYTHONPATH": str(wheel_install)}
    where = subprocess.run([sys.executable, "-c", "import ganrun; print(ganrun.__file__)"],
                           env=env, capture_output=True, text=True, cwd=tmp_path, check=True)
    assert where.stdout.strip().startswith(str(wheel_install)), "the wheel's copy is the one used"
    assert (wheel_install / "ganrun" / "conf" / "config.yaml").is_file()
    proc = subprocess.run([str(wheel_install / "bin" / "ganrun"), "--cfg", "job", "dataset=grid",
                           "loss=mm"], env={**env, "PATH": f"{BIN}:/usr/bin:/bin"},
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "type: grid" in proc.stdout and "type: mm" in proc.stdout
    assert "_target_" not in proc.stdout
    assert not (tmp_path / "outputs").exists(), "--cfg job only prints"


def test_ganrun_trains_from_another_folder_into_its_outputs(tmp_path):
    proc = ganrun(*[a for a in TINY if a != "dataset=ring"], "dataset=sine", cwd=tmp_path)
    runs = list((tmp_path / "outputs").glob("*/*"))
    assert len(runs) == 1, runs
    run = runs[0]
    assert (run / ".hydra" / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.pt").is_file()
    assert json.loads((run / "metrics.json").read_text())["steps"] == 4
    assert "step 4" in (run / "ganrun.log").read_text(), "step lines go to the run's log file"
    assert "step 4 " not in proc.stdout, "and not to the console"


def test_two_runs_started_together_get_their_own_folders(tmp_path):
    """Started at the same moment (same second), they must never share a run folder."""
    procs = [subprocess.Popen([str(BIN / "ganrun"), *TINY, "train.steps=1", "quiet=true"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    runs = sorted((tmp_path / "outputs").glob("*/*"))
    assert len(runs) == 2 and runs[0] != runs[1]
    assert all(len(r.name.split("-")[-1]) == 6 for r in runs), "HH-MM-SS-microseconds"
    assert all((r / "metrics.json").is_file() for r in runs)


def test_multirun_makes_one_folder_per_job_and_tensorboard_sees_each(tmp_path):
    ganrun("-m", "loss=ns,mm", *TINY, "quiet=true", cwd=tmp_path)
    assert len(list((tmp_path / "outputs" / "multirun").glob("*/*/multirun.yaml"))) == 1
    jobs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/*_*"))
    assert len(jobs) == 2
    assert jobs[0].name.startswith("0_") and "loss=ns" in jobs[0].name.split(",")
    assert jobs[1].name.startswith("1_") and "loss=mm" in jobs[1].name.split(",")
    for job in jobs:
        scalar_tags, _ = scalar_and_image_tags(job / "tb")
        assert {"loss/D", "loss/G"} <= scalar_tags
        assert (job / "metrics.json").is_file()
    # the sweep ends in a comparison table, one row per setting
    table = (jobs[0].parent / "report.md").read_text()
    assert "| loss=mm | 1 | 1 |" in table and "| loss=ns | 1 | 1 |" in table


@pytest.mark.parametrize("args,message", [
    (["train.batch_size=0"], "ganrun: error: train.batch_size=0 is out of range: it must be >= 1"),
    (["optimizer.d.lr=-1"], "ganrun: error: optimizer.d.lr=-1.0 is out of range: it must be > 0"),
])
def test_bad_values_fail_with_a_clear_message_and_no_traceback(tmp_path, args, message):
    proc = ganrun(*args, "device=cpu", cwd=tmp_path, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in out, out
    assert "Traceback" not in out


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """An empty folder, and one holding a good PNG and an unreadable file."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("folders")
    (root / "empty").mkdir()
    (root / "bad").mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(root / "bad" / f"ok{i}.png")
    (root / "bad" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


@pytest.mark.parametrize("args,message", [
    (["train.n_critic=0"], "ganrun: error: train.n_critic=0 is out of range: it must be >= 1"),
    (["dataset.resolution=48"], "ganrun: error: model=dcgan supports resolutions 8, 16, 32, 64, 128 and 256, "
                             "not 48: set dataset.resolution to one of them"),
    (["dataset=folder"], "ganrun: error: dataset.root is required but not set: add dataset.root=... to the "
                         "command line"),
    (["dataset=folder", "dataset.root={root}/missing"], "ganrun: error: dataset=folder: image folder "
                                                     "{root}/missing does not exist. Set dataset.root=PATH"),
    (["dataset=folder", "dataset.root={root}/empty"], "ganrun: error: dataset=folder: no image files"),
    (["dataset=folder", "dataset.root={root}/bad", "dataset.strict=true"],
     "ganrun: error: unreadable image {root}/bad/broken.png"),
    (["dataset=ring", "loss=hinge", "tricks.label_smoothing=0.1"],
     "ganrun: error: tricks.label_smoothing changes D's real/fake targets"),
    (["dataset=folder", "dataset.root={root}/bad/ok0.png"],
     "ganrun: error: dataset=folder: image folder {root}/bad/ok0.png is a file, not a folder"),
    (["dataset=folder", "dataset.root={root}/bad", "dataset.channels=2"],
     "ganrun: error: dataset.channels=2 is out of range: it must be one of 1, 3"),
    (["optimizer.g.betas=[0.5]"], "ganrun: error: optimizer.g.betas=[0.5] needs exactly 2 values"),
    (["train.lr_hold_steps=500"], "ganrun: error: train.lr_hold_steps=500 shapes train.lr_schedule=hold_linear "
                                  "only, and this run has constant: set train.lr_schedule=hold_linear"),
    (["experiment=cyclegan", "train.lr_schedule=constant"],
     "ganrun: error: train.lr_hold_steps=1500 shapes train.lr_schedule=hold_linear only, and this run has "
     "constant: set train.lr_schedule=hold_linear, or train.lr_hold_steps=0"),
    # Hydra's own errors, made one line: a wrong type, a misspelt key, an unknown option, bad syntax
    (["train.steps=abc"], "ganrun: error: train.steps: Value 'abc' of type 'str' could not be converted "
                          "to Integer; give a whole number"),
    (["quiet=maybe"], "ganrun: error: quiet: Value 'maybe' is not a valid bool (type str); give true or false"),
    (["eval.inception=maybe"], "ganrun: error: eval.inception: Value 'maybe' is not a valid bool (type str); give "
                               "true, false or null"),
    (["train.steps=1e3"], "ganrun: error: train.steps: Value '1000.0' of type 'float' could not be converted to "
                          "Integer; give a whole number: train.steps=1000"),
    (["optimizer.g.betas=0.5"], "ganrun: error: optimizer.g.betas: Invalid value assigned: float is not a "
                                "ListConfig, list or tuple; give a list in brackets: optimizer.g.betas=[0.5,0.999]"),
    (["dataset", "ring"], "ganrun: error: 'dataset' is not an override: write KEY=VALUE, as dataset=ring"),
    (["tricks.diffaug=[color,cutout]"], "ganrun: error: tricks.diffaug: Cannot convert 'list' to string: "
                                        "'['color', 'cutout']'; give one value, not a list"),
    (["device.precision=fp8"], "ganrun: error: device.precision=fp8: no such choice; it must be one of "
                               "fp32, bf16, fp16"),
    (["trian.steps=5"], "ganrun: error: trian.steps: no such key (did you mean train.steps?)"),
    (["dataset=folder", "data.root=x"], "ganrun: error: data.root: no such key (did you mean dataset.root?)"),
    (["train.stpes=5"], "ganrun: error: train.stpes: no such key (did you mean train.steps?)"),
    (["+train.stpes=5"], "ganrun: error: train.stpes: no such key (did you mean train.steps?)"),
    (["-m", "seed=0,1", "--cfg", "job"], "ganrun: error: --cfg prints a config and runs nothing, -m runs a sweep"),
    (["optimizer.d.momentum=0.9"], "ganrun: error: optimizer.d.momentum: no such key (optimizer.d has lr, "
                                   "betas, eps, weight_decay, fused)"),
    (["loss=nss"], "ganrun: error: loss=nss: no such option (did you mean ns?); choose one of began, "
                   "dragan, hinge"),
    (["-m", "loss=ns,nss"], "ganrun: error: loss=nss: no such option"),
    # the beginning of several options names them all, not the closest spelling (acgan)
    (["experiment=pacgan"], "ganrun: error: experiment=pacgan: no such option (did you mean pacgan_grid, "
                            "pacgan_ring or pacgan_stacked?)"),
    (["train.steps=[1,"], "ganrun: error: cannot read the overrides: no viable alternative at input"),
    # a preset that sets keys of a model the command line replaced
    (["experiment=sagan", "model=dcgan"], "ganrun: error: experiment=sagan sets model.g_spectral, which "
                                          "model=dcgan does not have: leave model= to the preset (drop "
                                          "model=dcgan) or drop experiment=sagan"),
])
def test_user_mistakes_are_one_line_with_the_fix(args, message, folders, tmp_path):
    args = [a.format(root=folders) for a in args]
    proc = ganrun(*args, "device=cpu", "quiet=true", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(root=folders)), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    # a run refused before its first step leaves no run folder behind (the console has its line)
    assert not list(tmp_path.glob("outputs/2*/*")), list(tmp_path.glob("outputs/2*/*"))


def test_a_run_that_fails_after_training_began_keeps_its_folder(tmp_path, monkeypatch):
    """A full disk at the first checkpoint is a user's error too, but the run had trained: its logs stay."""
    import ganrun.loop
    from ganrun.errors import CheckpointError

    def full_disk(*args, **kwargs):
        raise CheckpointError("cannot write checkpoint step_0000003.pt: [Errno 28] No space left on device")

    monkeypatch.setattr(ganrun.loop, "save_checkpoint", full_disk)
    proc = ganrun_here("dataset=ring", "model=mlp", "train.steps=6", "train.ckpt_every=3", "train.log_every=1",
                       "eval.n=100", "hydra.run.dir=run", "device=cpu", "quiet=true", cwd=tmp_path)
    assert proc.returncode == 2 and "No space left on device" in proc.stderr
    assert (tmp_path / "run" / "ganrun.log").is_file() and any((tmp_path / "run" / "tb").iterdir())


def test_version_names_ganrun(tmp_path):
    import ganrun as package

    proc = ganrun_here("--version", cwd=tmp_path, check=True)
    assert proc.stdout.startswith(f"ganrun {package.__version__} (Hydra 1."), proc.stdout


def test_a_refused_run_keeps_a_folder_that_holds_other_files(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    proc = ganrun_here("tricks.pack=0", "hydra.run.dir=mine", "device=cpu", cwd=tmp_path)
    assert proc.returncode == 2 and "tricks.pack=0 is out of range" in proc.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine" and (tmp_path / "mine" / "ganrun.log").is_file()
    proc = ganrun_here("tricks.pack=0", "hydra.run.dir=new/run", "device=cpu", cwd=tmp_path)
    assert proc.returncode == 2 and not (tmp_path / "new" / "run").exists() and (tmp_path / "new").is_dir()


def test_a_reader_that_leaves_early_is_no_error(tmp_path):
    """`ganrun --help | head`: stdout is a pipe nobody reads any more. Nothing on stderr, no
    traceback: the shell's status for a process stopped by SIGPIPE (141)."""
    import os

    read, write = os.pipe()
    os.close(read)                  # the reader is gone before ganrun writes its first line
    try:
        done = subprocess.run([str(BIN / "ganrun"), "--help"], stdout=write, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path, timeout=120)
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == 141
