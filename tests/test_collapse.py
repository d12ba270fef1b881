"""Mode collapse: PacGAN's networks and presets, stacked digits and their 1000-mode protocol, MIX+GAN,
and the training-health monitor's warnings."""

from __future__ import annotations

import math
import os

import pytest
import torch
from torch import nn

from conftest import FAST, compose_config, make_data, scalar_and_image_tags, train_run
from ganrun.checkpoint import load_checkpoint
from ganrun.data import Batch
from ganrun.errors import ConfigError
from ganrun.health import HealthMonitor
from ganrun.models import mlp
from ganrun.loop import train


# --------------------------------------------------------------------------- PacGAN's networks and presets
def test_maxout_units_are_the_max_of_their_pieces():
    layer = mlp.Maxout(3)
    h = torch.tensor([[1.0, 5.0, 2.0, -1.0, -3.0, -2.0]])
    assert layer(h).tolist() == [[5.0, -1.0]]
    D = mlp.mlp([2, 4, 1], "maxout", 0.2, pieces=5)
    assert isinstance(D[0], nn.Linear) and D[0].out_features == 20 and isinstance(D[1], mlp.Maxout)
    assert D(torch.randn(7, 2)).shape == (7, 1)


def test_pacgan_presets_ring_steps_both_players_at_once_and_decays_its_rate_and_grid_is_standardized():
    """What reached Table 1's ring on each of seeds 0-2 (and led PacGAN's code at 2 000 steps too), and
    the grid seen at unit scale (docs/mode-collapse.md); the datasets themselves keep PacGAN's units."""
    ring = compose_config(["experiment=pacgan_ring"])
    assert (ring.train.steps, ring.train.lr_schedule) == (20000, "linear")
    assert ring.train.updates == "simultaneous" and compose_config([]).train.updates == "alternating"
    assert not ring.dataset.standardize
    grid = compose_config(["experiment=pacgan_grid"])
    assert grid.dataset.standardize and (grid.train.steps, grid.train.lr_schedule) == (10000, "linear")
    assert not compose_config(["dataset=grid"]).dataset.standardize


def test_pacgan_networks_batch_norm_in_g_maxout_in_d_and_normal_init():
    cfg = compose_config(["experiment=pacgan_ring", "tricks.pack=4"])
    assert cfg.train.batch_size == 400, "100 packs per minibatch"
    assert compose_config(["experiment=pacgan_grid"]).train.batch_size == 100
    from ganrun.builder import build

    exp = build(cfg)
    G, D = exp.players["G"].module, exp.players["D"].module
    hidden = [m for m in G.net if isinstance(m, nn.Linear)][:-1]
    assert len(hidden) == 4 and all(m.out_features == 400 and m.bias is None for m in hidden)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in G.net) == 4
    assert sum(isinstance(m, mlp.Maxout) for m in D.net) == 3 and D.net[0].in_features == 2 * 4
    weights = torch.cat([m.weight.flatten() for m in D.net if isinstance(m, nn.Linear)])
    assert abs(float(weights.detach().std()) - 0.02) < 0.002


# --------------------------------------------------------------------------- stacked digits
def test_stacked_digits_are_three_digits_as_colour_channels():
    data = make_data("stacked", resolution=16)
    assert data.shape == (3, 16, 16) and data.kind == "stacked" and data.num_classes == 0
    x = data.sample(5).x
    assert x.shape == (5, 3, 16, 16)
    singles = data.base.reference(None).x[:, 0]
    for channel in x[0]:           # each channel is one of the single digits
        assert (singles == channel).flatten(1).all(1).any()


def test_stacked_modes_and_kl_follow_the_protocol(tmp_path):
    from ganrun.metrics.classifier import StackedModes, predict

    data = make_data("stacked", resolution=16)
    metric = StackedModes(data, os.environ["GANRUN_CACHE_DIR"], torch.device("cpu"))   # the session's 16 px digits judge
    one = data.base.reference(None)
    seven = one.x[one.y == 7][:1]
    collapsed = Batch(seven.expand(200, 3, 16, 16))            # every sample the triple (7, 7, 7)
    values, protocol = metric(collapsed)
    assert values["modes"] == 1 and values["mode_kl"] == pytest.approx(math.log(1000))
    assert values["digit_kl"] == pytest.approx(3 * math.log(10)), "each channel one digit of 10"
    # (d, d, d) for every digit d, equally often: each channel uniform (digit_kl 0), the triples 10 of
    # 1000 (mode_kl log 100): all of the KL is the channels' dependence
    _, logits = predict(metric.model, one.x)
    read_as = logits.argmax(1)
    firsts = torch.stack([one.x[read_as == d][0] for d in range(10)])      # one image the judge reads as d
    same = Batch(firsts.repeat_interleave(20, 0).expand(200, 3, 16, 16))
    values, _ = metric(same)
    assert values["modes"] == 10 and values["mode_kl"] == pytest.approx(math.log(100))
    assert values["digit_kl"] == pytest.approx(0.0, abs=1e-9)
    values, _ = metric(data.reference(20000))
    assert values["modes"] > 950 and values["mode_kl"] < 0.2, "real stacks cover nearly all 1000 triples"
    assert values["digit_kl"] < 0.05
    assert "modes" in protocol and "mode_kl" in protocol and "digit_kl" in protocol


# --------------------------------------------------------------------------- MIX+GAN
MIX = FAST + ["dataset=ring", "game=mixgan", "game.components=3"]


def test_mixgan_plays_every_pair_and_logs_the_weights(run_dir):
    metrics = train_run(run_dir, ["game=mixgan", "game.components=3"])
    assert metrics["status"] == "finished" and "modes" in metrics
    scalars, images = scalar_and_image_tags(run_dir / "tb")
    assert {"mix/w_0", "mix/w_2", "mix/wd_1", "loss/G_0", "loss/D_2"} <= scalars
    assert "samples/components" in images
    state = load_checkpoint(run_dir)
    G = state["players"]["G"]["module"]
    assert {"members.0.net.0.weight", "members.2.net.0.weight", "logits"} <= set(G)
    assert set(state["players"]) == {"G", "D"}, "the T+T networks and both weight vectors live in G and D"


def test_mixture_samples_come_from_components_drawn_by_weight():
    from ganrun.games.mixgan import Mixture, entropy

    members = [nn.Linear(1, 1) for _ in range(3)]
    for i, m in enumerate(members):
        nn.init.zeros_(m.weight)
        nn.init.constant_(m.bias, float(i))                     # member i outputs i
    mix = Mixture(members)
    assert torch.allclose(mix.weights(), torch.full((3,), 1 / 3))
    assert float(entropy(mix.weights()).detach()) == pytest.approx(math.log(3))
    with torch.no_grad():
        mix.logits.copy_(torch.tensor([-50.0, 50.0, -50.0]))   # all weight on member 1
    which = torch.multinomial(mix.weights(), 100, replacement=True)
    assert torch.equal(mix.sample(torch.zeros(100, 1), which), torch.ones(100, 1))


def test_a_mixgan_run_resumes_exactly(tmp_path):
    train(compose_config(MIX + ["train.steps=8", "train.ckpt_every=4"]), tmp_path / "straight")
    train(compose_config(MIX + ["train.steps=4", "train.ckpt_every=4"]), tmp_path / "half")
    train(compose_config(MIX + ["train.steps=8", "train.ckpt_every=4"]), tmp_path / "half",
          resume_state=load_checkpoint(tmp_path / "half"))
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "half")
    for player in ("G", "D"):
        for k, v in a["players"][player]["module"].items():
            assert torch.equal(v, b["players"][player]["module"][k]), f"{player} {k}"


def test_mixgan_refuses_what_cannot_mix():
    from ganrun.builder import build

    for extra, message in [(["loss=began"], "loss=began with game=mixgan"),
                           (["tricks.replay=0.5"], "tricks.replay with game=mixgan")]:
        with pytest.raises(ConfigError, match=message):
            build(compose_config(MIX + extra))


# --------------------------------------------------------------------------- the health monitor
def log_windows(monitor, windows, start=10):
    said = []
    for i, means in enumerate(windows):
        said += monitor.on_log(start + 10 * i, means)
    return said


HEALTHY = {"health/d_acc_real": 0.7, "health/d_acc_fake": 0.6, "loss/D": 1.2, "loss/G": 0.8, "health/r_gap": 0.05}


def test_each_warning_fires_on_its_case_and_stays_quiet_on_a_healthy_run():
    quiet = HealthMonitor()
    windows = [dict(HEALTHY, **{"loss/D": 1.2 + 0.01 * i}) for i in range(10)]
    assert log_windows(quiet, windows) == []
    assert quiet.on_eval(100, {"modes": 8, "dup_rate": 0.02}) == [] and quiet.on_eval(200, {"modes": 7}) == []

    won = dict(HEALTHY, **{"health/d_acc_real": 1.0, "health/d_acc_fake": 0.995})
    said = log_windows(HealthMonitor(), [won, won, won, won])
    assert [w["kind"] for w in said] == ["d_won"] and said[0]["step"] == 30, "after 3 windows, once"
    assert "D has won" in said[0]["message"]

    overfit = dict(HEALTHY, **{"health/r_gap": 0.6, "loss/D": 1.0})
    assert [w["kind"] for w in log_windows(HealthMonitor(), [overfit] * 3)] == ["overfit"]

    frozen = log_windows(HealthMonitor(), [HEALTHY] * 7)
    assert [w["kind"] for w in frozen] == ["frozen"] and "losses frozen" in frozen[0]["message"]

    modes = HealthMonitor()
    assert modes.on_eval(100, {"modes": 8}) == []
    said = modes.on_eval(200, {"modes": 3})
    assert said[0]["kind"] == "modes_dropped" and said[0]["message"].startswith(
        "modes dropped from 8 to 3 since step 100")
    assert HealthMonitor().on_eval(100, {"dup_rate": 0.8})[0]["kind"] == "duplicates"


def test_warnings_wait_for_the_warm_up_and_stop_on_picks_which_are_fatal():
    monitor = HealthMonitor("collapse", steps=1000)
    assert monitor.on_eval(50, {"dup_rate": 1.0}) == [], "quiet during the first 10% of the run"
    said = monitor.on_eval(200, {"dup_rate": 1.0})
    assert monitor.stop_reason(said).startswith("samples repeat")
    assert HealthMonitor("collapse").stop_reason([{"kind": "frozen", "message": "x"}]) is None
    assert HealthMonitor("any").stop_reason([{"kind": "frozen", "message": "x"}]) == "x"


def test_a_run_logs_health_signals_and_stop_on_ends_it_early(tmp_path, monkeypatch):
    import ganrun.health as health

    digits = ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8"]
    run = tmp_path / "run"
    monkeypatch.setattr(health, "DUPLICATES", 0.0)               # every evaluation "repeats"
    metrics = train_run(run, digits + ["train.steps=20", "eval.every=4", "train.stop_on=collapse"])
    assert metrics["status"] == "stopped_early" and metrics["steps"] == 4
    assert metrics["stop_reason"].startswith("samples repeat")
    assert metrics["warnings"][0]["kind"] == "duplicates"
    assert load_checkpoint(run)["step"] == 4, "a checkpoint where it stopped"
    scalars, _ = scalar_and_image_tags(run / "tb")
    assert {"health/grad_G", "health/grad_D", "health/d_acc_real", "health/r_t", "health/r_gap"} <= scalars
    again = train(compose_config(FAST + digits + ["train.steps=20", "eval.every=4", "train.stop_on=collapse"]),
                  run, resume_state=load_checkpoint(run))
    assert again["status"] == "stopped_early", "resuming a stopped run with the same stop_on does nothing"
