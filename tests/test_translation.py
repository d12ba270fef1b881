"""Image-to-image translation (issue 16): pix2pix and CycleGAN, their data, metrics and tools."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import FAST, compose_config, ganrun, ganrun_here, scalar_and_image_tags
from ganrun.checkpoint import load_checkpoint
from ganrun.data.translation import TranslationData, built_in, outline
from ganrun.errors import ConfigError
from ganrun.builder import build
from ganrun.metrics.translation import paired_scores
from ganrun.models.translation import PatchDiscriminator, ResNetGenerator, UNetGenerator
from ganrun.loop import train

QUICK = FAST + ["train.batch_size=4", "eval.n=20", "model.g_width=8", "model.d_width=8"]


# -- networks ------------------------------------------------------------------
@pytest.mark.parametrize("resolution", [16, 32, 64, 128, 256])
def test_unet_and_patchgan_shapes_at_each_resolution(resolution):
    G = UNetGenerator(1, 3, resolution, width=4)
    x = torch.randn(2, 1, resolution, resolution)
    y = G(x)
    assert y.shape == (2, 3, resolution, resolution) and y.abs().max() <= 1
    assert len(G.down) == int(math.log2(resolution)), "down to 1x1"
    patches = PatchDiscriminator(4, resolution, width=4)(torch.cat([x, y], 1))
    assert patches.shape[:2] == (2, 1) and patches.shape[-1] > 1, "one score per patch"
    if resolution == 256:
        assert patches.shape[-1] == 30, "70x70 patches at 256 px give 30x30 scores (the paper's D)"


def test_cyclegan_can_take_the_unet_generator():
    from ganrun.models.translation import cyclegan_networks

    nets = cyclegan_networks(4, 4, 3, "unet", 0, "instance", source_shape=(1, 32, 32), data_shape=(3, 32, 32))
    assert isinstance(nets["G_AB"], UNetGenerator)
    assert nets["G_AB"](torch.randn(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    assert nets["G_BA"](torch.randn(2, 3, 32, 32)).shape == (2, 1, 32, 32)


@pytest.mark.parametrize("resolution,blocks", [(32, 6), (64, 6), (128, 9)])
def test_resnet_generator_shapes(resolution, blocks):
    G = ResNetGenerator(3, 1, width=4, blocks=blocks)
    assert G(torch.randn(2, 3, resolution, resolution)).shape == (2, 1, resolution, resolution)
    assert sum(type(m).__name__ == "ResidualBlock" for m in G.modules()) == blocks


# -- data ------------------------------------------------------------------------
def test_paired_jitter_is_the_same_on_both_sides():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (10, 1, 40, 40), generator=g, dtype=torch.uint8)
    data = TranslationData("t", images, images.clone(), True, 32, flip=True, device="cpu")
    torch.manual_seed(0)
    batch = data.sample(64)
    assert batch.x.shape == batch.source.shape == (64, 1, 32, 32)
    assert torch.equal(batch.x, batch.source), "a pair gets one crop and one flip"
    crops = {tuple(b.flatten()[:5].tolist()) for b in batch.x}
    assert len(crops) > 10, "crops and flips differ between samples"


def test_built_in_sets_keep_classes_and_keep_test_images_apart():
    a, b, la, lb, paired = built_in("edges2digits", "train", 32)
    assert paired and torch.equal(la, lb) and a.shape == b.shape == (len(a), 1, 32, 32)
    assert torch.equal(a, outline(b)) and a.float().mean() > 5
    a, b, la, lb, paired = built_in("digits2bold", "train", 32)
    assert not paired and abs(len(a) - len(b)) <= 1 and la is not None and lb is not None
    assert b.float().mean() > 1.5 * a.float().mean(), "B's strokes are thicker"
    test_a, _, _, _, _ = built_in("edges2digits", "test", 32)
    train_a, _, _, _, _ = built_in("edges2digits", "train", 32)
    assert len(test_a) + len(train_a) == 1797
    assert not any(torch.equal(t, u) for t in test_a[:20] for u in train_a)


# -- metrics ---------------------------------------------------------------------
def test_psnr_and_ssim_against_their_closed_forms():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 32, 32, generator=g) * 2 - 1
    same = paired_scores(x, x)
    assert same["l1"] == 0 and same["ssim"] == pytest.approx(1.0) and same["psnr"] == math.inf
    y = (x + 0.1).clamp(-1, 1)
    mse = (((x + 1) / 2 - (y + 1) / 2) ** 2).mean(dim=(1, 2, 3))     # per image
    scores = paired_scores(y, x)
    assert scores["psnr"] == pytest.approx(float((10 * torch.log10(1 / mse)).mean()), rel=1e-4)
    assert scores["l1"] == pytest.approx(float(((y - x) / 2).abs().mean()), rel=1e-5)
    assert 0 < scores["ssim"] < 1


# -- games: the losses by hand ---------------------------------------------------
def _fixed_batch(game, monkeypatch):
    batch = game.data.sample(4)
    monkeypatch.setattr(game.data, "sample", lambda n, generator=None: batch)
    return batch


def test_pix2pix_losses_match_the_paper_by_hand(monkeypatch):
    cfg = compose_config(QUICK + ["experiment=pix2pix", "model.dropout=false"])
    game = build(cfg).game
    batch = _fixed_batch(game, monkeypatch)
    a, b = batch.source, batch.x
    G0, D0 = copy.deepcopy(game.G.module), copy.deepcopy(game.D.module)
    d_terms, g_terms = game.step(1)
    fake = G0(a)
    d_expected = 0.5 * (F.softplus(-D0(torch.cat([a, b], 1))).mean() + F.softplus(D0(torch.cat([a, fake], 1))).mean())
    assert d_terms["loss/D"].detach().item() == pytest.approx(float(d_expected.detach()), rel=1e-5)
    D1 = game.D.module               # G's loss is taken through D after its update
    l1 = (fake - b).abs().mean()
    g_expected = F.softplus(-D1(torch.cat([a, fake], 1))).mean() + 100 * l1
    assert g_terms["loss/L1"].detach().item() == pytest.approx(float(l1.detach()), rel=1e-5)
    assert g_terms["loss/G"].detach().item() == pytest.approx(float(g_expected.detach()), rel=1e-4)


def test_cyclegan_losses_match_the_paper_by_hand(monkeypatch):
    cfg = compose_config(QUICK + ["experiment=cyclegan"])
    game = build(cfg).game
    batch = _fixed_batch(game, monkeypatch)
    a, b = batch.source, batch.x
    G_AB, G_BA = copy.deepcopy(game.G_AB.module), copy.deepcopy(game.G_BA.module)
    D_A, D_B = copy.deepcopy(game.D_A.module), copy.deepcopy(game.D_B.module)
    g_terms, d_terms = game.step(1)
    fake_b, fake_a = G_AB(a), G_BA(b)
    lsgan = (lambda s: ((s - 1) ** 2).mean())
    expected = (lsgan(D_B(fake_b)) + lsgan(D_A(fake_a))
                + 10 * ((G_BA(fake_b) - a).abs().mean() + (G_AB(fake_a) - b).abs().mean())
                + 5 * ((G_BA(a) - a).abs().mean() + (G_AB(b) - b).abs().mean()))
    assert g_terms["loss/G"].detach().item() == pytest.approx(float(expected.detach()), rel=1e-4)
    # each D: real images of its domain against the fakes (the pool is empty at step 1), halved
    d_a = ((D_A(a) - 1) ** 2).mean() + (D_A(fake_a) ** 2).mean()
    assert d_terms["loss/D_A"].detach().item() == pytest.approx(float(d_a.detach()), rel=1e-4)


@pytest.mark.parametrize("steps, hold", [(10, 0), (10, 4), (50, 1500), (3000, 1500)])
def test_hold_linear_keeps_the_rate_for_its_hold_then_decays_to_zero_at_the_last_update(steps, hold):
    """pix2pix's and CycleGAN's rule: lr(s) = lr0 * min(1, (T - s) / (T - H)) for update s of T, with H
    the hold (half of T when 0); a run no longer than H keeps lr0 throughout."""
    from ganrun.optimizers import lr_schedule

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    schedule = lr_schedule(opt, "hold_linear", steps, hold)
    H = hold or steps // 2
    for s in range(steps):
        expected = 2e-4 * min(1.0, (steps - s) / (steps - H)) if H < steps else 2e-4
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-9), s
        opt.step()
        schedule.step()
    if H < steps:
        assert opt.param_groups[0]["lr"] == 0.0, "the rate reaches 0 after the last update"


def test_cyclegan_on_the_digit_pairs_holds_its_rate_for_1500_updates_like_the_originals_epochs():
    """At the preset's 3 000 updates the hold is hold_linear's own half; a shorter run never decays,
    as the official code's do (its rule counts epochs)."""
    from ganrun.optimizers import lr_schedule

    cfg = compose_config(["experiment=cyclegan"])
    assert cfg.train.lr_schedule == "hold_linear" and cfg.train.lr_hold_steps == cfg.train.steps // 2 == 1500
    assert compose_config(["experiment=cyclegan", "dataset=unpaired"]).train.lr_hold_steps == 0, \
        "other data keeps the run-length rule"
    short = lr_schedule(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), "hold_linear", 50,
                        cfg.train.lr_hold_steps)
    for _ in range(50):
        assert short.get_last_lr() == [1.0]
        short.optimizer.step()
        short.step()


# -- runs ------------------------------------------------------------------------
def test_a_cyclegan_run_resumes_exactly_with_all_four_networks_and_both_pools(tmp_path):
    # the preset holds its rate for 1 500 updates on digits2bold: both runs keep the full rate
    overrides = QUICK + ["experiment=cyclegan", "train.ckpt_every=4", "game.pool_size=6"]
    train(compose_config(overrides + ["train.steps=8"]), tmp_path / "straight")
    train(compose_config(overrides + ["train.steps=4"]), tmp_path / "half")
    train(compose_config(overrides + ["train.steps=8"]), tmp_path / "half", resume_state=load_checkpoint(tmp_path / "half"))
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "half")
    assert set(a["players"]) == {"G_AB", "G_BA", "D_A", "D_B"}
    for player in a["players"]:
        for k, v in a["players"][player]["module"].items():
            assert torch.equal(v, b["players"][player]["module"][k]), f"{player} {k}"
        assert a["players"][player]["optimizer"]["state"], f"{player} trains"
    for pool in ("pool_A", "pool_B"):
        saved_a, saved_b = a["state"][pool]["_extra_state"], b["state"][pool]["_extra_state"]
        assert saved_a["filled"] == 6 and torch.equal(saved_a["samples"], saved_b["samples"])
    # both directions are measured, each by the classifier of its target domain
    metrics = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    for key in ("cycle_A", "cycle_B", "class_kept_AB", "class_kept_BA", "fd_A", "fd_B"):
        assert metrics[key] is not None and key in metrics["protocol"], key


def test_pix2pix_run_logs_terms_pictures_metrics_and_translates(tmp_path):
    run = tmp_path / "run"
    ganrun_here("experiment=pix2pix", *QUICK, f"hydra.run.dir={run}", cwd=tmp_path, check=True)
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("l1", "psnr", "ssim", "class_kept", "fd_B"):
        assert metrics[key] is not None and key in metrics["protocol"], key
    scalars, images = scalar_and_image_tags(run / "tb")
    assert {"loss/D", "loss/G", "loss/L1", "loss/G_gan"} <= scalars and "samples/translation" in images
    # ganrun-translate: a folder, an array, and one line for what does not fit
    inp = tmp_path / "in"
    inp.mkdir()
    for i in range(3):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (40, 40), dtype=np.uint8)).save(inp / f"{i}.png")
    ganrun(str(run), "--in", str(inp), "--out", str(tmp_path / "out"), cwd=tmp_path, script="ganrun-translate")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png", "2.png"]
    # the rest in-process (the installed command is proven above): the same main(), without a
    # fresh interpreter's start-up for each call
    from ganrun.commands import translate as translate_cmd

    def one_line(script, args):
        proc = ganrun_here(*args, cwd=tmp_path, script=script)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        return proc.stderr

    np.save(tmp_path / "x.npy", np.zeros((2, 1, 32, 32), np.float32))
    assert translate_cmd.main([str(run), "--in", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) in (0, None)
    assert np.load(tmp_path / "y.npy").shape == (2, 1, 32, 32)
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 32, 32), np.float32))
    (tmp_path / "empty").mkdir()
    for args, message in [(["--in", str(tmp_path / "bad.npy"), "--out", str(tmp_path / "z.npy")],
                           "an array of shape (2, 3, 32, 32)"),
                          (["--in", str(tmp_path / "empty"), "--out", str(tmp_path / "z")], "the folder holds no images"),
                          (["--in", str(inp), "--out", str(tmp_path / "z"), "--direction", "BtoA"],
                           "translates one way only")]:
        assert message in one_line("ganrun-translate", [str(run), *args])
    assert "use ganrun-translate" in one_line("ganrun-sample", [str(run), "--out", str(tmp_path / "s.png")])
    # no noise z: the truncation trick is refused, not claimed in the protocol and ignored
    assert "draws no noise z" in one_line("ganrun-eval", [str(run), "--truncation", "0.5"])
    with pytest.raises(ConfigError, match="eval.truncation does not apply to game=pix2pix"):
        build(compose_config(["experiment=pix2pix", "eval.truncation=0.5"]))
    # a checkpoint that lacks one of the run's networks is one line, not a KeyError
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    del state["players"]["D"]
    torch.save(state, tmp_path / "no_d.pt")
    assert "has no weights for D" in one_line("ganrun-translate", [str(tmp_path / "no_d.pt"), "--in", str(inp),
                                                                   "--out", str(tmp_path / "o")])


def _side_by_side(folder, n, size=(64, 32)):
    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(
            folder / f"{i}.jpg")


def test_paired_and_unpaired_folders_in_the_papers_layouts(tmp_path):
    _side_by_side(tmp_path / "pairs" / "train", 4)
    cfg = compose_config(QUICK + ["experiment=pix2pix", "dataset=paired", "dataset.name=folder",
                                  f"dataset.root={tmp_path / 'pairs'}", "dataset.load_size=36", "dataset.flip=true"])
    data = build(cfg).data
    assert data.shape == data.source_shape == (3, 32, 32) and data.heldout() is None
    for side in ("trainA", "trainB"):
        _side_by_side(tmp_path / "domains" / side, 3, size=(32, 32))
    cfg = compose_config(QUICK + ["experiment=cyclegan", "dataset=unpaired", "dataset.name=folder",
                                  f"dataset.root={tmp_path / 'domains'}"])
    assert build(cfg).data.shape == (3, 32, 32)


@pytest.mark.parametrize("setup,overrides,message", [
    ("wide", ["experiment=pix2pix", "dataset=paired", "dataset.name=folder"], "is twice as wide as it is high"),
    ("unmatched", ["experiment=pix2pix", "dataset=paired", "dataset.name=folder"], "is in only one of"),
    ("no_b", ["experiment=cyclegan", "dataset=unpaired", "dataset.name=folder"], "trainB/ is missing"),
    ("none", ["experiment=pix2pix", "dataset=digits2bold"], "game=pix2pix trains on paired image data"),
    ("none", ["experiment=cyclegan", "dataset=facades", "dataset.download=false"], "is not in"),
    ("none", ["game=pix2pix", "dataset=digits"], "game=pix2pix trains on paired image data"),
])
def test_bad_translation_inputs_are_one_line(setup, overrides, message, tmp_path):
    root = tmp_path / "data"
    if setup == "wide":
        _side_by_side(root / "train", 2, size=(48, 32))
    elif setup == "unmatched":
        _side_by_side(root / "A" / "train", 2, size=(32, 32))
        _side_by_side(root / "B" / "train", 1, size=(32, 32))
        (root / "B" / "train" / "0.jpg").rename(root / "B" / "train" / "other.jpg")
    elif setup == "no_b":
        _side_by_side(root / "trainA", 2, size=(32, 32))
    where = [f"dataset.root={root}"] if "dataset=digits" not in overrides else []
    proc = ganrun_here(*overrides, *QUICK, *where, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_the_image_pool_follows_cyclegans_rule():
    from ganrun.tricks import ReplayBuffer

    pool = ReplayBuffer(4, 0.5, per_image=True)
    first = torch.arange(4.0)[:, None]
    assert torch.equal(pool.mix(first), first), "until the pool is full, fakes are shown and stored"
    assert pool.filled == 4
    torch.manual_seed(0)
    seen = pool.mix(torch.full((200, 1), 9.0))
    old = (seen != 9).sum()
    assert 0 < old < 200, "then about half the time a stored fake is shown instead"
    assert sorted(pool.samples.flatten().tolist()).count(9.0) >= 1, "and the new fake takes its slot"
