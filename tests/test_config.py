"""Every config group option composes and builds; bad values fail before anything is built."""

from __future__ import annotations


import pytest
import torch
from omegaconf import OmegaConf
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from conftest import compose_config
from ganrun.config import check_ranges
from ganrun.errors import ConfigError, DataError
from ganrun.builder import build, resolve_device

GROUPS = ["game", "model", "dataset", "loss", "optimizer", "device", "experiment"]


def options(group: str) -> list[str]:
    from ganrun.config import group_options

    return group_options(group)


def all_options():
    return [(g, o) for g in GROUPS for o in options(g)]


# What some options need around them to build on an offline test machine.
CONTEXT = {
    ("model", "dcgan_notes"): ["dataset.resolution=64"],        # the notes' pair is 64x64 only
    ("dataset", "folder"): ["dataset.root={images}", "dataset.resolution=16"],
    ("dataset", "anime"): ["dataset.root={images}", "dataset.resolution=16", "model=dcgan"],
    ("model", "resnet"): ["model.g_width=16", "model.d_width=16"],
    ("model", "pix2pix"): ["dataset=edges2digits", "model.g_width=8", "model.d_width=8"],
    ("model", "cyclegan"): ["dataset=digits2bold", "model.g_width=8", "model.d_width=8"],
    ("game", "pix2pix"): ["dataset=edges2digits", "model.g_width=8", "model.d_width=8"],
    ("game", "cyclegan"): ["dataset=digits2bold", "model.g_width=8", "model.d_width=8"],
    ("experiment", "sngan"): ["model.g_width=16", "model.d_width=16"],
    ("experiment", "sagan"): ["model.g_width=16", "model.d_width=16"],
    ("experiment", "biggan_cifar10"): ["dataset=digits", "model.g_width=16", "model.d_width=16"],
    ("experiment", "pix2pix"): ["model.g_width=8", "model.d_width=8"],
    ("experiment", "cyclegan"): ["model.g_width=8", "model.d_width=8"],
}
for _name in ("paired", "unpaired", "edges2digits", "digits2bold"):
    CONTEXT[("dataset", _name)] = ["model.g_width=8", "model.d_width=8"]
# torchvision sets and the translation papers' sets: not here offline
DOWNLOADED = {"mnist", "fashion_mnist", "cifar10", "celeba", "stacked_mnist", "facades", "maps", "edges2shoes",
              "horse2zebra", "apple2orange", "monet2photo"}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 60 * i, dtype=np.uint8)).save(root / f"{i}.png")
    return root


@pytest.mark.parametrize("group,option", all_options())
def test_every_option_composes_and_builds(group, option, images, tmp_path, monkeypatch):
    overrides = [f"{group}={option}"] + [o.format(images=images) for o in CONTEXT.get((group, option), [])]
    if group != "device":
        overrides.append("device=cpu")
    if group == "dataset" and option in DOWNLOADED:
        # No download on a test machine, whatever its network: the run must refuse clearly.
        monkeypatch.setattr("socket.create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
        cfg = compose_config(overrides + [f"dataset.root={tmp_path}"])
        with pytest.raises(DataError, match=f"dataset={option} (needs MNIST, which )?is not in {tmp_path}"):
            build(cfg)
        return
    cfg = compose_config(overrides)
    if group == "device" and option in ("cuda", "mps"):
        available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}[option]
        if not available:        # no such device here: refuse clearly, not crash later
            with pytest.raises(ConfigError, match=f"device={option}"):
                resolve_device(cfg.device.type)
            return
    exp = build(cfg)
    samples = exp.game.generate(4, seed=0)              # through the game: labels, codes and all
    assert samples.x.shape == (4, *exp.data.shape)
    assert exp.data.sample(4).x.shape == (4, *exp.data.shape)
    assert exp.game.step(1), "one training step runs and logs its terms"


def test_toy_datasets_pick_the_mlp_and_command_line_wins():
    assert compose_config(["dataset=gaussian1d"]).model.type == "mlp"
    cfg = compose_config(["dataset=ring", "model.g_hidden=[7]"])
    assert cfg.model.g_hidden == [7]


def test_experiment_notes_sine_is_the_notes_recipe():
    cfg = compose_config(["experiment=notes_sine"])
    assert cfg.dataset.name == "sine" and cfg.dataset.curves == 10 and cfg.dataset.length == 32
    assert cfg.model.latent_dim == 10
    assert list(cfg.model.g_hidden) == [128, 256, 512, 1024] and list(cfg.model.d_hidden) == [512, 256]
    assert cfg.model.out_activation == "tanh"
    assert cfg.optimizer.g.type == "adam" and cfg.optimizer.g.lr == 1e-5
    assert cfg.optimizer.d.type == "sgd" and cfg.optimizer.d.lr == 1e-3
    assert cfg.train.n_critic == 3 and cfg.train.batch_size == 128


def test_experiment_wgan_gp_toy_is_the_authors_toy_setting():
    """gan_toy.py (igul222/improved_wgan_training): 3 x 512 ReLU nets, no norm, lambda 0.1, 5 critic
    steps, Adam 1e-4 (0.5, 0.9), batch 256, z in R^2."""
    cfg = compose_config(["experiment=wgan_gp_toy"])
    assert cfg.dataset.type == "ring" and cfg.loss.type == "wgan_gp" and cfg.loss.gp_weight == 0.1
    assert list(cfg.model.g_hidden) == list(cfg.model.d_hidden) == [512, 512, 512]
    assert cfg.model.g_activation == cfg.model.d_activation == "relu" and cfg.model.g_norm == "none"
    assert cfg.model.latent_dim == 2 and cfg.model.out_activation == "none"
    for side in ("g", "d"):
        assert cfg.optimizer[side].lr == 1e-4 and list(cfg.optimizer[side].betas) == [0.5, 0.9]
    assert cfg.train.n_critic == 5 and cfg.train.batch_size == 256


def test_experiment_acgan_is_the_acgan_form_with_the_digits_tricks_on_the_digits_only():
    """On the digits: G's moving average, instance noise and lazy R1 (tuning/experiment/acgan_digits.yaml),
    the same run as game=conditional game.form=acgan with the noise and R1 added; elsewhere the form
    alone."""
    cfg = compose_config(["experiment=acgan"])
    assert cfg.game.type == "conditional" and cfg.game.form == "acgan" and not cfg.game.aux_fake
    assert cfg.tricks.instance_noise == 0.1 and cfg.tricks.ema == 0.995 and cfg.tricks.ema_start == 1000
    assert cfg.tricks.r1 == 1.0 and cfg.tricks.r1_every == 4
    same = compose_config(["game=conditional", "game.form=acgan", "tricks.instance_noise=0.1",
                           "tricks.r1=1", "tricks.r1_every=4"])
    assert OmegaConf.to_container(cfg) == OmegaConf.to_container(same)
    other = compose_config(["experiment=acgan", "dataset=fashion_mnist"])
    assert other.game.form == "acgan" and other.tricks.instance_noise == 0 and other.tricks.ema == 0
    assert other.tricks.r1 == 0


@pytest.mark.parametrize("override,fragment", [
    ("train.steps=abc", "train.steps"),
    ("optimizer.d.lr=fast", "optimizer.d.lr"),
    ("optimizer.d.momentum=0.9", "momentum"),        # Adam has no momentum key
    ("train.nonsense=1", "nonsense"),
])
def test_wrong_types_and_unknown_keys_fail_at_composition(override, fragment):
    with pytest.raises((ConfigCompositionException, ValidationError)) as e:
        compose_config([override])
    assert fragment in str(e.value) + str(e.value.__cause__)


def test_unknown_group_option_lists_the_choices():
    with pytest.raises(Exception) as e:
        compose_config(["loss=nope"])
    assert "Could not find 'loss/nope'" in str(e.value)
    assert "ns" in str(e.value) and "mm" in str(e.value)


@pytest.mark.parametrize("override,message", [
    ("optimizer.d.lr=-1", "optimizer.d.lr=-1.0 is out of range: it must be > 0"),
    ("train.batch_size=0", "train.batch_size=0 is out of range: it must be >= 1"),
    ("train.n_critic=0", "train.n_critic=0 is out of range: it must be >= 1"),
    ("optimizer.g.betas=[0.5,1.5]", "optimizer.g.betas=[0.5, 1.5] is out of range: it must be < 1 (every entry)"),
    ("model.g_hidden=[64,0]", "model.g_hidden=[64, 0] is out of range: it must be >= 1 (every entry)"),
    ("dataset.std=-0.1", "dataset.std=-0.1 is out of range: it must be > 0"),
    ("tricks.prior=cauchy", "tricks.prior=cauchy: no such choice; it must be one of normal, uniform"),
    ("model.g_activation=relux", "model.g_activation=relux: no such choice (did you mean relu?); it must be "
                                 "one of relu, leaky_relu, elu, gelu, silu, tanh"),
    ("model.type=dcgan", "model.type=dcgan: a model's type is chosen with its option, e.g. model=dcgan, "
                         "not set as a key"),
    ("seed=4294967296", "seed=4294967296 is out of range: it must be <= 4294967295"),
])
def test_out_of_range_values_are_refused_with_the_key_and_the_bound(override, message):
    cfg = compose_config([override, "dataset=ring"])
    with pytest.raises(ConfigError) as e:
        check_ranges(cfg)
    assert str(e.value) == message


def test_the_default_config_is_in_range():
    check_ranges(compose_config([]))
    assert OmegaConf.select(compose_config([]), "train.steps") >= 1
