"""The speed options (train.channels_last, train.compile, fused Adam, TF32/cuDNN autotuning):
each keeps a run's shapes, losses and checkpoints right, and off, nothing changes."""

from __future__ import annotations

import copy

import pytest
import torch

from conftest import FAST, compose_config, train_run
from ganrun.checkpoint import load_checkpoint
from ganrun.builder import build, speed_options
from ganrun.optimizers import Adam

DIGITS = ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8", "eval.classifier=false",
          "eval.memorisation=false"]


def test_channels_last_trains_the_same_shapes_to_finite_losses_and_loads_back(tmp_path):
    metrics = train_run(tmp_path / "run", DIGITS + ["train.channels_last=true"])
    assert metrics["status"] == "finished"
    assert all(torch.isfinite(torch.tensor(metrics[k])) for k in ("loss_d", "loss_g"))
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    plain = build(compose_config(FAST + DIGITS))        # an NCHW model takes the weights as they are
    for name, player in plain.players:
        player.module.load_state_dict(state["players"][name]["module"])
    exp = build(compose_config(FAST + DIGITS + ["train.channels_last=true"]))
    assert speed_options(exp) == ["channels_last weights"]
    conv = next(p for p in exp.players["D"].module.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    z = torch.randn(4, *exp.game.z(1).shape[1:])
    with torch.no_grad():
        assert exp.players["G"].module(z).shape == plain.players["G"].module(z).shape


def test_compiled_networks_match_eager_ones_and_keep_their_checkpoint_keys():
    exp = build(compose_config(FAST + ["dataset=ring", "model=mlp"]))
    eager = {name: copy.deepcopy(p.module) for name, p in exp.players}
    keys = {name: list(p.module.state_dict()) for name, p in exp.players}
    assert speed_options(build(compose_config(FAST + ["dataset=ring", "model=mlp"]))) == []
    exp.cfg.train.compile = True
    assert "torch.compile of G, D" in speed_options(exp)[0]
    z = exp.game.z(32)
    with torch.no_grad():
        compiled, reference = exp.players["G"].module(z), eager["G"](z)
    assert torch.allclose(compiled, reference, atol=1e-5)
    assert {name: list(p.module.state_dict()) for name, p in exp.players} == keys


@pytest.mark.parametrize("penalty", ["loss=wgan_gp", "tricks.r1=10"])
def test_compile_leaves_d_eager_under_a_gradient_penalty(penalty):
    exp = build(compose_config(FAST + ["dataset=ring", "model=mlp", penalty, "train.compile=true"]))
    (line,) = speed_options(exp)
    assert line.startswith("torch.compile of G (D eager: gradient penalty)")
    assert exp.players["D"].module._compiled_call_impl is None


def test_adam_is_fused_only_for_parameters_on_a_gpu():
    w = [torch.nn.Parameter(torch.zeros(3))]
    assert not Adam(w, lr=1e-3).param_groups[0]["fused"], "CPU: PyTorch's default implementation"
    assert Adam(w, lr=1e-3, fused=True).param_groups[0]["fused"]
    if torch.cuda.is_available():
        assert Adam([torch.nn.Parameter(torch.zeros(3, device="cuda"))], lr=1e-3).param_groups[0]["fused"]


def test_the_speed_options_are_off_by_default_and_cuda_flags_untouched_on_cpu():
    before = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32)
    cfg = compose_config(FAST + ["dataset=ring", "device=cpu"])
    assert not cfg.train.channels_last and not cfg.train.compile and cfg.optimizer.g.fused is None
    build(cfg)
    assert (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32) == before
