"""Conditional GANs (cGAN, AC-GAN, projection) and InfoGAN: conditioning paths, their loss terms
against hand-computed values, pictures, metrics, sampling by class or code, exact resume, and
one-line refusals."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from conftest import FAST, compose_config, ganrun_here, scalar_and_image_tags, train_run
from ganrun.checkpoint import load_checkpoint
from ganrun.data import Batch
from ganrun.errors import ConfigError
from ganrun.games.conditional import ConditionalGAN
from ganrun.games.gan import GInputs
from ganrun.games.infogan import InfoGAN, gaussian_nll
from ganrun.metrics.classifier import matched_accuracy
from ganrun.models import ConditionalBatchNorm, Conditioning, DOut
from ganrun.models import dcgan, mlp
from ganrun.commands.sample import main as sample_main
from ganrun.loop import train

DIGITS = ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8"]
FORMS = {"cgan": Conditioning(10, "concat", "concat", 6), "acgan": Conditioning(10, "concat", "none", 6, True),
         "projection": Conditioning(10, "cbn", "projection", 6)}


# --------------------------------------------------------------------------- the networks
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("model", ["dcgan", "mlp"])
def test_each_form_conditions_g_and_d_on_the_class(form, model):
    cond = FORMS[form]
    torch.manual_seed(0)
    if model == "dcgan":
        G, D = dcgan.build(8, 8, 8, "auto", "auto", 0.2, 8, 0, data_shape=(1, 16, 16), cond=cond)
    else:
        G, D = mlp.build(8, [32], [32], "relu", "leaky_relu", 0.2, "tanh", "none", 5, 0.0, data_shape=(1, 16, 16), cond=cond)
    z = torch.randn(4, 8)
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.full((4,), 7)
    if form == "projection" and model == "dcgan":
        for cbn in [m for m in G.modules() if isinstance(m, ConditionalBatchNorm)]:
            assert torch.equal(cbn.gain.weight, torch.ones_like(cbn.gain.weight)), "gains start at 1"
            nn.init.normal_(cbn.gain.weight)                 # classes get their own affine
    G.eval()
    x0, x1 = G(z, y0), G(z, y1)
    assert x0.shape == (4, 1, 16, 16) and not torch.allclose(x0, x1), "G's output depends on the class"
    out0, out1 = D(x0, y0), D(x0, y1)
    if form == "acgan":
        assert isinstance(out0, DOut) and out0.logits.shape == (4, 10) and out0.score.shape == (4,)
        assert torch.equal(out0.score, out1.score), "AC-GAN's D scores without the label, then classifies"
    else:
        assert out0.shape == (4,) and not torch.allclose(out0, out1), "D's score depends on the class"


def test_projection_adds_the_inner_product_of_embedding_and_pooled_features():
    D = dcgan.Discriminator((1, 16, 16), 4, "none", 0.2, Conditioning(3, "none", "projection"))
    x, y = torch.randn(2, 1, 16, 16), torch.tensor([0, 2])
    h = x
    for layer in list(D.net)[:-1]:
        h = layer(h)
    expected = D.net[-1](h).view(2) + (D.embed(y) * h.sum(dim=(2, 3))).sum(1)
    assert torch.allclose(D(x, y), expected)


def test_an_unconditional_pair_is_built_exactly_as_before_conditioning_existed():
    """Same parameters, same order, same values: seeds keep their meaning."""
    torch.manual_seed(3)
    G, D = dcgan.build(16, 8, 8, "auto", "auto", 0.2, 8, 0, data_shape=(1, 16, 16))
    assert not any(isinstance(m, (nn.Embedding, ConditionalBatchNorm)) for m in [*G.modules(), *D.modules()])
    assert not hasattr(G, "embed") and not hasattr(D, "classify")


# --------------------------------------------------------------------------- the loss terms
def test_acgan_terms_are_the_cross_entropies_of_the_class_logits():
    game = SimpleNamespace(form="acgan", aux_weight=0.5, aux_fake=True)
    logits_real = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    logits_fake = torch.tensor([[1.0, 1.0], [3.0, 0.0]])
    y_real, y_fake = torch.tensor([0, 1]), torch.tensor([1, 1])

    def ce(logits, y):   # by hand: -log softmax at the true class, averaged
        return float(np.mean([math.log(math.exp(l[0]) + math.exp(l[1])) - l[t]
                              for l, t in zip(logits.tolist(), y.tolist())]))

    terms = {"loss/D": torch.tensor(1.0)}
    outputs = {"real": DOut(torch.zeros(2), logits_real), "fake": DOut(torch.zeros(2), logits_fake)}
    ConditionalGAN.d_extra(game, terms, outputs, Batch(torch.zeros(2, 1), y_real), GInputs(torch.zeros(2, 1), y_fake))
    aux_d = ce(logits_real, y_real) + ce(logits_fake, y_fake)
    assert float(terms["loss/aux_D"]) == pytest.approx(aux_d)
    assert float(terms["loss/D"]) == pytest.approx(1.0 + 0.5 * aux_d)
    assert float(terms["D/acc_real"]) == 1.0
    real_only = {"loss/D": torch.tensor(1.0)}
    ConditionalGAN.d_extra(SimpleNamespace(form="acgan", aux_weight=0.5, aux_fake=False), real_only, outputs,
                           Batch(torch.zeros(2, 1), y_real), GInputs(torch.zeros(2, 1), y_fake))
    assert float(real_only["loss/aux_D"]) == pytest.approx(ce(logits_real, y_real))
    g_terms = {"loss/G": torch.tensor(2.0)}
    ConditionalGAN.g_extra(game, g_terms, {"fake": DOut(torch.zeros(2), logits_fake)}, GInputs(torch.zeros(2, 1), y_fake))
    assert float(g_terms["loss/aux_G"]) == pytest.approx(ce(logits_fake, y_fake))
    assert float(g_terms["loss/G"]) == pytest.approx(2.0 + 0.5 * ce(logits_fake, y_fake))


def test_infogan_information_term_is_cross_entropy_plus_gaussian_nll():
    logits = torch.tensor([[0.0, math.log(3.0)]])          # p(code 1) = 3/4
    mean, log_var = torch.tensor([[0.5]]), torch.tensor([[math.log(4.0)]])   # N(0.5, 2^2)
    game = SimpleNamespace(categorical=2, cat_codes=1, continuous=1, lambda_cat=1.0, lambda_cont=0.1,
                           fixed_std=False, Q=SimpleNamespace(module=lambda h: (logits, mean, log_var)))
    codes = torch.tensor([[0.0, 1.0, -0.5]])                # categorical 1, continuous -0.5
    terms = {}
    info = InfoGAN.information(game, terms, torch.zeros(1, 4), codes)
    cat = -math.log(3 / 4)
    cont = 0.5 * math.log(2 * math.pi * 4.0) + (-0.5 - 0.5) ** 2 / (2 * 4.0)
    assert float(terms["info/cat"]) == pytest.approx(cat)
    assert float(terms["info/cont"]) == pytest.approx(cont)
    assert float(info) == pytest.approx(cat + 0.1 * cont)
    assert float(gaussian_nll(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2))) == \
        pytest.approx(2 * 0.5 * math.log(2 * math.pi))
    # game.cont_std=fixed (the official code's fix_std): Q's variance is 1 whatever Q says
    game.fixed_std = True
    InfoGAN.information(game, terms, torch.zeros(1, 4), codes)
    assert float(terms["info/cont"]) == pytest.approx(0.5 * math.log(2 * math.pi) + (-0.5 - 0.5) ** 2 / 2)


def test_several_categorical_codes_add_one_cross_entropy_each():
    # game.cat_codes=2 of 3 values (the paper's SVHN has four codes of 10): Q's logits are one block
    # per code, and L_I sums the codes' cross-entropies (each averaged over the samples)
    logits = torch.tensor([[0.0, math.log(3.0), 0.0, 0.0, 0.0, math.log(2.0)],
                           [math.log(4.0), 0.0, 0.0, 0.0, 0.0, 0.0]])
    game = SimpleNamespace(categorical=3, cat_codes=2, continuous=0, lambda_cat=2.0, lambda_cont=0.1,
                           fixed_std=False, Q=SimpleNamespace(module=lambda h: (logits, None, None)))
    codes = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 1.0],   # sample 0: code 0 = 1, code 1 = 2
                          [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]])  # sample 1: code 0 = 0, code 1 = 1
    terms = {}
    info = InfoGAN.information(game, terms, torch.zeros(2, 4), codes)
    code0 = (-math.log(3 / 5) - math.log(4 / 6)) / 2
    code1 = (-math.log(2 / 4) - math.log(1 / 3)) / 2
    assert float(terms["info/cat"]) == pytest.approx(code0 + code1)
    assert float(info) == pytest.approx(2.0 * (code0 + code1))


def test_code_accuracy_is_the_best_one_to_one_matching():
    classes = torch.tensor([3, 3, 1, 1, 0, 0, 2, 2])
    assert matched_accuracy(torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), classes, 4) == 1.0   # a relabelling
    assert matched_accuracy(torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), classes, 4) == 0.5   # two codes, four classes


# --------------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def acgan_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("acgan") / "run"
    train_run(run, DIGITS + ["game=conditional", "game.form=acgan", "game.columns=3"])
    return run


def test_a_conditional_run_logs_its_terms_a_class_grid_and_conditional_metrics(acgan_run):
    metrics = json.loads((acgan_run / "metrics.json").read_text())
    assert 0 <= metrics["cond_acc"] <= 1 and metrics["intra_fd"] > 0 and "fd_digits" in metrics
    assert "cond_acc" in metrics["protocol"] and "intra_fd" in metrics["protocol"]
    scalar_tags, image_tags = scalar_and_image_tags(acgan_run / "tb")
    assert {"loss/aux_D", "loss/aux_G", "D/acc_real"} <= scalar_tags
    assert "samples/classes" in image_tags
    from PIL import Image

    grid = np.asarray(Image.open(acgan_run / "samples" / "step_0000006_classes.png"))
    assert grid.shape[0] == 10 * 18 + 2, "one row of 16 px images (2 px padding) per class"


def test_sampling_by_class_round_robin_and_by_name(acgan_run, tmp_path, capsys):
    assert sample_main([str(acgan_run), "--n", "12", "--out", str(tmp_path / "all.npy")]) == 0
    assert np.load(tmp_path / "all_labels.npy").tolist() == [i % 10 for i in range(12)]
    assert sample_main([str(acgan_run), "--n", "5", "--class", "7", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s_labels.npy").tolist() == [7] * 5
    assert sample_main([str(acgan_run), "--n", "5", "--class", "12", "--out", str(tmp_path / "x.npy")]) == 2
    assert capsys.readouterr().err.strip().startswith("ganrun-sample: error: --class 12: this run has 10 classes")
    # the class is an input of the exported G too
    ganrun_here(str(acgan_run), "--out", str(tmp_path / "g.safetensors"), cwd=tmp_path, script="ganrun-export",
                check=True)
    assert sample_main([str(tmp_path / "g.safetensors"), "--n", "3", "--class", "2",
                        "--out", str(tmp_path / "e.npy")]) == 0
    assert np.load(tmp_path / "e_labels.npy").tolist() == [2, 2, 2]


@pytest.mark.parametrize("game", [["game=conditional"], ["game=conditional", "game.form=cgan", "loss=wgan_gp"],
                                  ["game=infogan", "game.continuous=1"],
                                  ["game=infogan", "game.cat_codes=2", "game.categorical=3"]])
def test_conditional_and_infogan_runs_resume_exactly(game, tmp_path):
    overrides = FAST + DIGITS + game + ["train.ckpt_every=4", "tricks.ema=0.5"]
    train(compose_config(overrides + ["train.steps=8"]), tmp_path / "straight")
    train(compose_config(overrides + ["train.steps=4"]), tmp_path / "half")
    train(compose_config(overrides + ["train.steps=8"]), tmp_path / "half",
          resume_state=load_checkpoint(tmp_path / "half"))
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "half")
    assert set(a["players"]) == ({"G", "D", "Q"} if "game=infogan" in game else {"G", "D"})
    for player in a["players"]:
        for k, v in a["players"][player]["module"].items():
            assert torch.equal(v, b["players"][player]["module"][k]), f"{player} {k}"


def test_an_infogan_run_logs_information_terms_traversals_and_code_accuracy(tmp_path, capsys):
    run = tmp_path / "run"
    metrics = train_run(run, DIGITS + ["experiment=infogan"])
    assert 0 < metrics["code_acc"] <= 1 and "code_acc" in metrics["protocol"]
    scalar_tags, image_tags = scalar_and_image_tags(run / "tb")
    assert {"info/cat", "info/cont"} <= scalar_tags
    assert {"samples/codes_cat", "samples/codes_cont0", "samples/codes_cont1"} <= image_tags
    state = load_checkpoint(run)
    assert state["players"]["Q"]["optimizer"]["state"], "Q trains"
    assert sample_main([str(run), "--n", "4", "--code", "3", "--out", str(tmp_path / "c.png")]) == 0
    assert sample_main([str(run), "--n", "4", "--code", "10", "--out", str(tmp_path / "c.png")]) == 2
    assert "this InfoGAN's categorical code takes 0 to 9" in capsys.readouterr().err


def test_an_infogan_run_with_several_categorical_codes(tmp_path):
    from ganrun.builder import build

    several = DIGITS + ["game=infogan", "game.cat_codes=3", "game.categorical=4", "game.continuous=1"]
    run = tmp_path / "run"
    metrics = train_run(run, several)
    assert 0 < metrics["code_acc"] <= 1                    # the first code against the classes
    _, image_tags = scalar_and_image_tags(run / "tb")
    assert {"samples/codes_cat", "samples/codes_cat1", "samples/codes_cat2", "samples/codes_cont0"} <= image_tags
    q_out = load_checkpoint(run)["players"]["Q"]["module"]["net.3.weight"]
    assert q_out.shape[0] == 3 * 4 + 2 * 1                # 3 codes of 4 logits, a mean and log-variance
    game = build(compose_config(FAST + several)).game
    codes = game.codes(50, torch.Generator().manual_seed(0), cat=torch.full((50,), 2))
    blocks = codes[:, :12].reshape(50, 3, 4)
    assert torch.equal(blocks.sum(2), torch.ones(50, 3)) and torch.equal(blocks[:, 0].argmax(1), torch.full((50,), 2))
    assert len(set(blocks[:, 1].argmax(1).tolist())) > 1   # --code fixes the first code; the others are drawn
    # code 1's picture: its value is the row (4 rows of 8 columns), the other codes the same down each column
    values = game.fixed_inputs(0)["cat1"].codes[:, :12].reshape(4, 8, 3, 4).argmax(3)
    assert torch.equal(values[:, :, 1], torch.arange(4)[:, None].expand(4, 8))
    assert torch.equal(values[:, :, [0, 2]], values[:1, :, [0, 2]].expand(4, 8, 2))
    assert sample_main([str(run), "--n", "4", "--code", "3", "--out", str(tmp_path / "c.npy")]) == 0
    assert np.load(tmp_path / "c_codes.npy").tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize("overrides,message", [
    (["dataset=ring", "game=conditional"], "game=conditional needs class labels, but dataset=ring has none"),
    (DIGITS + ["game=conditional", "tricks.pack=2"], "tricks.pack=2 with game=conditional"),
    (DIGITS + ["game=infogan", "tricks.replay=0.5"], "tricks.replay with game=infogan"),
    (DIGITS + ["game=conditional", "loss=began"], "loss=began with game=conditional"),
    (["dataset=digits", "game=conditional", "model=dcgan_notes", "dataset.resolution=64"],
     "model=dcgan_notes is the notes'"),
    (DIGITS + ["game=infogan", "game.categorical=0", "game.continuous=0"], "game=infogan needs at least one code"),
])
def test_impossible_combinations_are_one_clear_line(overrides, message):
    from ganrun.builder import build

    with pytest.raises(ConfigError, match=message):
        build(compose_config(overrides + ["device=cpu"]))


def test_the_command_line_refuses_a_conditional_run_on_unlabelled_data(tmp_path):
    proc = ganrun_here("dataset=ring", "game=conditional", "device=cpu", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "needs class labels" in proc.stderr


@pytest.mark.parametrize("spectral", [False, True])
def test_d_joins_the_class_planes_as_a_convolution_over_both_would(spectral):
    """cGAN's D convolves [x, e(y) as constant planes] (GAN_NOTES §7.1); ganrun computes the planes'
    part as e(y) times one response map per embedding channel. It must be that convolution, borders
    (zero padding) included, in its values and in the gradients reaching x, the embedding and the
    filters."""
    from ganrun.models import add_spectral_norm

    torch.manual_seed(0)
    D = dcgan.Discriminator((3, 16, 16), 8, "batch", 0.2, Conditioning(num_classes=10, d="concat", embed_dim=5))
    if spectral:
        add_spectral_norm(D)
    D.eval()                        # one weight for both ways (no power iteration in between)
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 9, 3])
    D.double()

    def by_concatenation():
        planes = D.embed(y)[:, :, None, None].expand(-1, -1, 16, 16)
        h = torch.cat([x, planes], dim=1)
        for layer in list(D.net):
            h = layer(h)
        return h.view(4)

    mine = D(x, y)
    grads = torch.autograd.grad(mine.sum(), [x, D.embed.weight, *D.net[0].parameters()])
    reference = by_concatenation()
    expected = torch.autograd.grad(reference.sum(), [x, D.embed.weight, *D.net[0].parameters()])
    assert torch.allclose(mine, reference, atol=1e-12, rtol=1e-10)
    for g, e in zip(grads, expected):
        assert torch.allclose(g, e, atol=1e-12, rtol=1e-10)
