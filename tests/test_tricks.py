"""Each trick of GAN_NOTES §5 runs, changes what it should, and leaves the rest alone; presets
bring their recipes and the command line beats them."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from conftest import compose_config, scalar_and_image_tags, scalars, train_run
from ganrun import losses as L
from ganrun.checkpoint import load_checkpoint
from ganrun.errors import ConfigError
from ganrun.builder import build
from ganrun.games.gan import mode_seeking
from ganrun.trained import load_trained
from ganrun.players import EMA
from ganrun.tricks import DView, ReplayBuffer, instance_noise_std


# --------------------------------------------------------------------------- presets and overrides
def test_loss_presets_bring_their_recipes():
    wgan = compose_config(["loss=wgan"])
    assert wgan.optimizer.d.type == "rmsprop" and wgan.optimizer.d.lr == 5e-5
    assert wgan.optimizer.d.momentum == 0 and wgan.train.n_critic == 5 and wgan.loss.clip == 0.01
    gp = compose_config(["loss=wgan_gp"])
    assert gp.optimizer.g.type == "adam" and gp.optimizer.g.lr == 1e-4
    assert list(gp.optimizer.d.betas) == [0.5, 0.9] and gp.train.n_critic == 5 and gp.loss.gp_weight == 10
    hinge = compose_config(["loss=hinge"])           # SAGAN's recipe: TTUR, Adam betas (0, 0.9)
    assert (hinge.optimizer.g.lr, hinge.optimizer.d.lr) == (1e-4, 4e-4)
    assert list(hinge.optimizer.d.betas) == [0.0, 0.9]
    ns = compose_config(["loss=ns"])
    assert ns.optimizer.d.lr == 2e-4 and list(ns.optimizer.d.betas) == [0.5, 0.999]


@pytest.mark.parametrize("overrides,key,value", [
    (["loss=wgan", "optimizer.d.lr=1e-3"], "optimizer.d.lr", 1e-3),
    (["loss=wgan", "train.n_critic=2"], "train.n_critic", 2),
    (["loss=wgan_gp", "loss.gp_weight=1"], "loss.gp_weight", 1.0),
    (["loss=wgan", "optimizer=adam"], "optimizer.d.type", "adam"),
    (["loss=wgan_gp", "dataset=gaussian1d", "loss.gp_weight=3"], "loss.gp_weight", 3.0),
])
def test_the_command_line_beats_presets_and_tuning(overrides, key, value):
    from omegaconf import OmegaConf

    assert OmegaConf.select(compose_config(overrides), key) == value


def test_ttur_gives_d_a_faster_learning_rate():
    cfg = compose_config(["optimizer=ttur"])
    assert (cfg.optimizer.g.lr, cfg.optimizer.d.lr) == (1e-4, 4e-4)


# --------------------------------------------------------------------------- labels
def test_one_sided_label_smoothing_appears_in_the_d_loss():
    d_real, d_fake = torch.tensor([2.0]), torch.tensor([-1.0])
    smooth = L.NonSaturating(labels=L.Labels(smoothing=0.1)).d_loss(d_real, d_fake)
    s = lambda v: 1 / (1 + math.exp(-v))
    expected = -(0.9 * math.log(s(2.0)) + 0.1 * math.log(1 - s(2.0))) - math.log(1 - s(-1.0))
    assert float(smooth) == pytest.approx(expected, rel=1e-6)
    hard = L.NonSaturating().d_loss(d_real, d_fake)
    assert float(hard) == pytest.approx(-math.log(s(2.0)) - math.log(1 - s(-1.0)), rel=1e-6)


def test_noisy_labels_fall_in_their_ranges_and_flips_swap_targets():
    torch.manual_seed(0)
    real, fake = L.Labels(noisy=True)(torch.zeros(10_000))
    assert 0.8 <= real.min() and real.max() <= 1.2 and real.std() > 0.1
    assert 0.0 <= fake.min() and fake.max() <= 0.3
    real, fake = L.Labels(flip=0.25)(torch.zeros(10_000))
    swapped = (real == 0).float()
    assert torch.equal(swapped, (fake == 1).float())
    assert float(swapped.mean()) == pytest.approx(0.25, abs=0.02)
    real, fake = L.Labels()(torch.zeros(5))
    assert real.tolist() == [1.0] * 5 and fake.tolist() == [0.0] * 5


def test_label_tricks_with_a_loss_that_has_no_labels_are_refused():
    with pytest.raises(ConfigError, match="tricks.label_smoothing .* loss=ns, mm, lsgan or dragan"):
        build(compose_config(["dataset=ring", "loss=wgan", "tricks.label_smoothing=0.1"]))


# --------------------------------------------------------------------------- what D sees
def test_instance_noise_decays_linearly_to_zero():
    assert [instance_noise_std(0.5, 100, s) for s in (0, 50, 100, 200)] == [0.5, 0.25, 0.0, 0.0]
    assert instance_noise_std(0.0, 100, 0) == 0.0


def test_instance_noise_reaches_d_and_is_logged(run_dir):
    view = DView(nn.Identity())
    x = torch.zeros(1000, 2)
    assert torch.equal(view(x), x)
    view.noise_std = 0.5
    assert float(view(x).std()) == pytest.approx(0.5, rel=0.1)
    train_run(run_dir, ["tricks.instance_noise=0.3"])
    logged = scalars(run_dir / "tb", "tricks/instance_noise")
    assert [s for s, _ in logged] == [2, 4, 6]
    assert [round(v, 3) for _, v in logged] == [round(0.3 * (1 - (s - 1) / 6), 3) for s in (2, 4, 6)]


def test_pacgan_packs_consecutive_samples_into_one_d_input():
    seen = []
    view = DView(nn.Module(), pack=2)
    view.D.forward = lambda x: seen.append(x) or x.flatten(1).sum(1)
    x = torch.arange(8.0).view(4, 2)
    assert view(x).shape == (2,)
    assert seen[0].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    images = torch.randn(6, 1, 4, 4)
    view = DView(nn.Flatten(), pack=3)
    assert view(images).shape == (2, 48)
    with pytest.raises(ConfigError, match="tricks.pack=3 must divide train.batch_size=64"):
        build(compose_config(["dataset=ring", "tricks.pack=3"]))


def test_joint_batches_run_d_once_on_real_and_fake():
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(len(x))
            return x.sum(1)

    real, fake = torch.ones(4, 2), torch.zeros(4, 2)
    L.NonSaturating(joint_batches=True).discriminator(Counting(), real, fake)
    assert calls == [8]
    calls.clear()
    L.NonSaturating().discriminator(Counting(), real, fake)
    assert calls == [4, 4]


def test_joint_batches_matter_with_batch_norm_in_d():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1), nn.Flatten(0))
    real, fake = torch.randn(8, 2) + 3, torch.randn(8, 2)
    sep = L.NonSaturating().scores(D, real, fake)
    joint = L.NonSaturating(joint_batches=True).scores(D, real, fake)
    assert not torch.allclose(sep[0], joint[0])


# --------------------------------------------------------------------------- replay
def test_replay_buffer_shows_d_a_share_of_past_fakes():
    torch.manual_seed(0)
    buf = ReplayBuffer(capacity=32, share=0.25)
    first = torch.full((8, 2), 1.0)
    assert torch.equal(buf.mix(first), first), "empty buffer: the batch passes unchanged"
    second = torch.full((8, 2), 2.0)
    mixed = buf.mix(second)
    assert (mixed[:2] == 1.0).all() and (mixed[2:] == 2.0).all(), "2 of 8 from the buffer"
    assert buf.filled == 16
    # state round trip (what checkpoints keep)
    clone = ReplayBuffer(capacity=32, share=0.25)
    clone.load_state_dict(buf.state_dict())
    assert clone.filled == 16 and clone.next == 16 and torch.equal(clone.samples[:16], buf.samples[:16])
    off = ReplayBuffer(capacity=32, share=0.0)
    assert torch.equal(off.mix(first), first) and off.filled == 0


def test_replay_buffer_is_saved_in_checkpoints(run_dir):
    train_run(run_dir, ["tricks.replay=0.5", "tricks.replay_size=20"])
    state = load_checkpoint(run_dir)
    assert state["state"]["replay"]["_extra_state"]["filled"] == 20


# --------------------------------------------------------------------------- G_ema
def test_ema_is_an_exponential_moving_average_of_g():
    G = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(G, decay=0.9, start=0)
    before = ema.module[0].weight.clone()
    with torch.no_grad():
        G[0].weight.add_(1.0)
    G(torch.randn(4, 2))                                 # moves BN running stats and its counter
    ema.update(step=1)
    assert torch.allclose(ema.module[0].weight, 0.9 * before + 0.1 * G[0].weight)
    assert torch.allclose(ema.module[1].running_mean, 0.1 * G[1].running_mean)
    assert int(ema.module[1].num_batches_tracked) == 1, "integer buffers are copied"
    late = EMA(G, decay=0.9, start=5)
    with torch.no_grad():
        G[0].weight.add_(1.0)
    late.update(step=3)
    assert torch.equal(late.module[0].weight, G[0].weight), "before ema_start G_ema follows G"


def test_g_ema_draws_samples_and_is_saved(run_dir):
    train_run(run_dir, ["tricks.ema=0.5"])
    state = load_checkpoint(run_dir)
    assert state["players"]["G"]["ema"] is not None
    assert any(not torch.equal(state["players"]["G"]["ema"][k], state["players"]["G"]["module"][k]) for k in state["players"]["G"]["module"])
    trained = load_trained(run_dir, "cpu")
    assert all(torch.equal(trained.exp.players["G"].module.state_dict()[k], state["players"]["G"]["ema"][k]) for k in state["players"]["G"]["ema"])


# --------------------------------------------------------------------------- the rest
def test_spectral_norm_trick_covers_every_d_layer():
    exp = build(compose_config(["dataset=ring", "tricks.spectral_norm=true"]))
    linears = [m for m in exp.players["D"].module.modules() if isinstance(m, nn.Linear)]
    assert linears and all("weight" in m.parametrizations for m in linears)
    assert not any(hasattr(m, "parametrizations") for m in exp.players["G"].module.modules() if isinstance(m, nn.Linear))


def test_uniform_prior():
    exp = build(compose_config(["dataset=ring", "tricks.prior=uniform"]))
    z = exp.game.z(10_000)
    assert z.min() >= -1 and z.max() <= 1 and float(z.std()) == pytest.approx(1 / math.sqrt(3), rel=0.05)


@pytest.mark.parametrize("trick", [
    "tricks.label_smoothing=0.1", "tricks.noisy_labels=true", "tricks.label_flip=0.05",
    "tricks.instance_noise=0.1", "tricks.joint_batches=true", "tricks.replay=0.5", "tricks.ema=0.99",
    "tricks.spectral_norm=true", "tricks.pack=2", "tricks.prior=uniform", "optimizer=ttur",
    "train.n_critic=2", "tricks.mode_seeking=1", "tricks.r1=1",
])
def test_each_trick_trains_a_few_steps(trick, run_dir):
    metrics = train_run(run_dir, [trick])
    assert math.isfinite(metrics["loss_d"]) and math.isfinite(metrics["loss_g"])


@pytest.mark.parametrize("loss", ["mm", "ns", "wgan", "wgan_gp", "lsgan", "dragan", "began", "hinge",
                                  "rsgan", "ragan"])
@pytest.mark.parametrize("dataset", ["ring", "digits"])
def test_every_loss_trains_on_toy_and_image_data(loss, dataset, run_dir):
    extra = ["model.g_width=8", "model.d_width=8", "dataset.resolution=16"] if dataset == "digits" else []
    metrics = train_run(run_dir, [f"loss={loss}", f"dataset={dataset}", *extra])
    assert math.isfinite(metrics["loss_d"]) and math.isfinite(metrics["loss_g"])
    scalar_tags, _ = scalar_and_image_tags(run_dir / "tb")
    own = {"wgan": {"loss/wasserstein"}, "wgan_gp": {"loss/wasserstein", "loss/gp"}, "dragan": {"loss/gp"},
           "began": {"began/k", "began/M"}}.get(loss, set())
    assert own <= scalar_tags


def test_began_uses_the_autoencoder_form_and_keeps_k(run_dir):
    from ganrun.models import ReconstructionEnergy

    for overrides in (["dataset=ring"], ["dataset=digits", "dataset.resolution=16", "model.d_width=8"]):
        exp = build(compose_config(["loss=began", *overrides]))
        assert isinstance(exp.players["D"].module, ReconstructionEnergy)
    train_run(run_dir, ["loss=began", "loss.lambda_k=0.5", "loss.k_init=0.2"])
    k = float(load_checkpoint(run_dir)["state"]["loss"]["k"])
    assert k != 0.2 and 0.0 <= k <= 1.0


# --------------------------------------------------------------------------- mode seeking (MSGAN)
def test_mode_seeking_term_is_msgan_ratio_inverted():
    fake = torch.zeros(4, 1, 2, 2)
    fake[2:] = 0.5                                  # the halves differ by 0.5 in every pixel
    noise = torch.zeros(4, 3)
    noise[2:] = 2.0                                 # ... and by 2 in every noise component
    assert mode_seeking(fake, noise).item() == pytest.approx(1 / (0.5 / 2 + 1e-5))
    assert mode_seeking(torch.ones(4, 1, 2, 2), noise).item() == pytest.approx(1e5), "G ignoring z: 1 / eps"
    far = fake.clone()
    far[2:] = 1.0
    assert mode_seeking(far, noise) < mode_seeking(fake, noise), "samples further apart cost G less"


@pytest.mark.parametrize("overrides", [["experiment=acgan"], ["experiment=infogan"]])
def test_mode_seeking_halves_share_classes_or_codes_and_differ_in_noise(overrides):
    exp = build(compose_config(overrides + ["tricks.mode_seeking=1", "train.batch_size=16", "device=cpu"]))
    game, scratch = exp.game, {}
    game.draw(scratch, keep_graph=False)
    g_in, h, noise_dims = scratch["g_in"], 8, game.G.module.latent_dim
    if g_in.y is not None:
        assert torch.equal(g_in.y[:h], g_in.y[h:]) and len(g_in.y.unique()) > 1
    if g_in.codes is not None:
        assert torch.equal(g_in.codes[:h], g_in.codes[h:])
        assert torch.equal(g_in.z[:, noise_dims:], g_in.codes), "G is given the codes Q must recover"
    assert (g_in.z[:h, :noise_dims] != g_in.z[h:, :noise_dims]).all()
    plain = build(compose_config(overrides + ["train.batch_size=16", "device=cpu"])).game
    plain.draw(scratch, keep_graph=False)
    same = scratch["g_in"].y if g_in.y is not None else scratch["g_in"].codes
    assert not torch.equal(same[:h], same[h:]), "off, the halves are drawn independently"


def test_mode_seeking_term_is_added_to_gs_loss_on_the_noise_alone():
    """InfoGAN's z is [noise, codes]: the pair shares its codes, so only the noise's distance counts."""
    torch.manual_seed(0)
    exp = build(compose_config(["experiment=infogan", "tricks.mode_seeking=0.5", "train.batch_size=16", "device=cpu"]))
    game, scratch = exp.game, {}
    game.draw(scratch, keep_graph=True)
    fake, z, h = scratch["fake"].detach(), scratch["g_in"].z, 8
    noise = z[:, :62]                                               # experiment=infogan: 62 noise dimensions
    ratio = (fake[:h] - fake[h:]).abs().mean() / (noise[:h] - noise[h:]).abs().mean()
    with_term = game.g_loss(1, 0, scratch)
    assert with_term["loss/mode_seeking"].item() == pytest.approx(0.5 / (ratio.item() + 1e-5), rel=1e-5)
    game.mode_seeking = 0.0
    without = game.g_loss(1, 0, scratch)
    assert "loss/mode_seeking" not in without
    assert (with_term["loss/G"] - without["loss/G"]).item() == pytest.approx(with_term["loss/mode_seeking"].item(),
                                                                           rel=1e-4)


def test_mode_seeking_term_is_logged_in_a_run(run_dir):
    train_run(run_dir, ["dataset=digits", "game=conditional", "model.g_width=8", "model.d_width=8",
                        "tricks.mode_seeking=2", "eval.classifier=false", "eval.memorisation=false"])
    logged = scalars(run_dir / "tb", "loss/mode_seeking")
    assert logged and all(0 < v < 2e5 for _, v in logged)


@pytest.mark.parametrize("overrides,message", [
    (["train.batch_size=63"], "train.batch_size=63 is odd"),
    (["game=mixgan"], "tricks.mode_seeking with game=mixgan"),
    (["experiment=pix2pix"], "tricks.mode_seeking does not apply to game=pix2pix"),
])
def test_mode_seeking_refuses_what_it_cannot_pair(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(compose_config(["tricks.mode_seeking=1", *overrides]))


def test_mode_seeking_refuses_a_conditional_game_that_cannot_pair_its_classes():
    from ganrun.games.conditional import ConditionalGAN
    from ganrun.games.gan import GAN

    class Unpaired(ConditionalGAN):          # a user's conditional game, written before the option
        paired = GAN.paired

    cfg = compose_config(["game=conditional", "tricks.mode_seeking=1", "device=cpu"])
    with pytest.raises(ConfigError, match="does not say how to pair its inputs"):
        Unpaired(**{k: v for k, v in cfg.game.items() if k != "type"}, cfg=cfg,
                 data=build(compose_config(["game=conditional", "device=cpu"])).data, device=torch.device("cpu"))


# --------------------------------------------------------------------------- R1
def test_r1_adds_half_gamma_times_the_penalty_to_ds_loss_on_every_kth_update():
    """gamma 4, every 3rd D update (steps 1, 4, 7 with n_critic 1): 4 / 2 * 3 * E||grad D(x)||^2 there."""
    torch.manual_seed(0)
    game = build(compose_config(["dataset=ring", "tricks.r1=4", "tricks.r1_every=3", "device=cpu"])).game
    taken = []
    for step in range(1, 8):
        scratch: dict = {}
        terms = game.d_loss(step, 0, scratch)
        if "loss/r1" not in terms:
            continue
        taken.append(step)
        x = scratch["batch"].x
        assert terms["loss/r1"].item() == pytest.approx(6 * L.r1_penalty(game.d_view, x).item(), rel=1e-5)
        without = game.loss.discriminator(game.d_view, x, scratch["fake"])["loss/D"]
        assert (terms["loss/D"] - without).item() == pytest.approx(terms["loss/r1"].item(), rel=1e-4)
    assert taken == [1, 4, 7]


def test_lazy_r1_counts_d_updates_not_steps():
    """n_critic 2, every 3rd D update: updates 0, 3, 6 are (step 1, i 0), (2, 1), (4, 0)."""
    game = build(compose_config(["dataset=ring", "tricks.r1=1", "tricks.r1_every=3", "train.n_critic=2",
                                 "device=cpu"])).game
    taken = [(step, i) for step in range(1, 5) for i in range(2) if "loss/r1" in game.d_loss(step, i, {})]
    assert taken == [(1, 0), (2, 1), (4, 0)]


def test_r1_scores_the_reals_with_their_labels_in_a_conditional_game():
    torch.manual_seed(0)
    game = build(compose_config(["dataset=digits", "game=conditional", "model.g_width=8", "model.d_width=8",
                                 "tricks.r1=2", "device=cpu"])).game
    scratch: dict = {}
    r1 = game.d_loss(1, 0, scratch)["loss/r1"].item()
    x, y = scratch["batch"].x, scratch["y_real"]
    assert r1 == pytest.approx(L.r1_penalty(game.d_view, x, y).item(), rel=1e-5)
    assert r1 != pytest.approx(L.r1_penalty(game.d_view, x, y.roll(1)).item(), rel=1e-3)


def test_r1_takes_the_norm_over_a_whole_pack():
    """D(pack) = 0.5 ||pack||^2: its slope's squared norm is the sum of the pack's samples' ||x||^2."""
    from test_losses import Recorder

    x = torch.randn(8, 3)
    per_sample = (x ** 2).sum(1)
    assert L.r1_penalty(DView(Recorder(), 2), x).item() == pytest.approx(float(per_sample.sum() / 4), rel=1e-6)


def test_r1_gives_a_dcgan_d_layer_norm_instead_of_batch_norm():
    def norms(overrides):
        D = build(compose_config(["dataset=digits", "model.d_width=8", "device=cpu", *overrides])).players["D"].module
        return {type(m).__name__ for m in D.modules()}

    assert "BatchNorm2d" in norms([])
    with_r1 = norms(["tricks.r1=10"])
    assert "BatchNorm2d" not in with_r1 and with_r1 == norms(["loss=wgan_gp"]), "the gradient penalties' layer norm"


def test_r1_off_ignores_its_spacing():
    """tricks.r1=0 turns R1 off whatever tricks.r1_every says: a preset that sets both (experiment=acgan
    on the digits) is switched off with one key, and no update pays for a penalty."""
    game = build(compose_config(["experiment=acgan", "tricks.r1=0", "train.batch_size=8", "device=cpu"])).game
    assert game.r1_every == 4 and not game.double_backward
    assert "BatchNorm2d" in str(game.D.module), "without R1, D keeps the batch norm that auto gives it"
    scratch: dict = {}
    for i in range(4):
        assert "loss/r1" not in game.d_loss(1, i, scratch)


def test_r1_is_logged_in_a_run(run_dir):
    train_run(run_dir, ["tricks.r1=10", "tricks.r1_every=2", "train.n_critic=2"])
    logged = scalars(run_dir / "tb", "loss/r1")
    assert logged and all(v > 0 for _, v in logged)


@pytest.mark.parametrize("overrides,message", [
    (["tricks.r1=1", "loss=began"], "tricks.r1 penalises the slope of D's score"),
    (["tricks.r1=1", "game=mixgan"], "tricks.r1 with game=mixgan"),
    (["tricks.r1=1", "experiment=cyclegan"], "tricks.r1 does not apply to game=cyclegan"),
    (["tricks.r1_every=4", "experiment=pix2pix"], "tricks.r1_every does not apply to game=pix2pix"),
])
def test_r1_refuses_what_it_cannot_penalise(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build(compose_config(overrides))
