"""A checkpoint, an export or a run folder may come from a stranger: loading one never runs code
that the file names. Each test crafts the attack first, then checks it is refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import ganrun_here, train_run
from ganrun.checkpoint import export_generator, load_checkpoint
from ganrun.commands.evaluate import main as eval_main
from ganrun.commands.sample import main as sample_main


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("trusted") / "run"
    train_run(run, ["train.steps=2", "train.ckpt_every=2"])
    return run


def marker_target(marker: Path) -> dict:
    """A node that, given to hydra.utils.instantiate, creates `marker` (os.makedirs(name=...))."""
    return {"_target_": "os.makedirs", "name": str(marker)}


# (where in the config the payload goes, what replaces that node)
PAYLOADS = {
    "model": lambda m: marker_target(m),
    "loss": lambda m: marker_target(m),
    "data": lambda m: marker_target(m),
    "optimizer.g": lambda m: marker_target(m),
    "loss.type": lambda m: "../../os.makedirs",
}


def crafted_state(trained: Path, where: str, marker: Path) -> dict:
    # the raw file, as a stranger would edit it (load_checkpoint would normalise the config)
    state = torch.load(trained / "checkpoints" / "last.pt", weights_only=True)
    node = state["config"]
    *parents, leaf = where.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = PAYLOADS[where](marker)
    return state


def refused(stderr: str, path: Path) -> bool:
    lines = stderr.strip().splitlines()
    return len(lines) == 1 and "refused" in lines[0] and str(path) in lines[0] and "Traceback" not in stderr


@pytest.mark.parametrize("where", list(PAYLOADS))
def test_a_crafted_checkpoint_is_refused_by_sample_eval_and_resume(where, trained, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save(crafted_state(trained, where, marker), evil)

    assert sample_main([str(evil), "--n", "4", "--out", str(tmp_path / "x.png")]) == 2
    assert refused(capsys.readouterr().err, evil)
    assert eval_main([str(evil), "--out", str(tmp_path / "e.json")]) == 2
    assert refused(capsys.readouterr().err, evil)
    if where == "model":      # resume= is a subprocess: once is enough
        proc = ganrun_here(f"resume={evil}", "quiet=true", cwd=tmp_path, check=False)
        assert proc.returncode == 2 and refused(proc.stderr, evil), proc.stderr
    assert not marker.exists()


def test_a_crafted_export_is_refused(trained, tmp_path, capsys):
    marker = tmp_path / "pwned"
    state = crafted_state(trained, "loss", marker)
    evil = export_generator(state, tmp_path / "evil.safetensors")
    assert sample_main([str(evil), "--n", "4", "--out", str(tmp_path / "x.npy")]) == 2
    assert refused(capsys.readouterr().err, evil)
    assert eval_main([str(evil), "--out", str(tmp_path / "e.json")]) == 2
    assert refused(capsys.readouterr().err, evil)
    proc = ganrun_here(f"resume={evil}", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and refused(proc.stderr, evil), proc.stderr
    assert not marker.exists()


def test_a_crafted_run_folder_is_refused_by_resume_and_resume_auto(trained, tmp_path):
    marker = tmp_path / "pwned"
    run = tmp_path / "outputs" / "2026-01-01" / "00-00-00-000000"
    shutil.copytree(trained, run)
    last = run / "checkpoints" / "last.pt"
    for ckpt in (run / "checkpoints").glob("*.pt"):
        ckpt.unlink()
    torch.save(crafted_state(trained, "model", marker), last)
    config = json.loads((run / "config.json").read_text())
    config["model"] = marker_target(marker)
    (run / "config.json").write_text(json.dumps(config))
    (run / ".hydra").mkdir(exist_ok=True)
    (run / ".hydra" / "config.yaml").write_text(f"model:\n  _target_: os.makedirs\n  name: {marker}\n")

    proc = ganrun_here(f"resume={run}", "quiet=true", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and refused(proc.stderr, last), proc.stderr
    # resume=auto compares stored configs as data: the crafted run matches nothing and a new run starts
    ganrun_here("dataset=ring", "train.steps=2", "quiet=true", "device=cpu", "eval.n=100", "resume=auto",
                cwd=tmp_path, check=True)
    assert len(list((tmp_path / "outputs").glob("*/*"))) == 2
    assert not marker.exists()


def test_stored_interpolations_and_unknown_keys_are_refused(trained, tmp_path):
    from ganrun.config import load_stored_config
    from ganrun.errors import CheckpointError

    good = load_checkpoint(trained)["config"]
    for edit, fragment in [
        (lambda c: c["model"].update(g_hidden="${oc.env:HOME}"), "interpolation at model.g_hidden"),
        (lambda c: c["model"].update(width=3), "model.width does not fit ganrun's model mlp"),
        (lambda c: c["train"].update(hack=1), "hack"),
        (lambda c: c["train"].update(steps=-5), "train.steps=-5 is out of range"),
        (lambda c: c.update(model=[1, 2]), "no model section"),
    ]:
        config = json.loads(json.dumps(good))
        edit(config)
        with pytest.raises(CheckpointError, match="^src: refused: .*" + fragment.replace("$", r"\$")
                           .replace("{", r"\{").replace("}", r"\}")):
            load_stored_config(config, "src")


def test_checkpoints_of_ganrun_0_1_with_its_own_targets_still_load(trained, tmp_path):
    """Files written before options had a `type` named ganrun's own builders in `_target_`, kept
    G, D and their optimizers at the top and called the dataset node `data`; those exact names
    are still understood (and nothing else), and such a run resumes."""
    state = torch.load(trained / "checkpoints" / "last.pt", weights_only=True)
    config = state["config"]
    config["data"] = config.pop("dataset")
    del config["game"]
    for node, target in [(config["model"], "ganrun.models.mlp.build"), (config["loss"], "ganrun.losses.NonSaturating"),
                         (config["data"], "ganrun.data.toy.Ring"), (config["optimizer"]["g"], "torch.optim.Adam"),
                         (config["optimizer"]["d"], "torch.optim.Adam")]:
        del node["type"]
        node["_target_"] = target
    G, D = state["players"]["G"], state["players"]["D"]
    old = {"step": state["step"], "config": config, "data_shape": state["data_shape"], "data_kind": state["data_kind"],
           "wall_s": state["wall_s"], "last_logged": state["last_logged"], "skipped": 0,
           "G": G["module"], "G_ema": None, "D": D["module"], "opt_g": G["optimizer"], "opt_d": D["optimizer"],
           "sched_g": G["scheduler"], "sched_d": D["scheduler"], "scalers": {"g": G["scaler"], "d": D["scaler"]},
           **state["state"]}
    path = tmp_path / "run" / "checkpoints" / "step_0000002.pt"
    path.parent.mkdir(parents=True)
    torch.save(old, path)
    assert load_checkpoint(path)["config"]["model"]["type"] == "mlp"
    assert sample_main([str(path), "--n", "4", "--out", str(tmp_path / "x.npy")]) == 0
    ganrun_here(f"resume={path}", "train.steps=3", "quiet=true", cwd=tmp_path, check=True)
    assert load_checkpoint(tmp_path / "run")["step"] == 3
