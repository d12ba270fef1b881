"""Runs die; ganrun loses nothing: exact resume, signals, non-finite values, corrupt or unsafe
checkpoints, full disks."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from conftest import BIN, FAST, compose_config, ganrun, ganrun_here, scalars, train_run, make_data
from ganrun.checkpoint import list_checkpoints, load_checkpoint
from ganrun.errors import CheckpointError, Diverged
from ganrun.loop import train

# A ring run whose checkpoint (every 300 steps) does not fall on a logging step (every 70), with the
# tricks that carry state: G_ema, the replay buffer, instance noise, noisy labels, an LR schedule.
STATEFUL = ["dataset=ring", "train.steps=600", "train.ckpt_every=300", "train.log_every=70",
            "train.sample_every=300", "quiet=true", "device=cpu", "eval.n=200", "tricks.ema=0.9",
            "tricks.replay=0.5", "tricks.replay_size=256", "tricks.instance_noise=0.1",
            "tricks.noisy_labels=true", "train.lr_schedule=linear"]


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "ganrun"), *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.time()
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before the test could stop it:\n{proc.stderr.read()}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out")
        time.sleep(0.01)


def logged_past(run: Path, step: int):
    def check() -> bool:
        log = run / "ganrun.log"
        return log.is_file() and f"step {step} " in log.read_text()
    return check


def same_weights(a: Path, b: Path) -> None:
    sa, sb = load_checkpoint(a), load_checkpoint(b)
    assert sa["step"] == sb["step"]
    for player, part in (("G", "module"), ("D", "module"), ("G", "ema")):
        wa, wb = sa["players"][player][part], sb["players"][player][part]
        if wa is None:                                  # no G_ema kept
            assert wb is None
            continue
        assert wa.keys() == wb.keys()
        assert all(torch.equal(wa[k], wb[k]) for k in wa), f"{player} {part} differs"


def same_logs(a: Path, b: Path) -> None:
    for tag in ("loss/D", "loss/G", "D/real", "D/fake"):
        assert scalars(a / "tb", tag) == scalars(b / "tb", tag), tag


# --------------------------------------------------------------------------- exact resume
@pytest.mark.parametrize("extra", [[], ["loss=began", "tricks.noisy_labels=false"]])
def test_kill_9_then_resume_is_bit_identical_to_a_straight_run(extra, tmp_path):
    args = STATEFUL + extra
    train(compose_config(args), tmp_path / "straight")      # the reference, in-process: same code
    killed = tmp_path / "killed"
    proc = start([*args, "hydra.run.dir=killed"], tmp_path)
    wait_for(logged_past(killed, 350), proc)            # well past the step-300 checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [p.name for p in list_checkpoints(killed / "checkpoints")] == ["step_0000300.pt"]
    ganrun_here(f"resume={killed}", "quiet=true", cwd=tmp_path, check=True)
    same_weights(tmp_path / "straight", killed)
    same_logs(tmp_path / "straight", killed)            # TensorBoard: one unbroken curve
    if extra:
        assert load_checkpoint(killed)["state"]["loss"]["k"] == load_checkpoint(tmp_path / "straight")["state"]["loss"]["k"]


def test_sigterm_saves_a_checkpoint_says_how_to_resume_and_resumes_exactly(tmp_path):
    train(compose_config(STATEFUL), tmp_path / "straight")
    run = tmp_path / "stopped"
    proc = start([*STATEFUL, "hydra.run.dir=stopped"], tmp_path)
    wait_for(logged_past(run, 140), proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    stopped_at = load_checkpoint(run)["step"]
    assert 140 <= stopped_at < 600
    assert f"stopped by SIGTERM at step {stopped_at}; checkpoint saved in" in err
    assert f"Resume with: ganrun resume={run}" in err
    assert "Traceback" not in err
    ganrun_here(f"resume={run}", cwd=tmp_path, check=True)
    same_weights(tmp_path / "straight", run)
    same_logs(tmp_path / "straight", run)


def test_a_second_ctrl_c_exits_at_once(tmp_path):
    slow = ["dataset=ring", "model.g_hidden=[1024,1024]", "model.d_hidden=[1024,1024]",
            "train.batch_size=8192", "train.steps=500", "quiet=true", "device=cpu", "hydra.run.dir=run"]
    proc = start(slow, tmp_path)
    wait_for(lambda: (tmp_path / "run" / "ganrun.log").is_file() and "training mlp" in
             (tmp_path / "run" / "ganrun.log").read_text(), proc)
    proc.send_signal(signal.SIGINT)
    wait_for(lambda: "saving a checkpoint at the end of this step" in (tmp_path / "run" / "ganrun.log").read_text(),
             proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT
    assert "second SIGINT: exiting now, without a checkpoint" in err


def test_resume_auto_continues_the_matching_run_or_starts_a_new_one(tmp_path):
    base = ["dataset=ring", "train.steps=20", "train.ckpt_every=10", "quiet=true", "device=cpu",
            "eval.n=100", "resume=auto"]
    ganrun_here(*base, cwd=tmp_path, check=True)
    (first,) = (tmp_path / "outputs").glob("*/*")
    # the same command with more steps continues that run, in place
    proc = ganrun_here(*[a for a in base if not a.startswith("train.steps")], "train.steps=30", cwd=tmp_path, check=True)
    assert len(list((tmp_path / "outputs").glob("*/*"))) == 1
    assert load_checkpoint(first)["step"] == 30
    assert "from step 20" in (first / "ganrun.log").read_text()
    # a finished run resumed again has nothing to do
    proc = ganrun_here(*[a for a in base if not a.startswith("train.steps")], "train.steps=30", cwd=tmp_path, check=True)
    assert "already finished at step 30" in proc.stdout
    # a different experiment is a new run
    ganrun_here(*base, "seed=5", "train.steps=1", cwd=tmp_path, check=True)
    assert len(list((tmp_path / "outputs").glob("*/*"))) == 2


def test_a_resumed_sweep_continues_each_job_in_its_own_folder(tmp_path):
    sweep = ["-m", "loss=ns,lsgan", "dataset=ring", "train.ckpt_every=5", "quiet=true", "device=cpu",
             "eval.n=100", "resume=auto"]
    ganrun_here(*sweep, "train.steps=5", cwd=tmp_path, check=True)
    jobs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/*_*"))
    assert len(jobs) == 2
    ganrun_here(*sweep, "train.steps=8", cwd=tmp_path, check=True)
    assert sorted((tmp_path / "outputs" / "multirun").glob("*/*/*_*")) == jobs, "no new job folders"
    assert [load_checkpoint(j)["step"] for j in jobs] == [8, 8]


def test_resume_keeps_the_run_config_and_refuses_model_changes(tmp_path):
    run = tmp_path / "run"
    train_run(run, ["train.steps=4"])
    proc = ganrun_here(f"resume={run}", "dataset=ring", "model.g_hidden=[7]", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "ganrun: error: resume: model.g_hidden=[7] differs from the run's [128, 128]" in proc.stderr
    assert "a resumed run keeps its config" in proc.stderr
    proc = ganrun_here(f"resume={run}", "loss=wgan", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "ganrun: error: resume: loss.type='wgan' differs" in proc.stderr
    # with no dataset given, the stored one (ring) is used, not the default (digits)
    ganrun_here(f"resume={run}", "train.steps=7", "quiet=true", cwd=tmp_path, check=True)
    state = load_checkpoint(run)
    assert state["step"] == 7 and state["config"]["dataset"]["name"] == "ring"


def test_resume_path_missing_says_so(tmp_path):
    proc = ganrun(f"resume={tmp_path}/nowhere", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"ganrun: error: resume={tmp_path}/nowhere: no such run folder or checkpoint file"
    assert not (tmp_path / "outputs").exists(), "no run folder for a run that cannot start"


# --------------------------------------------------------------------------- checkpoint files
def test_only_the_last_k_checkpoints_are_kept(run_dir):
    train_run(run_dir, ["train.steps=12", "train.ckpt_every=2", "train.keep_last=2"])
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")] == ["step_0000010.pt", "step_0000012.pt"]
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 12


def test_a_resume_at_an_earlier_checkpoint_prunes_the_branch_it_left_first(tmp_path, run_dir):
    train_run(run_dir, ["train.steps=12", "train.ckpt_every=2", "train.keep_last=2"])
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")] == ["step_0000010.pt", "step_0000012.pt"]
    earlier = run_dir / "checkpoints" / "step_0000010.pt"
    proc = ganrun_here(f"resume={earlier}", "train.steps=11", "train.ckpt_every=1", cwd=tmp_path, check=True)
    assert "checkpoints past step 10 from before this resume (step_0000012.pt)" in proc.stdout, proc.stdout
    # the resumed run's step 11 is kept beside step 10; step 12, of the run before, was pruned first
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")] == ["step_0000010.pt", "step_0000011.pt"]
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 11


def test_a_full_disk_fails_clearly_and_leaves_earlier_checkpoints_intact(run_dir, monkeypatch):
    import errno

    real_save, calls = torch.save, []

    def save(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(CheckpointError) as e:
        train_run(run_dir)
    assert str(e.value) == (f"cannot write checkpoint {run_dir}/checkpoints/step_0000006.pt: no space left "
                            f"on the device; the earlier checkpoints are intact")
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step_0000003.pt", "last.pt"] or \
        sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.pt", "step_0000003.pt"]
    assert load_checkpoint(run_dir)["step"] == 3


def test_an_unwritable_output_folder_is_one_line(tmp_path):
    proc = ganrun("dataset=ring", "hydra.run.dir=/dev/null/run", cwd=tmp_path, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip() == ("ganrun: error: cannot create the run folder /dev/null/run: /dev/null is not "
                                   "a folder; set hydra.run.dir to a writable folder or run ganrun from one")


def test_a_corrupt_checkpoint_names_the_file_and_resume_falls_back(tmp_path, run_dir):
    train_run(run_dir, ["train.steps=6", "train.ckpt_every=3"])
    newest = run_dir / "checkpoints" / "step_0000006.pt"
    newest.write_bytes(newest.read_bytes()[:1000])           # truncated (last.pt is the same file)
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {newest}: it is truncated"):
        load_checkpoint(newest)
    proc = ganrun_here(str(newest), "--n", "4", "--out", "x.png", cwd=tmp_path, script="ganrun-sample", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith(f"ganrun-sample: error: cannot read checkpoint {newest}")
    proc = ganrun_here(f"resume={run_dir}", "quiet=true", cwd=tmp_path, check=True)
    assert "trying an older checkpoint" in proc.stdout + proc.stderr
    assert "from step 3" in (run_dir / "ganrun.log").read_text()
    assert load_checkpoint(run_dir)["step"] == 6


def test_a_crafted_pickle_checkpoint_does_not_run_code(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"                        # torch.save's format, a pickle inside a zip
    torch.save({"G": Payload(), "config": {}}, evil)
    with pytest.raises(CheckpointError, match="pickled Python objects, which ganrun refuses to load"):
        load_checkpoint(evil)
    proc = ganrun_here(str(evil), "--n", "4", "--out", "x.png", cwd=tmp_path, script="ganrun-sample", check=False)
    assert proc.returncode == 2 and "refuses to load" in proc.stderr
    bare = tmp_path / "bare.pt"                        # a bare pickle is not a checkpoint at all
    with open(bare, "wb") as f:
        pickle.dump({"G": Payload(), "config": {}}, f, protocol=2)
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        load_checkpoint(bare)
    assert not marker.exists()


def test_a_file_that_is_not_a_checkpoint_is_named_as_such(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("garbage")
    proc = ganrun_here(str(text), "--n", "4", "--out", "x.png", cwd=tmp_path, script="ganrun-sample", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"ganrun-sample: error: cannot read checkpoint {text}: it is truncated or "
                                   "not a PyTorch checkpoint")


def test_a_checkpoint_from_another_model_is_refused_clearly(tmp_path, run_dir):
    train_run(run_dir)
    state = load_checkpoint(run_dir)
    state["config"]["model"]["g_hidden"] = [64]
    bad = tmp_path / "other.pt"
    torch.save(state, bad)
    proc = ganrun_here(str(bad), "--n", "4", "--out", "x.png", cwd=tmp_path, script="ganrun-sample", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"ganrun-sample: error: {bad}: G has net.0.weight of shape [128, 8] where "
                                  f"the model of its config has [64, 8]; model.latent_dim or model.g_*")


# --------------------------------------------------------------------------- non-finite values
@pytest.fixture
def nan_after(monkeypatch):
    """Real data turns to NaN from the given call of the ring's sampler on (fault injection)."""
    from ganrun.data.toy import GaussianMixture2d

    def arm(call: int):
        real_sample, calls = GaussianMixture2d.sample, []

        def sample(self, n, generator=None):
            batch = real_sample(self, n, generator)
            if generator is None:
                calls.append(1)
                if len(calls) >= call:
                    batch.x = torch.full_like(batch.x, float("nan"))
            return batch

        monkeypatch.setattr(GaussianMixture2d, "sample", sample)
    return arm


def test_a_nan_stops_the_run_naming_the_step_and_term_and_keeps_the_last_good_checkpoint(run_dir, nan_after):
    nan_after(9)                                          # the 9th training batch is NaN
    with pytest.raises(Diverged) as e:
        train_run(run_dir, ["train.steps=20", "train.ckpt_every=4", "train.log_every=4"])
    assert str(e.value).startswith("loss/D is not finite at step 9; stopped (the last good checkpoint is")
    assert "train.nonfinite=skip" in str(e.value)
    assert load_checkpoint(run_dir)["step"] == 8
    assert all(torch.isfinite(v).all() for v in load_checkpoint(run_dir)["players"]["G"]["module"].values())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["diverged_step"] == 9
    assert metrics["diverged_term"] == "loss/D"


def test_nonfinite_skip_skips_and_counts(run_dir, nan_after):
    nan_after(5)                                          # every batch from the 5th on is NaN
    metrics = train_run(run_dir, ["train.steps=8", "train.nonfinite=skip"])
    assert metrics["status"] == "finished" and metrics["skipped"] == 4
    assert scalars(run_dir / "tb", "train/skipped")[-1] == (8, 4.0)
    assert all(torch.isfinite(v).all() for v in load_checkpoint(run_dir)["players"]["D"]["module"].values())


# --------------------------------------------------------------------------- sharing, precision, schedules
def test_export_generator_as_safetensors_and_use_it(tmp_path, run_dir):
    import numpy as np

    train_run(run_dir, ["tricks.ema=0.5"])
    proc = ganrun_here(str(run_dir), "--out", "g.safetensors", cwd=tmp_path, script="ganrun-export", check=True)
    assert "G_ema of" in proc.stdout
    from safetensors.torch import load_file

    weights = load_file(tmp_path / "g.safetensors")
    assert all(torch.equal(weights[k], load_checkpoint(run_dir)["players"]["G"]["ema"][k]) for k in weights)
    from ganrun.commands.sample import main as sample_main

    assert sample_main([str(tmp_path / "g.safetensors"), "--n", "20", "--out", str(tmp_path / "a.npy")]) == 0
    assert sample_main([str(run_dir), "--n", "20", "--out", str(tmp_path / "b.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    from ganrun.commands.evaluate import main as eval_main

    assert eval_main([str(tmp_path / "g.safetensors"), "--out", str(tmp_path / "e.json")]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["modes"] >= 0


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_keeps_its_scalers(precision, run_dir):
    metrics = train_run(run_dir, [f"device.precision={precision}", "loss=wgan_gp"])
    assert metrics["status"] == "finished"
    state = load_checkpoint(run_dir)
    if precision == "fp16":
        assert state["players"]["D"]["scaler"]["scale"] > 0, "the gradient scaler state is in the checkpoint"


def test_linear_lr_schedule_decays_to_zero(run_dir):
    train_run(run_dir, ["train.lr_schedule=linear", "train.steps=6"])
    state = load_checkpoint(run_dir)
    assert state["players"]["G"]["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)
    middle = load_checkpoint(run_dir / "checkpoints" / "step_0000003.pt")
    assert middle["players"]["D"]["optimizer"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * (1 - 3 / 6))


def test_hold_linear_takes_its_hold_from_the_config(run_dir):
    """train.lr_hold_steps reaches both players' schedules: 6 updates held for 2, then lr0 * (6 - s) / 4
    (with the default hold, half the run, step 3 would still have lr0)."""
    train_run(run_dir, ["train.lr_schedule=hold_linear", "train.lr_hold_steps=2", "train.steps=6"])
    middle = load_checkpoint(run_dir / "checkpoints" / "step_0000003.pt")
    for player in ("G", "D"):
        assert middle["players"][player]["optimizer"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * (6 - 3) / 4)
    assert load_checkpoint(run_dir)["players"]["G"]["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("updates", ["alternating", "simultaneous"])
def test_in_process_resume_matches_a_straight_run(updates, tmp_path):
    """The same guarantee as the kill -9 test, with resume through train() directly."""
    overrides = FAST + ["dataset=ring", "train.steps=10", "train.ckpt_every=5", "train.log_every=3",
                        "tricks.replay=0.5", "tricks.ema=0.8", f"train.updates={updates}"]
    train(compose_config(overrides), tmp_path / "straight")
    train(compose_config(overrides + ["train.steps=5"]), tmp_path / "half")
    state = load_checkpoint(tmp_path / "half")
    train(compose_config(overrides), tmp_path / "half", resume_state=state)
    same_weights(tmp_path / "straight", tmp_path / "half")


# --------------------------------------------------------------------------- review findings
def test_restored_state_lands_on_the_training_device_not_the_checkpoints():
    """Checkpoints load onto the CPU; the replay buffer and the running sums must follow the
    training device (here the meta device stands in for a GPU)."""
    from ganrun.tricks import ReplayBuffer
    from ganrun.loop import RunningMeans

    buf = ReplayBuffer(8, 0.5)
    buf.mix(torch.ones(4, 2))
    gpu_like = ReplayBuffer(8, 0.5).to("meta")
    gpu_like.load_state_dict(buf.state_dict())
    assert gpu_like.samples.device.type == "meta" and gpu_like.filled == 4
    means = RunningMeans(torch.device("cpu"))
    means.add({"loss/D": torch.tensor(1.0)})
    moved = RunningMeans(torch.device("meta"))
    moved.load_state_dict(means.state_dict())
    assert moved.window("loss/D").device.type == "meta"


def test_an_exported_generator_cannot_be_resumed(tmp_path, run_dir):
    train_run(run_dir)
    ganrun_here(str(run_dir), "--out", "g.safetensors", cwd=tmp_path, script="ganrun-export", check=True)
    proc = ganrun_here(f"resume={tmp_path}/g.safetensors", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "holds only a generator (an export), not a training state" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_nan_before_a_mid_run_evaluation_is_caught_first(run_dir, nan_after):
    nan_after(3)
    with pytest.raises(Diverged, match="loss/D is not finite at step 3"):
        train_run(run_dir, ["train.steps=20", "train.log_every=10", "train.sample_every=10",
                            "train.ckpt_every=10", "eval.every=3"])


def test_a_run_whose_final_evaluation_was_cut_off_redoes_it_on_resume(tmp_path, run_dir):
    first = train_run(run_dir)
    (run_dir / "metrics.json").unlink()                 # as if killed during the final evaluation
    ganrun_here(f"resume={run_dir}", cwd=tmp_path, check=True)
    again = json.loads((run_dir / "metrics.json").read_text())
    assert again["status"] == "finished"
    for k in ("loss_d", "loss_g", "modes", "hq"):
        assert again[k] == first[k]


def test_resume_auto_in_a_sweep_keeps_jobs_apart_even_over_allowed_keys(tmp_path):
    sweep = ["-m", "train.steps=6,9", "dataset=ring", "quiet=true", "device=cpu", "eval.n=100", "resume=auto"]
    ganrun_here(*sweep, cwd=tmp_path, check=True)
    jobs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/*_*"))
    assert [load_checkpoint(j)["step"] for j in jobs] == [6, 9]
    proc = ganrun_here(*sweep, cwd=tmp_path, check=True)  # resubmitted: each job finds its own run
    assert proc.stdout.count("already finished") == 2
    assert [load_checkpoint(j)["step"] for j in jobs] == [6, 9]


def test_a_streamed_dataset_resumes_exactly(tmp_path):
    import numpy as np
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    overrides = FAST + ["dataset=folder", f"dataset.root={folder}", "dataset.resolution=8", "dataset.channels=1",
                        "dataset.memory_limit_mb=0", "dataset.workers=0", "model=mlp", "train.batch_size=8",
                        "train.ckpt_every=5"]
    train(compose_config(overrides + ["train.steps=10"]), tmp_path / "straight")
    train(compose_config(overrides + ["train.steps=5"]), tmp_path / "half")
    train(compose_config(overrides + ["train.steps=10"]), tmp_path / "half",
          resume_state=load_checkpoint(tmp_path / "half"))
    same_weights(tmp_path / "straight", tmp_path / "half")


def test_streamed_reference_images_are_distinct_files(tmp_path):
    import numpy as np
    from PIL import Image

    for i in range(30):
        Image.fromarray(np.full((8, 8), i * 8, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    data = make_data("folder", root=str(tmp_path), resolution=8, channels=1, workers=0, memory_limit_mb=0)
    ref = data.reference(30).x
    assert len(torch.unique(ref.flatten(1), dim=0)) == 30


def test_experiment_on_an_explicit_resume_is_refused(tmp_path, run_dir):
    train_run(run_dir, ["train.steps=4"])
    proc = ganrun_here(f"resume={run_dir}", "experiment=notes_sine", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "a resumed run keeps its config" in proc.stderr


def test_sub_commands_report_unwritable_outputs_in_one_line(tmp_path, run_dir):
    train_run(run_dir)
    for script, args in [("ganrun-sample", ["--n", "4", "--out", "/dev/null/x.png"]),
                         ("ganrun-eval", ["--out", "/dev/null/x.json"]),
                         ("ganrun-export", ["--out", "/dev/null/x.safetensors"])]:
        proc = ganrun_here(str(run_dir), *args, cwd=tmp_path, script=script, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, script
        assert proc.stderr.startswith(f"{script}: error:") and "/dev/null" in proc.stderr, script


def test_a_mistyped_split_is_refused(tmp_path):
    from ganrun.errors import ConfigError
    from ganrun.builder import build

    with pytest.raises(ConfigError, match="dataset.split=Train: dataset=mnist has the splits train, test"):
        build(compose_config(["dataset=mnist", "dataset.split=Train", f"dataset.root={tmp_path}"]))
