"""Modern image GANs (issue 15): SNGAN ResNets, SAGAN attention, BigGAN's tools, DiffAugment/ADA,
the precision/recall family and the augmentation leak check, against their definitions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganrun.augment import Augment, ada_adjust, color, cutout, parse_policy, translation
from ganrun.checkpoint import load_checkpoint
from ganrun.commands.run import quote_policies
from ganrun.errors import ConfigError
from ganrun.builder import build
from ganrun.games import latent
from ganrun.metrics.leak import border_rate, square_rate
from ganrun.metrics.manifold import density_coverage, precision_recall
from ganrun.models import Conditioning
from ganrun.models.attention import SelfAttention, orthogonal_penalty
from ganrun.models.resnet import build as build_resnet
from ganrun.commands.sample import main as sample_main
from ganrun.loop import train
from conftest import FAST, compose_config, ganrun_here, scalars

SMALL = ["model.g_width=16", "model.d_width=16"]


@pytest.fixture(scope="module")
def cifar_shaped(tmp_path_factory):
    """A CIFAR-10-shaped folder: 32x32 RGB images in 10 class sub-folders."""
    root = tmp_path_factory.mktemp("cifar_shaped")
    rng = np.random.default_rng(0)
    for c in range(10):
        (root / f"class{c}").mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / f"class{c}" / f"{i}.png")
    return root


# -- networks ------------------------------------------------------------------
def test_self_attention_keeps_shapes_and_starts_as_the_identity():
    block = SelfAttention(32)
    x = torch.randn(2, 32, 8, 8)
    assert block.gamma.item() == 0.0
    assert torch.equal(block(x), x), "gamma = 0: y = 0 * o + x"
    with torch.no_grad():
        block.gamma.fill_(1.0)
    y = block(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    assert block.f.out_channels == block.g.out_channels == 4 and block.h.out_channels == 16


@pytest.mark.parametrize("resolution,blocks", [(32, 3), (64, 4), (128, 5)])
def test_resnet_pair_shapes_at_each_resolution(resolution, blocks):
    G, D = build_resnet(32, 16, 16, False, True, 16, False, 32, data_shape=(3, resolution, resolution))
    assert G.n_blocks == blocks
    x = G(torch.randn(2, 32))
    assert x.shape == (2, 3, resolution, resolution) and x.abs().max() <= 1
    assert D(x).shape == (2,)
    assert sum(isinstance(m, SelfAttention) for m in G.modules()) == 1
    assert sum(isinstance(m, SelfAttention) for m in D.modules()) == 1


def test_biggan_hierarchical_latent_feeds_every_block_with_the_shared_embedding():
    cond = Conditioning(g="cbn", d="projection", num_classes=10)
    G, D = build_resnet(40, 16, 16, True, True, 0, True, 8, data_shape=(3, 32, 32), cond=cond)
    assert G.chunk == 10            # 40 split into 3 blocks + 1
    y = torch.arange(4) % 10
    z = torch.randn(4, 40)
    x = G(z, y)
    assert x.shape == (4, 3, 32, 32) and D(x, y).shape == (4,)
    z2 = z.clone()
    z2[:, -10:] += 1.0              # the last block's chunk changes the image
    assert not torch.allclose(G.eval()(z, y), G(z2, y))


def test_orthogonal_regulariser_matches_its_formula():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(5, 6))
    expected = 0.0
    for w in (net[0].weight.reshape(4, -1), net[1].weight):
        for i in range(len(w)):
            for j in range(len(w)):
                if i != j:
                    expected += float(w[i].detach() @ w[j].detach()) ** 2       # ||W W^T * (1 - I)||_F^2
    assert orthogonal_penalty(net).item() == pytest.approx(expected, rel=1e-5)
    q, _ = torch.linalg.qr(torch.randn(6, 6))
    rows = torch.nn.Linear(6, 3, bias=False)
    with torch.no_grad():
        rows.weight.copy_(q[:3])                              # orthonormal rows: no penalty
    assert orthogonal_penalty(rows).item() == pytest.approx(0.0, abs=1e-10)


def test_truncation_redraws_exactly_the_components_beyond_the_threshold():
    plain = latent(500, 16, "normal", torch.device("cpu"), torch.Generator().manual_seed(3))
    cut = latent(500, 16, "normal", torch.device("cpu"), torch.Generator().manual_seed(3), truncation=0.5)
    inside = plain.abs() <= 0.5
    assert torch.equal(cut[inside], plain[inside]), "components within the threshold are kept"
    assert (cut[~inside] != plain[~inside]).all() and cut.abs().max() <= 0.5
    again = latent(500, 16, "normal", torch.device("cpu"), torch.Generator().manual_seed(3), truncation=0.5)
    assert torch.equal(cut, again)


# -- DiffAugment and ADA ---------------------------------------------------------
@pytest.mark.parametrize("op", [color, translation, cutout])
def test_diffaugment_keeps_shapes_is_differentiable_and_repeats_for_a_seed(op):
    x = torch.rand(8, 3, 32, 32, requires_grad=True)
    torch.manual_seed(1)
    a = op(x)
    torch.manual_seed(1)
    b = op(x)
    assert a.shape == x.shape and torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_shifts_by_at_most_an_eighth_with_zero_fill():
    x = torch.zeros(64, 1, 32, 32)
    x[:, :, 16, 16] = 1.0                                     # one bright pixel
    torch.manual_seed(0)
    out = translation(x)
    pos = out[:, 0].flatten(1).argmax(1)
    dy, dx = pos // 32 - 16, pos % 32 - 16
    assert out.sum(dim=(1, 2, 3)).eq(1).all(), "the pixel moves, nothing else appears"
    assert dy.abs().max() <= 4 and dx.abs().max() <= 4 and (dy != 0).any()
    ones = torch.ones(64, 1, 32, 32)
    shifted = translation(ones)
    assert set(shifted.unique().tolist()) <= {0.0, 1.0}, "the fill is 0"


def test_cutout_zeroes_a_square_of_half_the_side():
    torch.manual_seed(0)
    out = cutout(torch.ones(200, 1, 32, 32))
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 16 * 16 and (zeros < 256).any(), "a 16x16 square, clipped at the borders"


def test_the_policy_is_parsed_in_diffaugments_order_and_typos_are_one_line():
    assert parse_policy("cutout,color") == ("color", "cutout")
    assert parse_policy("none") == ()
    with pytest.raises(ConfigError, match="unknown augmentation 'colour'"):
        parse_policy("colour,cutout")
    assert quote_policies(["tricks.diffaug=color,cutout", "seed=1"]) == ["tricks.diffaug='color,cutout'", "seed=1"]
    assert quote_policies(["-m", "tricks.diffaug=color,cutout"]) == ["-m", "tricks.diffaug=color,cutout"]


def test_ada_p_moves_as_its_rule_says():
    ada = Augment(("translation",), ada_target=0.6, ada_kimg=1, ada_interval=4, images_per_step=50)
    p = 0.0
    for step, r in enumerate([1.0, 0.9, 1.0, 0.8, 0.95, 1.0, 0.7, 0.9], start=1):   # D too sure: p rises
        ada.observe(torch.tensor(r))
        ada.adjust(step)
    p = ada_adjust(ada_adjust(0.0, 0.925, 0.6, 50, 4, 1), 0.8875, 0.6, 50, 4, 1)
    assert float(ada.p) == pytest.approx(p) == pytest.approx(0.4)
    for step in range(9, 21):                                  # r below the target: p falls, never below 0
        ada.observe(torch.tensor(0.1))
        ada.adjust(step)
    assert float(ada.p) == 0.0
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(ada(x), x), "p = 0: nothing is augmented"


# -- metrics ---------------------------------------------------------------------
def test_precision_recall_density_coverage_on_constructed_sets():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 8, generator=g)
    other = torch.randn(1000, 8, generator=g)
    p, r = precision_recall(real, real)
    d, c = density_coverage(real, real)
    assert p == 1.0 and r == 1.0 and c == 1.0 and d == pytest.approx(1.0, abs=0.25)
    p, r = precision_recall(real, other)            # the same distribution
    assert p > 0.6 and r > 0.6
    collapsed = real[0] + 0.01 * torch.randn(1000, 8, generator=g)    # one mode, copied
    p, r = precision_recall(real, collapsed)
    d, c = density_coverage(real, collapsed)
    assert p > 0.9 and r < 0.05 and c < 0.05
    far = torch.randn(1000, 8, generator=g) + 20                       # elsewhere entirely
    assert precision_recall(real, far) == (0.0, 0.0) and density_coverage(real, far) == (0.0, 0.0)


def test_too_few_real_images_for_the_kth_neighbour_give_null_metrics_that_say_why():
    """A folder of 4 or 6 images: no k-th neighbour (k = 3 for P/R, 5 for D/C), so null, not a crash."""
    from ganrun.metrics.manifold import prdc_values

    fake = torch.randn(20, 8)
    values, protocol = prdc_values(torch.randn(6, 8), fake, "a test space")
    assert values["precision"] is not None and values["recall"] is not None
    assert values["density"] is None and values["coverage"] is None
    assert "needs at least 7 images" in protocol["coverage"]
    values, protocol = prdc_values(torch.randn(3, 8), fake, "a test space")
    assert all(v is None for v in values.values()) and "at least 4" in protocol["precision"]
    values, _ = prdc_values(torch.randn(7, 8), fake, "a test space")
    assert all(v is not None for v in values.values())


def test_the_leak_check_sees_translation_borders_and_cutout_squares():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(100, 3, 32, 32, generator=g) * 0.5 + 0.5          # nothing near 0
    assert border_rate(clean) == 0 and square_rate(clean) == 0
    torch.manual_seed(0)
    assert border_rate(translation(clean)) > 0.5
    assert square_rate(cutout(clean)) > 0.5
    grey = torch.zeros(100, 3, 32, 32)           # an untrained G's output: flat everywhere, not a leak
    assert border_rate(grey) == 0 and square_rate(grey) == 0
    # only the augmentations in the policy are checked
    from ganrun.metrics.leak import AugmentLeak

    values, protocol = AugmentLeak(clean, "noise", ("color", "cutout"))(cutout(clean))
    assert set(values) == {"leak_cutout", "leak_cutout_real"} == set(protocol) and values["leak_cutout"] > 0.5


# -- runs ------------------------------------------------------------------------
@pytest.mark.parametrize("experiment", ["sngan", "sagan", "biggan_cifar10"])
def test_modern_presets_train_on_cifar_shaped_data(experiment, cifar_shaped, tmp_path):
    run = tmp_path / "run"
    ganrun_here(f"experiment={experiment}", "dataset=folder", f"dataset.root={cifar_shaped}", "dataset.resolution=32",
                *FAST, "train.steps=2", "train.batch_size=10", "eval.n=20", "eval.memorisation=false", *SMALL,
                f"hydra.run.dir={run}", cwd=tmp_path, check=True)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["steps"] == 2
    cfg = load_checkpoint(run)["config"]
    assert cfg["model"]["type"] == "resnet"
    if experiment == "biggan_cifar10":
        assert "cond_acc" in metrics
        assert [v for _, v in scalars(run / "tb", "loss/ortho")], "BigGAN's regulariser is logged"


def test_diffaug_and_ada_run_log_p_resume_exactly_and_check_the_leak(tmp_path):
    aug = ["dataset=digits", "tricks.diffaug='color,translation,cutout'", "tricks.ada=true",
           "tricks.ada_kimg=0.5", "tricks.ada_interval=2", "train.ckpt_every=4", "train.log_every=1",
           "tricks.instance_noise=0"]     # its decay spans train.steps, which the half run below extends
    train(compose_config(FAST + aug + ["train.steps=8"]), tmp_path / "straight")
    train(compose_config(FAST + aug + ["train.steps=4"]), tmp_path / "half")
    half = load_checkpoint(tmp_path / "half")
    train(compose_config(FAST + aug + ["train.steps=8"]), tmp_path / "half", resume_state=half)
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "half")
    assert torch.equal(a["state"]["augment"]["p"], b["state"]["augment"]["p"])
    for player in ("G", "D"):
        for k, v in a["players"][player]["module"].items():
            assert torch.equal(v, b["players"][player]["module"][k]), f"{player} {k}"
    # p follows ADA's rule from the r_t that D gave the training batches (logged every step)
    r_t = [v for _, v in scalars(tmp_path / "straight" / "tb", "health/r_t")]
    logged_p = [v for _, v in scalars(tmp_path / "straight" / "tb", "tricks/ada_p")]
    p, expected = 0.0, []
    for step in range(1, 9):
        if step % 2 == 0:
            p = ada_adjust(p, (r_t[step - 2] + r_t[step - 1]) / 2, 0.6, 16, 2, 0.5)
        expected.append(p)
    assert logged_p == pytest.approx(expected, abs=1e-6) and max(expected) > 0
    metrics = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    for key in ("leak_translation", "leak_cutout", "leak_translation_real", "leak_cutout_real"):
        assert 0 <= metrics[key] <= 1 and key in metrics["protocol"]


def test_image_runs_report_confidence_and_the_precision_recall_family(tmp_path):
    run = tmp_path / "run"
    ganrun_here("dataset=digits", *FAST, "eval.n=300", f"hydra.run.dir={run}", cwd=tmp_path, check=True)
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("confident", "confident_real", "precision", "recall", "density", "coverage"):
        assert metrics[key] is not None and key in metrics["protocol"], key
    assert metrics["confident_real"] > 0.8, "the classifier is sure of most real digits"
    assert "leak_cutout" not in metrics, "no augmentation, no leak check"
    # truncation for sampling and evaluation
    plain, cut = tmp_path / "plain.npy", tmp_path / "cut.npy"
    assert sample_main([str(run), "--n", "6", "--out", str(plain)]) == 0
    assert sample_main([str(run), "--n", "6", "--truncation", "0.5", "--out", str(cut)]) == 0
    assert not np.array_equal(np.load(plain), np.load(cut))
    assert sample_main([str(run), "--n", "6", "--truncation", "0", "--out", str(cut)]) == 2
    out = ganrun_here(str(run), "--n", "100", "--truncation", "0.5", "--out", str(tmp_path / "e.json"), cwd=tmp_path,
                      script="ganrun-eval", check=True)
    assert "truncation" in json.loads((tmp_path / "e.json").read_text())["protocol"], out.stdout


def test_a_model_refuses_an_image_size_before_any_image_is_decoded(tmp_path):
    """The resolution check comes first: a missing folder is not even looked at."""
    cfg = compose_config(["model=resnet", "dataset=folder", f"dataset.root={tmp_path / 'nowhere'}",
                          "dataset.resolution=48"])
    with pytest.raises(ConfigError, match="model=resnet supports resolutions 32, 64 and 128, not 48"):
        build(cfg)


@pytest.mark.parametrize("overrides,message", [
    (["tricks.diffaug=colour"], "tricks.diffaug: unknown augmentation 'colour'"),
    (["tricks.ada=true"], "tricks.ada adapts how often"),
    (["dataset=ring", "tricks.diffaug=cutout"], "tricks.diffaug augments images"),
    (["dataset=digits", "model=dcgan", "model.attention=8", "loss=began"], "model.attention with loss=began"),
    (["model=resnet", "dataset.resolution=16"], "model=resnet supports resolutions 32, 64 and 128"),
    (["model=resnet", "model.attention=12"], "model.attention=12"),
    (["model=dcgan", "model.attention=32"], "model.attention=32"),
    (["tricks.diffaug=cutout", "tricks.ada=true", "loss=wgan_gp"], "tricks.ada steers by the sign of D's logits"),
    (["game=mixgan", "tricks.diffaug=cutout"], "tricks.diffaug with game=mixgan"),
    (["model=pix2pix"], "model=pix2pix is image-to-image"),
    (["dataset=edges2digits", "game=gan", "model=dcgan"], "holds image pairs or domains for translation"),
    (["experiment=pix2pix", "tricks.joint_batches=true"], "tricks.joint_batches does not apply to game=pix2pix"),
    (["experiment=cyclegan", "train.n_critic=2"], "train.n_critic does not apply to game=cyclegan"),
])
def test_bad_settings_are_one_line(overrides, message, tmp_path):
    data = [] if any(o.startswith(("dataset=", "experiment=")) for o in overrides) else ["dataset=digits"]
    proc = ganrun_here(*data, *FAST, *overrides, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
