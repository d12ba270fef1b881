"""Issue 11's attacks, each reproduced first: stop signals at every block of a step, full disks and
denied permissions on every kind of file ganrun writes, sweeps with a bad job or a stop, resume=auto
across sweeps, odd values, odd files and odd folders. Each ends in one clear line and loses nothing."""

from __future__ import annotations

import errno
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganrun.loop as train_module
from conftest import BIN, FAST, compose_config, ganrun, ganrun_here, train_run, make_data
from ganrun.checkpoint import _Sink, load_checkpoint
from ganrun.errors import CheckpointError, DataError, GanrunError, Stopped, entry_point
from ganrun.loop import train

RING = FAST + ["dataset=ring", "train.steps=12", "train.log_every=4", "train.sample_every=4",
               "train.ckpt_every=5", "eval.every=4"]


# --------------------------------------------------------------------------- stop signals
def signal_inside(monkeypatch, name: str, at_step: int) -> None:
    """Send SIGTERM to this process from inside one block of the loop, at `at_step`."""
    sent = []

    def wrap(original):
        def inner(*args, **kwargs):
            step = next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), None)
            if step == at_step and not sent:       # once: a second signal means "exit at once"
                sent.append(1)
                os.kill(os.getpid(), signal.SIGTERM)
            return original(*args, **kwargs)
        return inner

    if name == "log":
        original = train_module.RunningMeans.pop
        calls = []

        def pop(self):
            calls.append(1)
            if len(calls) == at_step // 4:
                os.kill(os.getpid(), signal.SIGTERM)
            return original(self)
        monkeypatch.setattr(train_module.RunningMeans, "pop", pop)
    else:
        owner = train_module if name == "checkpoint" else train_module.Schedules
        target = {"samples": "pictures", "eval": "evaluate", "checkpoint": "save_checkpoint"}[name]
        monkeypatch.setattr(owner, target, wrap(getattr(owner, target)))


@pytest.mark.parametrize("block,step", [("log", 8), ("samples", 8), ("eval", 8), ("checkpoint", 10)])
def test_a_stop_signal_in_any_block_saves_at_that_step_and_names_the_file(block, step, monkeypatch, tmp_path):
    run = tmp_path / "run dir $(touch x)"           # a path a shell must not split or run
    signal_inside(monkeypatch, block, step)
    with pytest.raises(Stopped) as e:
        train(compose_config(RING), run)
    saved = run / "checkpoints" / f"step_{step:07d}.pt"
    assert load_checkpoint(saved)["step"] == step, "a checkpoint at the step the signal reached"
    message = str(e.value)
    assert f"stopped by SIGTERM at step {step}; checkpoint saved in {saved}" in message
    resume_command = message.split("Resume with: ")[1]
    assert shlex.split(resume_command) == ["ganrun", f"resume={run}"], "the printed command is shell-safe"
    status = json.loads((run / "metrics.json").read_text())
    assert status["status"] == "stopped" and status["steps"] == step
    assert not (tmp_path / "x").exists()


def test_a_stopped_sweep_records_the_job_as_stopped_writes_its_report_and_exits_cleanly(tmp_path):
    args = ["-m", "seed=0,1", "dataset=ring", "train.steps=400000", "train.log_every=50", "quiet=true",
            "device=cpu", "eval.n=100", "hydra.sweep.dir=sweep"]
    proc = subprocess.Popen([str(BIN / "ganrun"), *args], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not any("step 100 " in log.read_text() for log in (tmp_path / "sweep").glob("0_*/ganrun.log")):
        assert proc.poll() is None and time.time() - t0 < 120, proc.stderr.read() if proc.poll() else "timeout"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "stopped by SIGTERM at step" in err and "resume=auto" in err
    (job,) = (tmp_path / "sweep").glob("*_*")
    assert job.name.startswith("0_"), "the sweep ends: the signal was for all of it"
    status = json.loads((job / "metrics.json").read_text())
    assert status["status"] == "stopped"
    assert f"stopped: {job.name} (SIGTERM)" in (tmp_path / "sweep" / "report.md").read_text()


# --------------------------------------------------------------------------- full disks, permissions
def failing_writes(monkeypatch, error: int, after_bytes: int = 0) -> None:
    """Every file ganrun writes fails with `error` once `after_bytes` were written."""
    written = {"n": 0}
    real = _Sink.write

    def write(self, data):
        written["n"] += len(data)
        if written["n"] > after_bytes:
            try:
                raise OSError(error, os.strerror(error))
            except OSError as e:
                self.error = e
                raise
        return real(self, data)

    monkeypatch.setattr(_Sink, "write", write)


@pytest.mark.parametrize("error,words", [(errno.ENOSPC, "no space left on the device"),
                                         (errno.EACCES, "permission denied")])
def test_a_full_or_locked_disk_while_checkpointing_is_one_line_and_keeps_the_last_checkpoint(
        error, words, monkeypatch, run_dir):
    from ganrun import checkpoint

    real_save, calls = checkpoint.atomic_save, []

    def save(obj, path):
        calls.append(path)
        if len(calls) == 2:           # the second checkpoint: torch's zip writer meets the error
            failing_writes(monkeypatch, error, after_bytes=100)
        return real_save(obj, path)

    monkeypatch.setattr(checkpoint, "atomic_save", save)
    with pytest.raises(CheckpointError) as e:
        train_run(run_dir)
    assert str(e.value) == (f"cannot write checkpoint {run_dir}/checkpoints/step_0000006.pt: {words}; the "
                            f"earlier checkpoints are intact")
    assert load_checkpoint(run_dir)["step"] == 3
    assert not list((run_dir / "checkpoints").glob(".*tmp")), "no temporary file left behind"


@pytest.mark.parametrize("what", ["picture", "metrics", "export", "sample"])
def test_a_full_disk_on_pictures_metrics_and_exports_is_one_line_naming_the_file(what, monkeypatch, tmp_path,
                                                                                 capsys):
    run = tmp_path / "run"
    if what != "picture":
        train_run(run)
    failing_writes(monkeypatch, errno.ENOSPC)
    if what == "picture":
        from ganrun import visualize

        code = entry_point("ganrun", lambda: visualize.save_png(torch.zeros(3, 4, 4, dtype=torch.uint8),
                                                                tmp_path / "p.png"))
        expected = f"no space left on the device: {tmp_path / 'p.png'}"
    elif what == "metrics":
        from ganrun.checkpoint import atomic_write_text

        code = entry_point("ganrun", lambda: atomic_write_text(run / "metrics.json", "{}"))
        expected = f"no space left on the device: {run / 'metrics.json'}"
        assert json.loads((run / "metrics.json").read_text())["status"] == "finished", "the old file is intact"
    elif what == "export":
        from ganrun.commands.export import main as export_main

        code = export_main([str(run), "--out", str(tmp_path / "g.safetensors")])
        expected = f"no space left on the device: {tmp_path / 'g.safetensors'}"
    else:
        from ganrun.commands.sample import main as sample_main

        code = sample_main([str(run), "--n", "4", "--out", str(tmp_path / "s.npy")])
        expected = f"no space left on the device: {tmp_path / 's.npy'}"
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().endswith(expected), err
    assert not list(tmp_path.glob("**/.*.tmp"))


# --------------------------------------------------------------------------- sweeps
def test_one_bad_value_in_a_sweep_fails_that_job_only_and_the_report_lists_it(tmp_path):
    proc = ganrun_here("-m", "optimizer.g.lr=-1,2e-4", "dataset=ring", "train.steps=3", "quiet=true", "device=cpu",
                       "eval.n=100", "hydra.sweep.dir=sweep", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ganrun: error: 1 job(s) of the sweep failed, the others ran; first: 0_"), proc.stderr
    assert last.endswith(": optimizer.g.lr=-1.0 is out of range: it must be > 0"), proc.stderr
    bad_job, good_job = sorted((tmp_path / "sweep").glob("*_*"))
    bad, good = (json.loads((job / "metrics.json").read_text()) for job in (bad_job, good_job))
    assert bad["status"] == "failed" and "optimizer.g.lr=-1.0 is out of range" in bad["error"]
    assert good["status"] == "finished"
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert f"failed: {bad_job.name} (optimizer.g.lr=-1.0 is out of range" in report


def test_resume_auto_in_a_sweep_never_takes_over_another_jobs_finished_run(tmp_path):
    base = ["-m", "dataset=ring", "quiet=true", "device=cpu", "eval.n=100", "resume=auto"]
    ganrun_here(*base, "train.steps=6,9", cwd=tmp_path, check=True)
    runs = {load_checkpoint(j)["step"]: j for j in (tmp_path / "outputs" / "multirun").glob("*/*/*_*")}
    before = (runs[9] / "metrics.json").read_text()
    ganrun_here(*base, "train.steps=6,12", cwd=tmp_path, check=True)
    assert (runs[9] / "metrics.json").read_text() == before, "job 9's run is left alone"
    assert load_checkpoint(runs[9])["step"] == 9
    steps = sorted(load_checkpoint(j)["step"] for j in (tmp_path / "outputs" / "multirun").glob("*/*/*_*"))
    assert steps == [6, 9, 12], "job 6 continued its own run; job 12 started a new one"


# --------------------------------------------------------------------------- odd values
@pytest.mark.parametrize("args,message", [
    (["~train"], "~train: ganrun's config keys and groups cannot be deleted"),
    (["~model"], "~model: ganrun's config keys and groups cannot be deleted"),
    (["train.steps=${nope}"], "train.steps: Interpolation key 'nope' not found"),
    (["eval.seed=99999999999999999999"], "eval.seed=99999999999999999999 is out of range: it must be <= "
                                         "4294967295"),
    ([f"hydra.run.dir=/tmp/{'x' * 300}"], "cannot create the run folder /tmp/xxx"),
])
def test_odd_command_lines_are_one_line(args, message, tmp_path):
    proc = ganrun(*args, "dataset=ring", "device=cpu", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganrun: error: " + message), proc.stderr


def test_a_huge_seed_in_the_tools_is_refused(tmp_path, capsys, run_dir):
    from ganrun.commands.sample import main as sample_main

    train_run(run_dir)
    assert sample_main([str(run_dir), "--n", "4", "--seed", str(2 ** 70), "--out", str(tmp_path / "x.npy")]) == 2
    assert capsys.readouterr().err.strip() == "ganrun-sample: error: --seed 1180591620717411303424 is out of " \
                                              "range: use 0 to 4294967295"


def test_running_out_of_memory_says_what_to_lower(monkeypatch, run_dir, capsys):
    import ganrun.metrics.toy as metrics

    def exhausted(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 900000000000 bytes")

    monkeypatch.setattr(metrics, "mixture_metrics", exhausted)
    with pytest.raises(GanrunError, match=r"^out of memory during evaluation: lower eval.n \(now 200\) or "
                                          r"eval.ref_n$"):
        train_run(run_dir)
    assert entry_point("ganrun", lambda: exhausted()) == 2
    assert capsys.readouterr().err.strip().startswith("ganrun: error: out of memory: lower train.batch_size")


def test_ctrl_c_while_starting_up_is_one_line(tmp_path):
    # (test workers may ignore SIGINT, and children inherit that: give it back its default)
    proc = subprocess.Popen([str(BIN / "ganrun"), "dataset=ring", "device=cpu"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(0.8)                   # importing torch and Hydra, or composing
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err


# --------------------------------------------------------------------------- odd files and folders
def test_16_bit_pngs_are_scaled_not_whitened(tmp_path):
    from ganrun.data.images import load_image

    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    image = load_image(tmp_path / "g16.png", 8, 1)[0].numpy()
    assert np.array_equal(image, np.round(ramp / 65535 * 255).astype(np.uint8))
    assert image.min() == 0 and image.max() < 250


@pytest.mark.parametrize("workers", [0, 1])
def test_strict_stops_a_streamed_folder_at_a_bad_file(workers, monkeypatch, tmp_path):
    import ganrun.data.images as images

    for i in range(8):
        Image.fromarray(np.full((8, 8), 30 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    real = images.load_image

    def load(path, resolution, channels):     # decodes fail for one file that PIL's verify passes
        if path.name == "3.png":
            raise OSError("image file is truncated")
        return real(path, resolution, channels)

    monkeypatch.setattr(images, "load_image", load)
    strict = make_data("folder", root=str(tmp_path), resolution=8, channels=1, strict=True, workers=workers,
                           memory_limit_mb=0)
    assert isinstance(strict, images.StreamedImages)
    with pytest.raises(DataError, match=f"^unreadable image {tmp_path / '3.png'}: image file is truncated"):
        for _ in range(4):
            strict.sample(8)
    lenient = make_data("folder", root=str(tmp_path), resolution=8, channels=1, strict=False, workers=workers,
                            memory_limit_mb=0)
    assert lenient.sample(8).x.shape == (8, 1, 8, 8)


def test_a_folder_without_read_permission_says_so(monkeypatch, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.scandir

    def scandir(path="."):             # as a non-root user sees a chmod 000 folder
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DataError, match=f"cannot read the image folder {locked}: permission denied"):
        make_data("folder", root=str(locked), resolution=8)


def test_stale_temporaries_of_a_killed_write_are_removed_on_resume(tmp_path, run_dir):
    train_run(run_dir, ["train.steps=3", "train.ckpt_every=3"])
    stale = [run_dir / "checkpoints" / ".step_0000006.pt.abc123.tmp", run_dir / ".metrics.json.x1.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    ganrun_here(f"resume={run_dir}", "train.steps=6", "quiet=true", cwd=tmp_path, check=True)
    assert not any(p.exists() for p in stale)
    assert load_checkpoint(run_dir)["step"] == 6


@pytest.mark.parametrize("damage,fragment", [
    (lambda s: s["players"]["G"].update(module=[1, 2, 3]), "G is not a set of named tensors"),
    (lambda s: s.update(step="ten"), "step 'ten' is not a step number"),
    (lambda s: s.update(data_shape=[2, -1]), "data_shape [2, -1] is not a sample shape"),
    (lambda s: s.update(data_kind="video"), "data_kind 'video' is not one of"),
    (lambda s: s["players"]["G"]["module"].update({"net.0.weight": torch.zeros(3)}), "G has net.0.weight of shape [3]"),
    (lambda s: s["players"]["G"].update(optimizer={"param_groups": [1]}), "the optimizer state of G does not fit"),
])
def test_malformed_but_loadable_checkpoints_are_one_line(damage, fragment, tmp_path, run_dir):
    train_run(run_dir)
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    damage(state)
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    for args in ([str(bad), "--n", "4", "--out", str(tmp_path / "x.npy")], None):
        if args is None:
            proc = ganrun_here(f"resume={bad}", "quiet=true", cwd=tmp_path)
        else:
            proc = ganrun_here(*args, cwd=tmp_path, script="ganrun-sample")
        if "optimizer" in fragment and args is not None:
            assert proc.returncode == 0, "sampling needs G only"
            continue
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and fragment in proc.stderr, proc.stderr


def test_a_stored_config_that_does_not_build_names_the_file_not_the_command_line(tmp_path, run_dir):
    """A checkpoint whose config was edited (a DiffAugment op that is not one) is refused in one
    line that says the values came from the file; nothing the file names is run."""
    from ganrun.trained import load_trained

    train_run(run_dir)
    state = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    state["config"]["tricks"]["diffaug"] = "os.system"
    torch.save(state, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match=r"edited.pt: the run's stored config does not build: "
                                              r"tricks.diffaug: unknown augmentation 'os.system'"):
        load_trained(tmp_path / "edited.pt")


def test_a_corrupt_metrics_json_is_named_by_the_report(tmp_path, capsys):
    from ganrun.commands.report import main as report_main

    for name, text in [("good", json.dumps({"steps": 1, "status": "finished", "fd": 1.0})),
                       ("bad", "{not json"), ("list", "[1, 2]")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(text)
    assert report_main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"skipped {tmp_path / 'bad' / 'metrics.json'}: not valid JSON" in out
    assert f"skipped {tmp_path / 'list' / 'metrics.json'}: not a JSON object" in out


def test_resume_from_a_loose_checkpoint_records_the_config_it_really_runs(tmp_path, run_dir):
    train_run(run_dir, ["train.steps=3", "train.ckpt_every=3"])
    loose = tmp_path / "elsewhere.pt"
    loose.write_bytes((run_dir / "checkpoints" / "last.pt").read_bytes())
    ganrun_here(f"resume={loose}", "train.steps=4", "quiet=true", "hydra.run.dir=new", cwd=tmp_path, check=True)
    recorded = (tmp_path / "new" / ".hydra" / "config.yaml").read_text()
    assert "type: ring" in recorded and "type: digits" not in recorded
    assert "steps: 4" in recorded


def remove_the_run_folder_at_step_4(monkeypatch, writer_fails: bool, made_again: bool = False) -> None:
    """Remove the run folder inside step 4's pictures; with `writer_fails`, TensorBoard's writer
    then re-raises its thread's FileNotFoundError at its next add_scalar (as torch's SummaryWriter
    does when its thread failed first)."""
    import shutil

    real = train_module.Schedules.pictures

    def remove_then_draw(self, step):
        real(self, step)
        if step == 4:
            shutil.rmtree(self.run_dir)
            if made_again:              # as a later write (a picture, a checkpoint) would make it
                (self.run_dir / "samples").mkdir(parents=True)
            if writer_fails:
                def failed(*args, **kwargs):
                    raise FileNotFoundError(2, "No such file or directory", str(self.run_dir / "tb"))
                monkeypatch.setattr(self.writer, "add_scalar", failed)

    monkeypatch.setattr(train_module.Schedules, "pictures", remove_then_draw)


def test_a_run_folder_removed_while_training_stops_in_one_line(monkeypatch, tmp_path):
    run = tmp_path / "run"
    remove_the_run_folder_at_step_4(monkeypatch, writer_fails=False)
    # Noticed at step 4 when TensorBoard's writer thread failed first, else at the next schedule (5).
    with pytest.raises(GanrunError, match=f"^the run folder {run} was removed while training; stopped at step [45] "):
        train(compose_config(RING), run)


@pytest.mark.parametrize("made_again", [False, True])
def test_a_writer_failing_because_the_run_folder_was_removed_is_the_same_one_line(made_again, monkeypatch, tmp_path):
    """The race above, made certain: the writer fails at step 4's evaluation; also when a write has
    made a new, empty run folder in between."""
    run = tmp_path / "run"
    remove_the_run_folder_at_step_4(monkeypatch, writer_fails=True, made_again=made_again)
    with pytest.raises(GanrunError, match=f"^the run folder {run} was removed while training; stopped at step 4 "):
        train(compose_config(RING), run)
