"""Beyond one process: the parallel and SLURM launchers, data-parallel training under torchrun,
the seed-averaged Optuna search, and TensorBoard's HPARAMS."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from conftest import BIN, FAST, compose_config, ganrun, ganrun_here
from ganrun import loop as train_module
from ganrun.checkpoint import load_checkpoint
from ganrun.commands.run import share_cores
from ganrun.search import SeedAveraging, TrialFailed
from ganrun.loop import train

TOY = ["dataset=ring", "model=mlp", "train.steps=6", "train.batch_size=16", "quiet=true", "device=cpu",
       "eval.n=200"]


# --------------------------------------------------------------------------- parallel launcher
def test_a_parallel_sweep_runs_jobs_side_by_side_with_shared_cores_and_a_report(tmp_path):
    proc = ganrun("-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "optimizer.g.lr=-1,2e-4",
                  "seed=0,1", *TOY, "hydra.sweep.dir=sweep", cwd=tmp_path, check=False)
    # one bad value fails its jobs only: the others run, the command says so and exits 1
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "2 job(s) of the sweep failed, the others ran" in proc.stderr
    jobs = sorted((tmp_path / "sweep").glob("*_*"))
    status = {j.name: json.loads((j / "metrics.json").read_text())["status"] for j in jobs}
    assert sorted(status.values()) == ["failed", "failed", "finished", "finished"]
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert "| optimizer.g.lr=0.0002 | 2 | 2 |" in report
    cores = len(os.sched_getaffinity(0))
    for job in jobs:
        if status[job.name] == "finished":
            assert (job / "tb").is_dir()
            log = (job / "ganrun.log").read_text()
            assert f"2 job(s) at once on {cores} core(s), {max(1, cores // min(2, cores))} torch thread(s) each" in log


def test_parallel_jobs_split_the_cores_between_them(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    before = torch.get_num_threads()
    try:
        for n_jobs, threads in ((2, 4), (4, 2), (-1, 1), (-3, 1), (16, 1), (3, 2)):
            share_cores(OmegaConf.create({"_target_": "x.JoblibLauncher", "n_jobs": n_jobs}))
            assert torch.get_num_threads() == threads, n_jobs
        torch.set_num_threads(5)
        share_cores(OmegaConf.create({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}))
        assert torch.get_num_threads() == 5, "other launchers leave torch's threads alone"
    finally:
        torch.set_num_threads(before)


def test_a_parallel_sweep_resumes_with_resume_auto_and_reports_every_job(tmp_path):
    sweep = ["-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", "loss=ns,lsgan", *TOY, "resume=auto",
             "train.ckpt_every=3"]
    ganrun(*sweep, "train.steps=3", cwd=tmp_path)
    jobs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/*_*"))
    ganrun(*sweep, "train.steps=6", cwd=tmp_path)
    assert sorted((tmp_path / "outputs" / "multirun").glob("*/*/*_*")) == jobs, "no new job folders"
    assert [load_checkpoint(j)["step"] for j in jobs] == [6, 6]
    second = max((tmp_path / "outputs" / "multirun").glob("*/*"), key=lambda p: p.name)
    report = (second / "report.md").read_text()
    assert "loss=lsgan" in report and "loss=ns" in report, "the report of the second sweep lists the resumed jobs"


# --------------------------------------------------------------------------- SLURM through submitit
def test_a_submitit_local_sweep_runs_and_writes_its_report(tmp_path):
    ganrun("-m", "hydra/launcher=submitit_local", "seed=0,1", *TOY, "hydra.sweep.dir=sweep", cwd=tmp_path)
    jobs = sorted((tmp_path / "sweep").glob("*_*"))
    assert len(jobs) == 2
    assert all(json.loads((j / "metrics.json").read_text())["status"] == "finished" for j in jobs)
    assert "| (defaults) | 2 | 2 |" in (tmp_path / "sweep" / "report.md").read_text()


def test_the_slurm_preset_sets_up_requeueing(tmp_path):
    proc = ganrun("hydra/launcher=slurm", "hydra.launcher.partition=gpu", "--cfg", "hydra", cwd=tmp_path)
    launcher = OmegaConf.create(proc.stdout)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("SlurmLauncher") and launcher["partition"] == "gpu"
    assert launcher["signal_delay_s"] > 0 and launcher["max_num_timeout"] > 0
    for key in ("gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min", "array_parallelism"):
        assert launcher[key] is not None


def test_submitits_preemption_signal_saves_a_checkpoint_then_hands_over_to_submitit(monkeypatch, tmp_path):
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    handed = []

    def submitit_handler(signum, frame):      # what submitit does: requeue the job, then exit
        handed.append(signum)
        raise SystemExit(-1)

    previous = signal.signal(signal.SIGUSR2, submitit_handler)
    original = train_module.Schedules.pictures

    def pictures(self, step):
        if step == 6:
            os.kill(os.getpid(), signal.SIGUSR2)
        return original(self, step)

    monkeypatch.setattr(train_module.Schedules, "pictures", pictures)
    run = tmp_path / "run"
    try:
        with pytest.raises(SystemExit):
            train(compose_config(FAST + ["dataset=ring", "train.steps=12", "train.ckpt_every=5"]), run)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert handed == [signal.SIGUSR2], "submitit's handler ran once, after ganrun's checkpoint"
    assert load_checkpoint(run / "checkpoints" / "step_0000006.pt")["step"] == 6
    assert json.loads((run / "metrics.json").read_text())["status"] == "stopped"


# --------------------------------------------------------------------------- torchrun
def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([str(BIN / "torchrun"), "--standalone", "--nproc_per_node=2", "-m", "ganrun", *args],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def weights(run: Path) -> dict:
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    return {(name, k): v for name, p in state["players"].items() for k, v in p["module"].items()}


def test_two_processes_train_one_run_in_step_rank_0_writes_and_resume_is_exact(tmp_path):
    run = [*TOY, "train.steps=8", "train.ckpt_every=3", "tricks.replay=0.5"]   # the replay buffer is per rank
    torchrun(*run, cwd=tmp_path)
    days = list((tmp_path / "outputs").iterdir())
    assert len(days) == 1 and len(list(days[0].iterdir())) == 1, "one run folder, none per rank"
    whole = next(days[0].iterdir())
    metrics = json.loads((whole / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["ranks_in_step"] is True, "both ranks hold identical weights"
    assert not (whole / ".hydra" / "resumed").exists() and len(list((whole / "tb").iterdir())) == 1
    state = load_checkpoint(whole / "checkpoints" / "last.pt")
    assert len(state["ranks"]) == 1 and "rng" in state["ranks"][0], "rank 1's own state is saved"
    # stopped at step 4 and resumed: the same weights as the uninterrupted run
    torchrun(*run[:-3], "train.steps=4", "train.ckpt_every=3", "tricks.replay=0.5", "hydra.run.dir=half",
             cwd=tmp_path)
    torchrun(f"resume={tmp_path / 'half'}", "train.steps=8", cwd=tmp_path)
    a, b = weights(whole), weights(tmp_path / "half")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # and not the weights of one process
    one = tmp_path / "one"
    ganrun_here(*run, f"hydra.run.dir={one}", cwd=tmp_path, check=True)
    assert not all(torch.equal(a[k], weights(one)[k]) for k in a)


# --------------------------------------------------------------------------- hyperparameter search
def test_a_search_trains_each_trial_on_every_seed_and_optimises_their_mean(tmp_path):
    ganrun_here("-m", "hydra/sweeper=search", "hydra.sweeper.metric=hq", "hydra.sweeper.n_trials=3",
                "hydra.sweeper.seeds=[0,1]", *TOY, "optimizer.d.lr=tag(log, interval(1e-5, 1e-3))",
                "hydra.sweep.dir=sweep", cwd=tmp_path, check=True)
    jobs = sorted((tmp_path / "sweep").glob("[0-9]*_*"), key=lambda p: int(p.name.split("_")[0]))
    assert len(jobs) == 6, "3 trials x 2 seeds, one folder each"
    by_lr: dict[str, list[float]] = {}
    for job in jobs:
        lr = next(o for o in job.name.split(",") if "optimizer.d.lr" in o)
        by_lr.setdefault(lr, []).append(json.loads((job / "metrics.json").read_text())["hq"])
    assert len(by_lr) == 3 and all(len(v) == 2 for v in by_lr.values())
    best = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    means = [sum(v) / 2 for v in by_lr.values()]
    assert best.best_value == pytest.approx(max(means))


def job(status=JobStatus.COMPLETED, value=None) -> JobReturn:
    r = JobReturn()
    r.status, r._return_value = status, value
    return r


def test_a_trial_fails_rather_than_crashes_when_a_seed_has_no_value():
    averaging = SeedAveraging(launcher=None, metric="hq", seeds=[0, 1])
    good = {"status": "finished", "hq": 0.5, "modes": 8}
    assert averaging.trial(["x=1"], [job(value=good), job(value={**good, "hq": 0.7})]).return_value == \
        pytest.approx(0.6)
    for bad, why in ((job(value=None), "did not finish"),
                     (job(value={"status": "diverged", "steps": 3}), "did not finish (diverged)"),
                     (job(value={"status": "finished", "modes": 8}), "no number 'hq' (it has: modes)"),
                     (job(value={**good, "hq": float("nan")}), "hq is nan"),
                     (job(JobStatus.FAILED, RuntimeError("boom")), "RuntimeError: boom")):
        result = averaging.trial(["x=1"], [job(value=good), bad])
        assert result.status == JobStatus.FAILED
        with pytest.raises(TrialFailed, match=re.escape(why)):
            result.return_value


def test_a_search_without_a_metric_or_with_a_seed_override_is_one_line(tmp_path):
    proc = ganrun_here("-m", "hydra/sweeper=search", *TOY, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("ganrun: error: hydra/sweeper=search needs the metric")
    proc = ganrun_here("-m", "hydra/sweeper=search", "hydra.sweeper.metric=hq", "seed=0,1", *TOY, cwd=tmp_path,
                       check=False)
    assert proc.returncode == 2 and "instead of seed=..." in proc.stderr.strip().splitlines()[-1]


# --------------------------------------------------------------------------- TensorBoard HPARAMS
def test_each_run_writes_its_settings_and_final_metrics_to_hparams_once(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run = tmp_path / "run"
    train(compose_config(FAST + ["dataset=ring", "loss=lsgan"]), run)
    assert [p.name for p in (run / "tb").iterdir() if p.is_dir()] == [], "no timestamped sub-run"
    ea = EventAccumulator(str(run / "tb"))
    ea.Reload()
    content = ea.PluginTagToContent("hparams")
    assert sorted(content) == ["_hparams_/experiment", "_hparams_/session_end_info", "_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["loss.type"].string_value == "lsgan"
    assert start.hparams["train.steps"].number_value == 6
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {"metrics/modes", "metrics/hq"} <= {m.name.tag for m in experiment.metric_infos}
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    events = [e for f in (run / "tb").iterdir() for e in EventFileLoader(str(f)).Load()]
    starts = [v for e in events for v in e.summary.value if v.tag == "_hparams_/session_start_info"]
    assert len(starts) == 1, "written once, at the end of the run"
