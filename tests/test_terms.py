"""The logging window: terms computed at log time give the means of the per-update values, catch the
first non-finite step, and survive a checkpoint exactly."""


import pytest
import torch

from ganrun import terms as stats
from ganrun.players import total_norms
from ganrun.terms import later, now, values
from ganrun.means import RunningMeans


def test_statistics_of_scores_match_their_definitions():
    s = torch.tensor([[2.0, -1.0, 0.0, 3.0], [-2.0, -1.0, -0.5, 1.0]])
    assert stats.mean(s).tolist() == [1.0, -0.625]
    assert stats.share_positive(s).tolist() == [0.5, 0.25]       # 0 is neither real nor fake
    assert stats.share_negative(s).tolist() == [0.25, 0.75]
    assert stats.mean_sign(s).tolist() == [0.25, -0.5]
    assert stats.mean_difference(s, -s).tolist() == [2.0, -1.25]
    assert stats.mean(torch.tensor([1.5, 2.5])).tolist() == [1.5, 2.5]     # scalars stacked: themselves


def test_a_window_computed_at_once_equals_each_update_computed_alone():
    torch.manual_seed(0)
    updates = [torch.randn(64, 1) for _ in range(7)]
    items = [later(stats.share_positive, u) for u in updates]
    alone = torch.stack([now(t) for t in items])
    assert torch.allclose(values(items), alone)
    assert torch.allclose(alone, torch.stack([(u > 0).float().mean() for u in updates]))
    mixed = items[:3] + [later(stats.share_positive, torch.randn(32, 1))]     # a smaller last batch
    assert values(mixed).shape == (4,)


def test_running_means_are_the_means_over_updates_of_every_term():
    means = RunningMeans(torch.device("cpu"))
    scores = [torch.tensor([1.0, -1.0]), torch.tensor([3.0, 1.0]), torch.tensor([-1.0, -3.0])]
    for step, s in enumerate(scores, 1):
        means.step = step
        means.add({"loss/D": torch.tensor(float(step), requires_grad=True) * 1,
                   "D/real": later(stats.mean, s), "health/d_acc_real": later(stats.share_positive, s)})
    means.add({"loss/G": torch.tensor(4.0)})
    out = means.pop()
    assert out == {"loss/D": pytest.approx(2.0), "D/real": pytest.approx(0.0),
                   "health/d_acc_real": pytest.approx(0.5), "loss/G": pytest.approx(4.0)}
    assert means.pop() == {}


def test_the_first_non_finite_step_is_found_when_the_window_is_settled():
    means = RunningMeans(torch.device("cpu"))
    for step, v in [(1, 1.0), (2, 2.0), (3, float("inf")), (4, float("nan"))]:
        means.step = step
        means.add({"loss/D": torch.tensor(v), "loss/G": torch.tensor(1.0)})
    assert means.divergence() == ("loss/D", 3)
    means.pop()
    means.step = 5
    means.add({"loss/G": torch.tensor(float("nan"))})
    assert means.divergence() == ("loss/D", 3), "the earliest step is kept across windows"
    huge = RunningMeans(torch.device("cpu"))
    for step in (1, 2):
        huge.step = step
        huge.add({"loss/D": torch.tensor(3e38)})      # finite, but their float32 sum is not
    assert huge.divergence() is None


def test_a_window_saved_mid_way_logs_the_same_means_as_one_never_saved():
    torch.manual_seed(1)
    updates = [(torch.randn(()), torch.randn(16)) for _ in range(10)]

    def feed(means, part):
        for loss, s in part:
            means.step += 1
            means.add({"loss/D": loss, "D/fake": later(stats.mean, s), "health/r_t": later(stats.mean_sign, s)})

    straight = RunningMeans(torch.device("cpu"))
    feed(straight, updates)
    first = RunningMeans(torch.device("cpu"))
    feed(first, updates[:4])
    resumed = RunningMeans(torch.device("cpu"))
    resumed.load_state_dict(first.state_dict())
    feed(resumed, updates[4:])
    assert resumed.pop() == straight.pop()       # exactly: the same values summed in the same order


def test_a_window_of_an_earlier_checkpoint_format_still_loads():
    old = {"sums": {"loss/D": torch.tensor(6.0)}, "counts": {"loss/D": 3}, "step": torch.tensor(3),
           "first_bad": {"loss/D": torch.tensor(-1), "loss/G": torch.tensor(-1)}}
    means = RunningMeans(torch.device("cpu"))
    means.load_state_dict(old)
    means.step += 1
    means.add({"loss/D": torch.tensor(10.0)})
    assert means.pop() == {"loss/D": pytest.approx(4.0)} and means.divergence() is None


def test_gradient_norms_are_totals_over_each_updates_tensors():
    updates = [[torch.tensor(3.0), torch.tensor(4.0)], [torch.tensor(0.0), torch.tensor(1.0)]]
    assert total_norms(updates, torch.device("cpu")).tolist() == [5.0, 1.0]
    ragged = [[torch.tensor(3.0), torch.tensor(4.0)], []]
    assert total_norms(ragged, torch.device("cpu")).tolist() == [5.0, 0.0]


def test_a_player_whose_weights_got_no_gradient_logs_a_norm_of_zero():
    from ganrun.players import Players, Precision

    players = Players(Precision("fp32", torch.device("cpu")))
    frozen = players.add("F", torch.nn.Linear(2, 1))
    players._note_grad(frozen, frozen.scaler)           # no backward has run: every grad is None
    assert players.pop_grad_norms()["health/grad_F"].item() == 0.0


def test_the_logged_d_terms_of_a_loss_are_the_statistics_of_its_scores():
    from ganrun import losses as L

    d_real, d_fake = torch.tensor([2.0, -1.0, 0.5, 0.5]), torch.tensor([-3.0, 1.0, -1.0, -2.0])
    D = torch.nn.Identity()
    for loss in (L.NonSaturating(), L.Wasserstein(clip=0.0)):
        means = RunningMeans(torch.device("cpu"))
        means.add(loss.d_terms(D, d_real, d_fake, d_real, d_fake))
        out = means.pop()
        assert out["D/real"] == pytest.approx(0.5) and out["D/fake"] == pytest.approx(-1.25)
        assert out["health/d_acc_real"] == pytest.approx(0.75) and out["health/d_acc_fake"] == pytest.approx(0.75)
        assert out["health/r_t"] == pytest.approx(0.5)
    assert out["loss/wasserstein"] == pytest.approx(1.75)          # E[D(x)] - E[D(x~)]


def test_gradient_norms_are_taken_on_the_logging_steps_updates_only(monkeypatch, tmp_path):
    from conftest import compose_config
    from ganrun.players import Players
    from ganrun.loop import train

    noted = []
    real = Players._note_grad

    def counting(self, player, scaler):
        noted.append(player.name)
        real(self, player, scaler)

    monkeypatch.setattr(Players, "_note_grad", counting)
    train(compose_config(["dataset=ring", "train.steps=10", "train.log_every=4", "train.n_critic=2", "quiet=true",
                          "device=cpu", "eval.n=100", "train.sample_every=100", "train.ckpt_every=100"]),
          tmp_path / "run")
    # steps 4, 8 and the last (10) log: two D updates and one G update each
    assert sorted(noted) == ["D"] * 6 + ["G"] * 3


def test_a_resumed_optimizer_keeps_this_runs_implementation_not_the_checkpoints():
    """A checkpoint written before ganrun chose for-each optimizers on the CPU holds foreach=None in
    its param groups; loading it must not switch this run back to the slow per-parameter loop."""
    from omegaconf import OmegaConf

    from ganrun.players import Players, Precision

    node = OmegaConf.create({"type": "adam", "lr": 2e-4, "betas": [0.5, 0.999], "eps": 1e-8, "weight_decay": 0.0})
    players = Players(Precision("fp32", torch.device("cpu")))
    G = players.add("G", torch.nn.Linear(2, 1), node)
    assert G.optimizer.param_groups[0]["foreach"] is True
    state = G.state_dict()
    state["optimizer"]["param_groups"][0]["foreach"] = None
    G.load_state_dict(state, "G", "old.pt")
    assert G.optimizer.param_groups[0]["foreach"] is True
