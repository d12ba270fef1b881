"""Each loss against its formula (GAN_NOTES §1-2), computed by hand here, not by the implementation."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import nn

from ganrun import losses as L
from ganrun.terms import now

LOG2 = math.log(2.0)
REAL = [2.0, -1.0, 0.5]      # fixed raw scores D(x)
FAKE = [0.5, -3.0, 1.5]      # fixed raw scores D(x~)


def s(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def scores(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


class FixedCritic(nn.Module):
    """A 'D' that returns preset scores: the first half of its input's rows are real, the rest fake."""

    def __init__(self, real, fake):
        super().__init__()
        self.table = {"real": scores(real), "fake": scores(fake)}

    def forward(self, x):
        return self.table["real" if x[0, 0] > 0 else "fake"]


def d_and_g(loss: L.GANLoss, real=REAL, fake=FAKE) -> tuple[float, float]:
    D = FixedCritic(real, fake)
    x_real, x_fake = torch.ones(len(real), 1), -torch.ones(len(fake), 1)
    d = loss.discriminator(D, x_real, x_fake)["loss/D"]
    g = loss.generator(D, x_real, x_fake)["loss/G"]
    return float(d), float(g)


# --------------------------------------------------------------------------- §1: the equilibrium
@pytest.mark.parametrize("cls,g_value", [(L.Minimax, -LOG2), (L.NonSaturating, LOG2)])
def test_at_equilibrium_d_is_one_half_and_the_d_loss_is_2_log_2(cls, g_value):
    """D* = 1/2 everywhere (logit 0): V = -2 log 2, so D's loss -V is 2 log 2 (about 1.386);
    mm's G loss E[log(1 - 1/2)] = -log 2, ns's -E[log 1/2] = log 2."""
    d, g = d_and_g(cls(), real=[0.0] * 4, fake=[0.0] * 4)
    assert d == pytest.approx(2 * LOG2, abs=1e-12)
    assert g == pytest.approx(g_value, abs=1e-12)


# --------------------------------------------------------------------------- §2: each row of the table
def test_minimax_row():
    d, g = d_and_g(L.Minimax())
    assert d == pytest.approx(-mean(math.log(s(r)) for r in REAL) - mean(math.log(1 - s(f)) for f in FAKE))
    assert g == pytest.approx(mean(math.log(1 - s(f)) for f in FAKE))


def test_non_saturating_row():
    d, g = d_and_g(L.NonSaturating())
    assert d == pytest.approx(-mean(math.log(s(r)) for r in REAL) - mean(math.log(1 - s(f)) for f in FAKE))
    assert g == pytest.approx(-mean(math.log(s(f)) for f in FAKE))


def test_wgan_row():
    d, g = d_and_g(L.Wasserstein(clip=0.01))
    assert d == pytest.approx(-mean(REAL) + mean(FAKE))
    assert g == pytest.approx(-mean(FAKE))


def test_lsgan_row():
    d, g = d_and_g(L.LeastSquares())
    assert d == pytest.approx(mean((r - 1) ** 2 for r in REAL) + mean(f ** 2 for f in FAKE))
    assert g == pytest.approx(mean((f - 1) ** 2 for f in FAKE))


def test_hinge_row():
    d, g = d_and_g(L.Hinge())
    assert d == pytest.approx(mean(max(0, 1 - r) for r in REAL) + mean(max(0, 1 + f) for f in FAKE))
    assert g == pytest.approx(-mean(FAKE))


def test_relativistic_standard_row():
    d, g = d_and_g(L.RelativisticStandard())
    assert d == pytest.approx(-mean(math.log(s(r - f)) for r, f in zip(REAL, FAKE)))
    assert g == pytest.approx(-mean(math.log(s(f - r)) for r, f in zip(REAL, FAKE)))


def test_relativistic_average_row():
    d, g = d_and_g(L.RelativisticAverage())
    mr, mf = mean(REAL), mean(FAKE)
    assert d == pytest.approx(-mean(math.log(s(r - mf)) for r in REAL) - mean(math.log(1 - s(f - mr)) for f in FAKE))
    assert g == pytest.approx(-mean(math.log(s(f - mr)) for f in FAKE) - mean(math.log(1 - s(r - mf)) for r in REAL))


def test_began_row_uses_the_current_k():
    loss = L.BEGAN(gamma=0.5, lambda_k=0.001, k_init=0.3)
    energies_real, energies_fake = [0.2, 0.4], [0.9, 0.5]    # L(v) per sample, as D returns them
    d, g = d_and_g(loss, energies_real, energies_fake)
    assert d == pytest.approx(mean(energies_real) - 0.3 * mean(energies_fake))
    assert g == pytest.approx(mean(energies_fake))


@pytest.mark.parametrize("cls", [L.Minimax, L.NonSaturating, partial(L.Wasserstein, clip=0.01), L.LeastSquares,
                                 L.Hinge, L.RelativisticStandard, L.RelativisticAverage])
def test_large_logits_give_finite_losses_with_the_right_asymptotics(cls):
    big = [1000.0, -1000.0, 500.0]
    d, g = d_and_g(cls(), real=big, fake=[-v for v in big])
    assert math.isfinite(d) and math.isfinite(g)
    if cls is L.NonSaturating:       # -log s(l) ~ -l for l -> -inf: no inf, no nan
        d2, g2 = d_and_g(cls(), real=[1000.0], fake=[-1000.0])
        assert g2 == pytest.approx(1000.0) and d2 == pytest.approx(0.0, abs=1e-12)
    if cls is L.Minimax:             # log(1 - s(l)) ~ -l for l -> +inf
        _, g2 = d_and_g(cls(), real=[0.0], fake=[1000.0])
        assert g2 == pytest.approx(-1000.0)


def test_gradients_through_large_logits_are_finite():
    logits = torch.tensor([80.0, -80.0, 0.0], requires_grad=True)
    for cls in (L.Minimax, L.NonSaturating, L.RelativisticAverage):
        loss = cls()
        value = loss.d_loss(logits, -logits) + loss.g_loss(logits, logits.detach())
        (grad,) = torch.autograd.grad(value, logits)
        assert torch.isfinite(grad).all()


# --------------------------------------------------------------------------- gradient penalties
class Linear(nn.Module):
    """D(x) = <w, x>, summed over all non-batch dimensions."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1)


@pytest.mark.parametrize("shape", [(2,), (1, 4, 4), (3, 8, 8)])
def test_wgan_gp_on_a_linear_critic_is_lambda_times_norm_minus_one_squared(shape):
    torch.manual_seed(0)
    w = torch.randn(*shape)
    loss = L.WassersteinGP(gp_weight=10.0)
    gp = loss.penalty(Linear(w), torch.randn(16, *shape), torch.randn(16, *shape)).detach()
    assert float(gp) == pytest.approx(10.0 * (float(w.norm()) - 1.0) ** 2, rel=1e-5)


class Recorder(nn.Module):
    """D(x) = 0.5 * sum(x^2) (gradient = x), remembering every input it was shown."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return 0.5 * (x ** 2).flatten(1).sum(1)


def test_wgan_gp_draws_t_per_sample_not_per_pixel():
    D = Recorder()
    real, fake = torch.ones(32, 3, 4, 4), torch.zeros(32, 3, 4, 4)
    L.WassersteinGP(gp_weight=10.0).penalty(D, real, fake)
    x_hat = D.seen[-1]                              # x^ = t * 1 + (1 - t) * 0 = t
    per_sample = x_hat.flatten(1)
    assert torch.equal(per_sample, per_sample[:, :1].expand_as(per_sample)), "one t for all of a sample"
    assert per_sample[:, 0].unique().numel() == 32, "a different t for each sample"
    assert per_sample.min() >= 0 and per_sample.max() <= 1


def test_gradient_penalty_norm_is_over_all_non_batch_dimensions():
    D = Recorder()
    x_hat = torch.full((4, 2, 3, 3), 0.5)           # gradient = x^, norm = 0.5 * sqrt(18) per sample
    value = L.gradient_penalty(D, x_hat).detach()
    assert float(value) == pytest.approx((0.5 * math.sqrt(18) - 1) ** 2)


def test_r1_is_the_mean_squared_slope_of_d_at_the_real_points():
    D = Recorder()                                  # gradient = x: ||x||^2 per sample
    real = torch.arange(24, dtype=torch.float32).reshape(4, 2, 3) / 10
    expected = float((real.flatten(1) ** 2).sum(1).mean())
    assert float(L.r1_penalty(D, real).detach()) == pytest.approx(expected)
    assert torch.equal(D.seen[-1], real), "R1 looks at the real points themselves, not between them"


def test_r1_trains_d_towards_a_flat_slope():
    """For a linear D(x) = w.x, R1 = ||w||^2 whatever the data, so its gradient in w is 2w."""
    D = nn.Linear(5, 1, bias=True)
    penalty = L.r1_penalty(D, torch.randn(8, 5))
    assert float(penalty.detach()) == pytest.approx(float((D.weight.detach() ** 2).sum()), rel=1e-6)
    (grad,) = torch.autograd.grad(penalty, D.weight)
    assert torch.allclose(grad, 2 * D.weight.detach())


def test_dragan_perturbs_the_real_data_only():
    real = torch.randn(64, 2) * 3
    D = Recorder()
    loss = L.DRAGAN(gp_weight=10.0, perturb=0.5)
    torch.manual_seed(1)
    loss.penalty(D, real, torch.zeros(64, 2))
    torch.manual_seed(1)
    loss.penalty(D, real, torch.full((64, 2), 100.0))
    a, b = D.seen
    assert torch.equal(a, b), "the fake batch does not enter the penalty"
    delta = a - real
    assert delta.min() >= 0 and delta.max() <= 0.5 * float(real.std()) + 1e-6
    assert delta.abs().max() > 0


def test_penalties_train_d():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    for loss in (L.WassersteinGP(gp_weight=10.0), L.DRAGAN(gp_weight=10.0, perturb=0.5)):
        D.zero_grad()
        loss.penalty(D, torch.randn(8, 2), torch.randn(8, 2)).backward()
        # every weight shapes grad_x D (the last bias does not)
        assert all(m.weight.grad is not None and m.weight.grad.abs().sum() > 0
                   for m in D if isinstance(m, nn.Linear))


# --------------------------------------------------------------------------- after each D step
def test_wgan_clipping_leaves_every_d_weight_in_minus_c_c():
    D = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(10)
    assert max(float(p.detach().abs().max()) for p in D.parameters()) > 0.01
    L.Wasserstein(clip=0.01).after_d_step(D, {})
    assert all(float(p.detach().abs().max()) <= 0.01 for p in D.parameters())
    assert any(float(p.detach().abs().max()) == pytest.approx(0.01) for p in D.parameters())


@pytest.mark.parametrize("k,l_real,l_fake,expected", [
    (0.5, 0.4, 0.1, 0.5 + 0.001 * (0.5 * 0.4 - 0.1)),    # fakes rebuilt too well: k grows
    (0.5, 0.4, 0.3, 0.5 + 0.001 * (0.5 * 0.4 - 0.3)),    # too badly: k shrinks
    (0.0, 0.0, 5.0, 0.0),                                # clipped at 0
    (1.0, 10.0, 0.0, 1.0),                               # clipped at 1
])
def test_began_k_update_and_clip(k, l_real, l_fake, expected):
    loss = L.BEGAN(gamma=0.5, lambda_k=0.001, k_init=k)
    loss.after_d_step(None, {"D/real": torch.tensor(l_real), "D/fake": torch.tensor(l_fake)})
    assert float(loss.k) == pytest.approx(expected)


def test_began_logs_k_and_the_convergence_measure():
    loss = L.BEGAN(gamma=0.5, lambda_k=0.001, k_init=0.25)
    terms = loss.discriminator(FixedCritic([0.2, 0.4], [0.9, 0.5]), torch.ones(2, 1), -torch.ones(2, 1))
    assert float(terms["began/k"]) == pytest.approx(0.25)
    assert float(terms["began/M"]) == pytest.approx(0.3 + abs(0.5 * 0.3 - 0.7))   # L(x) + |g L(x) - L(x~)|
    assert "k" in loss.state_dict(), "k_t is saved with the checkpoint"


def test_wgan_logs_the_wasserstein_estimate():
    terms = L.Wasserstein(clip=0.01).discriminator(FixedCritic(REAL, FAKE), torch.ones(3, 1), -torch.ones(3, 1))
    assert float(now(terms["loss/wasserstein"])) == pytest.approx(mean(REAL) - mean(FAKE))


def test_wgan_gp_total_d_loss_includes_the_penalty():
    torch.manual_seed(0)
    w = torch.randn(2)
    D = Linear(w)
    terms = {k: now(v) for k, v in L.WassersteinGP(gp_weight=10.0).discriminator(D, torch.randn(8, 2),
                                                                                torch.randn(8, 2)).items()}
    assert float(terms["loss/gp"]) == pytest.approx(10 * (float(w.norm()) - 1) ** 2, rel=1e-5)
    assert float(terms["loss/wasserstein"]) == pytest.approx(float(terms["D/real"] - terms["D/fake"]))
    assert float(terms["loss/D"].detach()) == pytest.approx(float(-terms["D/real"] + terms["D/fake"] + terms["loss/gp"]),
                                                   rel=1e-5)
