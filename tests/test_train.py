"""Short training runs on every toy dataset: TensorBoard tags, checkpoints, metrics, determinism."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import compose_config, ganrun_here, scalar_and_image_tags, scalars, train_run
from ganrun.checkpoint import list_checkpoints, load_checkpoint
from ganrun.builder import build

PICTURE = {"ring": "samples/scatter", "grid": "samples/scatter", "gaussian1d": "samples/density",
           "sine": "samples/curves"}


@pytest.mark.parametrize("dataset", sorted(PICTURE))
def test_a_short_run_writes_tensorboard_checkpoints_and_metrics(dataset, run_dir):
    metrics = train_run(run_dir, [f"dataset={dataset}"])

    scalar_tags, image_tags = scalar_and_image_tags(run_dir / "tb")
    assert {"loss/D", "loss/G", "D/real", "D/fake"} <= scalar_tags
    assert PICTURE[dataset] in image_tags
    # log_every=2 over 6 steps: steps 2, 4, 6
    assert [s for s, _ in scalars(run_dir / "tb", "loss/D")] == [2, 4, 6]
    assert sorted(p.name for p in (run_dir / "samples").glob("*.png")) == [
        "step_0000003.png", "step_0000006.png"]

    assert set(metrics) >= {"steps", "loss_d", "loss_g", "wall_s"}
    assert metrics["steps"] == 6
    assert metrics["loss_d"] == pytest.approx(scalars(run_dir / "tb", "loss/D")[-1][1], rel=1e-5)

    # ckpt_every=3 over 6 steps: checkpoints at 3 and 6, last.pt is the one at 6 and it loads
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")] == [
        "step_0000003.pt", "step_0000006.pt"]
    state = load_checkpoint(run_dir)
    assert state["step"] == 6
    assert state["config"]["dataset"]["name"] == dataset
    exp = build(compose_config(["device=cpu", f"dataset={dataset}"]))
    exp.players["G"].module.load_state_dict(state["players"]["G"]["module"])
    exp.players["D"].module.load_state_dict(state["players"]["D"]["module"])
    exp.players["G"].optimizer.load_state_dict(state["players"]["G"]["optimizer"])
    exp.players["D"].optimizer.load_state_dict(state["players"]["D"]["optimizer"])


def test_checkpoint_holds_both_players_optimizers_step_and_config(run_dir):
    train_run(run_dir)
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert {"players", "state", "step", "config"} <= set(state)
    for name in ("G", "D"):
        assert {"module", "optimizer", "scheduler", "scaler", "ema"} <= set(state["players"][name])
    assert state["players"]["D"]["optimizer"]["state"], "D's optimizer has moments after training"
    assert {"loss", "replay", "data", "means", "rng"} <= set(state["state"])
    assert state["config"]["train"]["steps"] == 6


def test_same_seed_same_numbers_different_seed_different_numbers(tmp_path):
    a = train_run(tmp_path / "a", ["seed=3"])
    b = train_run(tmp_path / "b", ["seed=3"])
    c = train_run(tmp_path / "c", ["seed=4"])
    assert scalars(tmp_path / "a" / "tb", "loss/D") == scalars(tmp_path / "b" / "tb", "loss/D")
    assert scalars(tmp_path / "a" / "tb", "loss/G") == scalars(tmp_path / "b" / "tb", "loss/G")
    assert (a["loss_d"], a["loss_g"]) == (b["loss_d"], b["loss_g"])
    assert (a["loss_d"], a["loss_g"]) != (c["loss_d"], c["loss_g"])
    wa = load_checkpoint(tmp_path / "a")["players"]["G"]["module"]
    wb = load_checkpoint(tmp_path / "b")["players"]["G"]["module"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_logging_frequency_does_not_change_training(tmp_path):
    """Pictures and logs draw from their own RNG: the trained weights do not depend on them."""
    train_run(tmp_path / "a", ["train.sample_every=1", "train.log_every=1"])
    train_run(tmp_path / "b", ["train.sample_every=100", "train.log_every=100"])
    wa, wb = (load_checkpoint(tmp_path / r)["players"]["G"]["module"] for r in "ab")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_n_critic_counts_discriminator_updates(run_dir):
    train_run(run_dir, ["train.n_critic=3", "train.steps=4", "train.log_every=4"])
    state = load_checkpoint(run_dir)
    # Adam keeps a per-parameter step counter: 3 D updates per G update.
    d_steps = next(iter(state["players"]["D"]["optimizer"]["state"].values()))["step"]
    g_steps = next(iter(state["players"]["G"]["optimizer"]["state"].values()))["step"]
    assert (int(d_steps), int(g_steps)) == (12, 4)


def test_g_steps_counts_generator_updates_each_through_the_updated_generator(tmp_path):
    """train.g_steps=2 (DCGAN-tensorflow's G twice per D step): 2 G updates per step, the second on
    G's new samples of the same z."""
    train_run(tmp_path / "two", ["train.g_steps=2", "train.steps=4", "train.log_every=4"])
    state = load_checkpoint(tmp_path / "two")
    d_steps = next(iter(state["players"]["D"]["optimizer"]["state"].values()))["step"]
    g_steps = next(iter(state["players"]["G"]["optimizer"]["state"].values()))["step"]
    assert (int(d_steps), int(g_steps)) == (4, 8)
    # a game whose G phase cannot repeat refuses what it would ignore
    proc = ganrun_here("game=mixgan", "dataset=ring", "train.g_steps=2", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "train.g_steps=2 with game=mixgan: the generators are updated once" in proc.stderr


def test_the_generator_update_does_not_touch_the_discriminator(run_dir, monkeypatch):
    """D sees detached fakes (G gets no gradient from D's loss) and G's update flows
    through a frozen D (D's gradients are not recomputed by G's backward)."""
    from ganrun import loop as train_module

    built = {}
    monkeypatch.setattr(train_module, "build", lambda cfg: built.setdefault("exp", build(cfg)))
    snapshots = []
    real_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        exp = built["exp"]
        snapshots.append({
            "who": "D" if self is exp.players["D"].optimizer else "G",
            "G_grads": [None if p.grad is None else p.grad.clone() for p in exp.players["G"].module.parameters()],
            "D_grads": [p.grad.clone() for p in exp.players["D"].module.parameters()],
            "D_trainable": any(p.requires_grad for p in exp.players["D"].module.parameters()),
        })
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    train_run(run_dir, ["train.steps=1"])
    d_step, g_step = snapshots
    assert (d_step["who"], g_step["who"]) == ("D", "G")
    assert all(g is None for g in d_step["G_grads"]), "D's loss must not reach G"
    assert not g_step["D_trainable"]
    assert all(torch.equal(a, b) for a, b in zip(d_step["D_grads"], g_step["D_grads"]))
    assert all(g is not None and g.abs().sum() > 0 for g in g_step["G_grads"])


@pytest.mark.parametrize("updates", ["simultaneous", "alternating"])
def test_simultaneous_updates_take_both_gradients_at_the_same_weights_on_one_minibatch(updates):
    """train.updates=simultaneous (the ALI and PacGAN authors' rule): one step with plain SGD gives
    D = D0 - lr grad_D L_D(D0, G0) and G = G0 - lr grad_G L_G(D0, G0), both on the same real and fake
    batch, with the non-saturating losses of GAN_NOTES §2 written out here. Alternating, D's update is
    the same and G's goes through the updated D, so G ends elsewhere."""
    import copy

    import torch.nn.functional as F

    exp = build(compose_config(["device=cpu", "dataset=ring", "loss=ns", "optimizer=sgd", "optimizer.g.lr=0.5",
                                "optimizer.d.lr=0.5", "train.batch_size=32", f"train.updates={updates}"]))
    G, D = exp.players["G"].module, exp.players["D"].module
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    torch.manual_seed(1)
    exp.game.step(1)
    torch.manual_seed(1)                     # the same draws, in the game's order: real batch, then z
    x = exp.data.sample(32).x
    fake = G0(exp.game.g_inputs(32).z)
    d_loss = F.softplus(-D0(x)).mean() + F.softplus(D0(fake.detach())).mean()   # -log D(x) - log(1 - D(G(z)))
    g_loss = F.softplus(-D0(fake)).mean()                                       # -log D(G(z))
    for net, before, loss in [(D, D0, d_loss), (G, G0, g_loss)]:
        grads = torch.autograd.grad(loss, list(before.parameters()))
        expected = [p - 0.5 * g for p, g in zip(before.parameters(), grads)]
        same = all(torch.allclose(p, e, atol=1e-6) for p, e in zip(net.parameters(), expected))
        assert same == (net is D or updates == "simultaneous"), (updates, "D" if net is D else "G")


def test_simultaneous_updates_are_refused_where_a_step_has_several_updates_or_another_order(tmp_path):
    proc = ganrun_here("dataset=ring", "train.updates=simultaneous", "train.n_critic=5", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "set both to 1, or train.updates=alternating" in proc.stderr
    proc = ganrun_here("game=mixgan", "dataset=ring", "train.updates=simultaneous", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "game=mixgan updates its players in turn only" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_metrics_json_is_flat_numbers_plus_a_protocol(run_dir):
    train_run(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    protocol = metrics.pop("protocol")
    assert metrics.pop("status") == "finished"
    assert metrics.pop("warnings") == [], "the health monitor's warnings (none on a healthy run)"
    assert all(v is None or isinstance(v, (int, float)) for v in metrics.values())
    assert all(isinstance(v, str) for v in protocol.values())


def test_run_files_get_the_permissions_of_the_users_umask(tmp_path):
    """Files are written atomically through a temporary file, which mkstemp makes private (0600): the
    results get the mode any file of the user's would (0644 under the usual umask 022), so a group
    that shares a project can read them."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        train_run(tmp_path / "run", ["train.steps=2", "train.log_every=1"])
    finally:
        os.umask(old)
    for path in [tmp_path / "run" / "metrics.json", tmp_path / "run" / "config.json",
                 tmp_path / "run" / "checkpoints" / "last.pt"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
