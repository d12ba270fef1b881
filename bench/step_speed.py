"""Training-step speed of ganrun's loop against a bare loop, measured in the same run.

    python bench/step_speed.py                    # the three cases on this machine's device (~2.5 min, 2 CPU cores)
    python bench/step_speed.py --case ring --steps 1000 --repeats 7
    python bench/step_speed.py --case ring_wgan_gp --pieces    # what ganrun does per step beyond the bare loop
    python bench/step_speed.py --case ring --profile           # cProfile and torch.profiler of both loops

The baseline ("bare") is the loop of pytorch/examples' dcgan/main.py, written with no framework
around it: the same networks (built through ganrun from the same config and seed, so they are
identical), batch 64, torch.optim.Adam with the config's lr and betas (2e-4, (0.5, 0.999) for
ns; ganrun's wgan_gp preset, optimizer=adam_gp, for wgan_gp: 1e-4, (0.5, 0.9)), real batches indexed from a float tensor held on the
device (toy data: drawn by the same two tensor ops), and the fake batch of the last D step reused
for G's step (detached for D, not for G). Like pytorch/examples it does not freeze D during G's
update (D's weight gradients are computed there, then zeroed by the next D step), and it reads no
loss with `.item()`: nothing is logged. For `ns` D's loss is BCE-with-logits on ganrun's D
(which outputs logits), one backward for the real and one for the fake batch, as
pytorch/examples does; for `wgan_gp` (n_critic 5) the critic's loss is E[D(x~)] - E[D(x)] plus
lambda E[(||grad D(x^)||_2 - 1)^2] at per-sample interpolates (one backward), the first
n_critic - 1 fakes drawn without a graph, the last one reused by G's step.

On CUDA ganrun's Adam is the fused one (ganrun/optimizers.py), the bare loop's torch's default.

A second column ("naive") is what GAN scripts often do on top of that: a second G forward for
G's step and `.item()` on the losses every step (a host sync); it uses ganrun's data and loss.

ganrun is timed inside a whole `train()` run with the default logging (train.log_every=100):
from the end of step 10 to the end of step 10 + N (the game's step, the running sums on the
device and every schedule due in between), so start-up, the last picture, checkpoint and
evaluation lie outside. The bare and naive loops are timed over N steps after 10 warm-up steps.
CUDA is synchronised at both ends of each timed part. Each steps/s figure is the median of
--repeats measurements, the loops alternating within each repeat (the machine may be shared);
each ratio is the median of the repeats' own ratios. ganrun/bare is the goal's figure: 1.0 or
more means ganrun's bookkeeping (logging sums, health terms, grad norms) costs nothing.

--pieces switches each piece of that bookkeeping off in turn and reports its tensor operations
per step (exact), its cost in the loop (the full step's time minus the step's without it, every
variant and the bare loop interleaved in bursts of about 0.1 s, median of 6 x --repeats + 1
rounds; noisy on a shared machine) and its cost timed alone (a floor).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module

from ganrun.config import register_configs
from ganrun.builder import build
from ganrun.loop import train

CASES = {   # --case name: (label, overrides)
    "ring": ("mlp ring (ns)", ["dataset=ring", "model=mlp"]),
    "digits": ("dcgan digits 32px (ns)", ["dataset=digits", "model=dcgan"]),
    "ring_wgan_gp": ("mlp ring wgan_gp (n_critic 5)", ["dataset=ring", "model=mlp", "loss=wgan_gp"]),
}
QUIET = ["quiet=true", "train.batch_size=64", "train.log_every=100", "train.sample_every=1000000",
         "train.ckpt_every=1000000", "eval.n=10", "eval.classifier=false", "eval.memorisation=false",
         "eval.inception=false"]
STEPS = {"ring": 600, "digits": 60, "ring_wgan_gp": 150}     # default N per case (about 1-2 s each on 2 CPU cores)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def real_sampler(data, device):
    """Real batches as a bare loop draws them: from a float tensor on the device, or the toy
    mixture's two tensor ops."""
    if hasattr(data, "images"):                      # held images: uint8 on the device
        images = data.images.float().div(127.5).sub(1.0)
        return lambda n: images[torch.randint(len(images), (n,), device=device)]
    if hasattr(data, "centers"):                     # 2-D Gaussian mixtures
        centers, std = data.centers, data.std
        return lambda n: centers[torch.randint(len(centers), (n,), device=device)] + \
            std * torch.randn(n, 2, device=device)
    return lambda n: data.sample(n).x


def adam(params, node) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=node.lr, betas=tuple(node.betas), eps=node.eps,
                            weight_decay=node.weight_decay)


def bare_step_fn(cfg):
    """One training step of the bare loop for this config (ns or wgan_gp), and the device."""
    exp = build(cfg)
    G, D, device = exp.players["G"].module, exp.players["D"].module, exp.device
    opt_g, opt_d = adam(G.parameters(), cfg.optimizer.g), adam(D.parameters(), cfg.optimizer.d)
    B, nz, n_critic = cfg.train.batch_size, G.latent_dim, cfg.train.n_critic
    real_batch = real_sampler(exp.data, device)
    ones, zeros = torch.ones(B, device=device), torch.zeros(B, device=device)

    def ns_step():
        D.zero_grad()
        real = real_batch(B)
        err_real = F.binary_cross_entropy_with_logits(D(real).view(-1), ones)
        err_real.backward()
        fake = G(torch.randn(B, nz, device=device))
        err_fake = F.binary_cross_entropy_with_logits(D(fake.detach()).view(-1), zeros)
        err_fake.backward()
        opt_d.step()
        G.zero_grad()
        err_g = F.binary_cross_entropy_with_logits(D(fake).view(-1), ones)
        err_g.backward()
        opt_g.step()

    gp_weight = cfg.loss.get("gp_weight", 10.0)

    def wgan_gp_step():
        for i in range(n_critic):
            real = real_batch(B)
            with torch.set_grad_enabled(i == n_critic - 1):
                fake = G(torch.randn(B, nz, device=device))
            fake_d = fake.detach()
            D.zero_grad()
            loss = D(fake_d).mean() - D(real).mean()
            t = torch.rand(B, *[1] * (real.dim() - 1), device=device)
            x_hat = (t * real + (1 - t) * fake_d).requires_grad_(True)
            (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
            loss = loss + gp_weight * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            loss.backward()
            opt_d.step()
        G.zero_grad()
        (-D(fake).mean()).backward()
        opt_g.step()

    steps = {"ns": ns_step, "wgan_gp": wgan_gp_step}
    if cfg.loss.type not in steps:
        raise SystemExit(f"the bare loop is written for loss=ns and loss=wgan_gp, not {cfg.loss.type}")
    return steps[cfg.loss.type], device


def naive_step_fn(cfg):
    """The naive loop: ganrun's data and loss, a second G forward, `.item()` every update."""
    exp = build(cfg)
    data, game = exp.data, exp.game
    loss, G, D = game.loss, exp.players["G"], exp.players["D"]
    B, n_critic = cfg.train.batch_size, cfg.train.n_critic
    history = []

    def step():
        for _ in range(n_critic):
            real = data.sample(B).x
            fake = G.module(game.z(B)).detach()
            d_terms = loss.discriminator(D.module, real, fake)
            D.optimizer.zero_grad()
            d_terms["loss/D"].backward()
            D.optimizer.step()
            loss.after_d_step(D.module, d_terms)
            history.append(d_terms["loss/D"].item())           # a host sync every update
        fake = G.module(game.z(B))                              # a second G forward
        g_terms = loss.generator(D.module, real, fake)
        G.optimizer.zero_grad()
        g_terms["loss/G"].backward()
        G.optimizer.step()
        history.append(g_terms["loss/G"].item())

    return step, exp.device


def loop_steps_per_s(make_step, cfg, steps: int) -> float:
    step, device = make_step(cfg)
    for _ in range(10):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps / (time.perf_counter() - t0)


def ganrun_steps_per_s(overrides: list[str], steps: int, tmp: Path, warmup: int = 10) -> float:
    """ganrun's whole loop (train(): the game's step, the running sums, the schedules) timed from the
    end of step `warmup` to the end of step warmup + steps; the run's last step (final picture,
    checkpoint, evaluation) lies outside."""
    from unittest import mock

    from ganrun.loop import Schedules

    marks = {}
    inner = Schedules.after_step            # (an ablation may have replaced it)

    def timed(self, step, stop):
        out = inner(self, step, stop)
        if step in (warmup, warmup + steps):
            sync(self.exp.device)
            marks[step] = time.perf_counter()
        return out

    cfg = compose(config_name="config", overrides=overrides + [f"train.steps={warmup + steps + 1}"])
    with mock.patch.object(Schedules, "after_step", timed):
        train(cfg, tmp / f"run_{time.monotonic_ns()}")
    return steps / (marks[warmup + steps] - marks[warmup])


def profile(overrides: list[str], steps: int, tmp: Path) -> None:
    """cProfile of a whole ganrun run (train()), then torch.profiler's operators per step of
    ganrun's step (game.step and the running sums) against the bare loop's."""
    import cProfile
    import pstats

    from torch.profiler import ProfilerActivity, profile as torch_profile

    cfg = compose(config_name="config", overrides=overrides + [f"train.steps={steps}"])
    print(f"== cProfile, ganrun train() for {steps} steps (cumulative time, top entries)")
    prof = cProfile.Profile()
    prof.runcall(train, cfg, tmp / f"prof_{time.monotonic_ns()}")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(r"ganrun/(games|players|train|watch|losses|tricks"
                                                           r"|data|optimizers)|lr_scheduler|optim/adam", 28)
    per = {}
    for name, make in (("ganrun", lambda c: ganrun_step_fn(c, [])), ("bare", bare_step_fn)):
        step, _ = make(cfg)
        for _ in range(10):
            step()
        n = min(steps, 100)
        with torch_profile(activities=[ProfilerActivity.CPU]) as p:
            for _ in range(n):
                step()
        per[name] = {e.key: (e.count / n, e.self_cpu_time_total / n) for e in p.key_averages()}
    print("== torch.profiler: operators per step, ganrun's game.step + RunningMeans.add against the bare loop "
          "(self times are inflated by the profiler)")
    print(f"{'operator':42s} {'ganrun n':>9s} {'bare n':>7s} {'extra n':>8s} {'extra self us':>14s}")
    rows = []
    for op in set(per["ganrun"]) | set(per["bare"]):
        gn, gt = per["ganrun"].get(op, (0.0, 0.0))
        bn, bt = per["bare"].get(op, (0.0, 0.0))
        rows.append((gn - bn, gt - bt, op, gn, bn))
    for extra_n, extra_t, op, gn, bn in sorted(rows, reverse=True)[:25]:      # most extra calls first
        print(f"{op[:42]:42s} {gn:9.1f} {bn:7.1f} {extra_n:8.1f} {extra_t:14.1f}")
    totals = {k: (sum(c for c, _ in v.values()), sum(t for _, t in v.values())) for k, v in per.items()}
    print(f"{'all operators':42s} {totals['ganrun'][0]:9.1f} {totals['bare'][0]:7.1f} "
          f"{totals['ganrun'][0] - totals['bare'][0]:8.1f} {totals['ganrun'][1] - totals['bare'][1]:14.1f}")


PIECES = [   # key, what ganrun does per step beyond the bare loop, where
    ("grad", "grad-norm bookkeeping for health/grad_*: a _foreach_norm per update of a logging step",
     "players.py Players.update -> _note_grad, Player.grad_norms"),
    ("terms", "logged D terms: D/real, D/fake, loss/gp, extra_terms, health/d_acc_*, r_t (statistics at log time)",
     "losses.py GANLoss.d_terms, terms.py"),
    ("sums", "the logging window: a detach and an append per term, settled and read every log_every steps",
     "train.py train() -> means.py RunningMeans.add, .pop"),
    ("sched", "constant LR schedules stepped (a LambdaLR per player)", "games/__init__.py Game.step -> players.py Players.after_step"),
    ("dview", "DView in front of D (one more module call per D forward)", "gan.py GAN.__init__ (d_view) -> tricks.py DView.forward"),
    ("freeze", "D frozen for G's update, unfrozen after (skips D's weight grads there)",
     "games/__init__.py Game.step -> players.py Player.requires_grad"),
]


def switch_off(key: str, game, means) -> None:
    """Switch one piece off in this run only (instance attributes: several runs live side by side)."""
    import types

    from ganrun.models import score_of

    def lean_d_terms(self, D, out_real, out_fake, real, fake, y_real=None):
        loss = self.d_loss(score_of(out_real), score_of(out_fake))
        penalty = self.penalty(D, real, fake, y_real)
        return {"loss/D": loss if penalty is None else loss + penalty}

    if key == "grad":
        game.players._note_grad = lambda player, scaler: None
    elif key == "terms":
        game.loss.d_terms = types.MethodType(lean_d_terms, game.loss)
    elif key == "sums":
        means.add = lambda terms: None
    elif key == "sched":
        game.players.after_step = lambda: None
    elif key == "dview":
        game.d_view = game.D.module          # the step sets d_view.noise_std: a plain attribute on D
    elif key == "freeze":
        for name in game.phases[0].players:         # D's phase: D (and InfoGAN's Q)
            game.players[name].requires_grad = lambda flag: None


def ganrun_step_fn(cfg, off: list[str]):
    """ganrun's step as the loop runs it (game.step, then the running sums), pieces `off` switched off."""
    from ganrun.means import RunningMeans

    exp = build(cfg)
    game, means, k = exp.game, RunningMeans(exp.device), [0]
    for key in off:
        switch_off(key, game, means)

    def step():
        k[0] += 1
        means.step += 1
        game.players.note_grads = k[0] % 100 == 0      # as the loop does (train.log_every=100)
        for terms in game.step(k[0]):
            means.add(terms)
        if k[0] % 100 == 0:              # the window's statistics, as the loop logs them (train.log_every=100)
            means.add(game.players.pop_grad_norms())
            means.pop()

    return step, exp.device


class OpCounter:
    """Counts the tensor operations (ATen calls, forward and backward) run inside it."""

    def __enter__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        counter = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                counter.n += 1
                return func(*args, **(kwargs or {}))

        self.n, self.mode = 0, Mode()
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        self.mode.__exit__(*exc)


def ops_per_step(fn, steps: int = 5) -> float:
    with OpCounter() as c:
        for _ in range(steps):
            fn()
    return c.n / steps


def interleaved(cfg, variants: dict, rounds: int) -> tuple[dict, dict, float]:
    """Per variant (name: pieces off; None: the bare loop): the median over rounds of its step time
    minus the bare step's in the same round (us), and its tensor operations per step; and the bare
    step's median time (us). Every variant runs a burst of about 0.1 s in each round, in a rotating
    order, so that the machine's speed changes cancel in the differences."""
    fns = {}
    for name, off in variants.items():
        fns[name], device = bare_step_fn(cfg) if off is None else ganrun_step_fn(cfg, off)
    for fn in fns.values():
        for _ in range(5):
            fn()
    ops = {name: ops_per_step(fn) for name, fn in fns.items()}
    bare = next(name for name, off in variants.items() if off is None)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(5):
        fns[bare]()
    sync(device)
    n = max(2, int(0.1 / ((time.perf_counter() - t0) / 5)))
    names, diffs, bare_us = list(fns), {name: [] for name in fns}, []
    for r in range(rounds):
        took = {}
        for name in names[r % len(names):] + names[:r % len(names)]:
            sync(device)
            t0 = time.perf_counter()
            for _ in range(n):
                fns[name]()
            sync(device)
            took[name] = 1e6 * (time.perf_counter() - t0) / n
        for name in names:
            diffs[name].append(took[name] - took[bare])
        bare_us.append(took[bare])
    return {name: statistics.median(d) for name, d in diffs.items()}, ops, statistics.median(bare_us)


def per_call_us(fn, calls: int = 200, rounds: int = 7) -> float:
    """Microseconds per call of fn alone: the fastest of `rounds` rounds of `calls` calls."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / calls


def alone_us(cfg, tmp: Path) -> dict:
    """Each piece's time per step, timed alone on the run's own objects after 20 training steps
    (the fastest of 7 rounds): a floor, without the cache and thread effects of the loop."""
    from unittest import mock

    from tqdm import tqdm

    from ganrun.health import HealthMonitor
    from ganrun.models import score_of
    from ganrun.loop import Schedules
    from ganrun.means import RunningMeans

    exp = build(cfg)
    game, players = exp.game, exp.players
    G, D, loss = game.G, game.D, game.loss
    means, logged = RunningMeans(exp.device), []
    for k in range(1, 21):
        logged = game.step(k)
        for terms in logged:
            means.add(terms)
    n_critic, B = cfg.train.n_critic, cfg.train.batch_size
    batch, fake = exp.data.sample(B), G.module(game.z(B)).detach()
    with torch.no_grad():
        out_real, out_fake = D.module(batch.x), D.module(fake)

    def lean_d_terms():
        return {"loss/D": loss.d_loss(score_of(out_real), score_of(out_fake))}

    with mock.patch.object(type(loss), "penalty", lambda self, *a, **kw: None):   # the same maths in both
        terms_us = per_call_us(lambda: loss.d_terms(D.module, out_real, out_fake, batch.x, fake)) - \
            per_call_us(lean_d_terms)

    def add_sums():
        for terms in logged:
            means.add(terms)

    def window():                 # a logging window's adds, then its statistics read (per step)
        for _ in range(100):
            add_sums()
        means.pop()

    def count_step():
        means.step += 1

    d_players = [players[name] for name in game.phases[0].players]

    def toggle():
        for p in d_players:
            p.requires_grad(True)
        for p in d_players:
            p.requires_grad(False)

    from ganrun.tricks import DView

    identity = torch.nn.Identity()      # the wrapper's own cost, apart from D's
    wrapped = DView(identity, game.d_view.pack, game.d_view.augment)
    dview_us = per_call_us(lambda: wrapped(batch.x), 2000) - per_call_us(lambda: identity(batch.x), 2000)
    d_calls = (3 if cfg.loss.type == "wgan_gp" else 2) * n_critic + 1
    grad_us = n_critic * per_call_us(lambda: players._note_grad(D, D.scaler)) + \
        per_call_us(lambda: players._note_grad(G, G.scaler))
    players.pop_grad_norms()
    out = {"grad": grad_us, "terms": terms_us * n_critic, "sums": per_call_us(window, 5) / 100,
           "sched": per_call_us(players.after_step), "dview": dview_us * d_calls, "freeze": per_call_us(toggle),
           "step": per_call_us(count_step)}
    run = Schedules(exp, tmp / f"pieces_{time.monotonic_ns()}", means, HealthMonitor("none", 1000))
    run.bar = tqdm(disable=True)
    out["idle"] = per_call_us(lambda: run.after_step(1, type("Stop", (), {"requested": False})()), 1000)
    run.run_dir.mkdir(parents=True)
    run.open()

    def log_event():
        add_sums()
        run.check_finite(100)
        run.log(100)

    out["log"] = per_call_us(log_event, 20) / cfg.train.log_every
    run.writer.close()
    return out


def pieces(overrides: list[str], tmp: Path, rounds: int) -> None:
    """What ganrun's loop does per step beyond the bare loop: each piece switched off in turn and
    measured in the loop (the full step's time minus the step's without it, every variant and the
    bare loop interleaved in short bursts; noisy on a shared machine), timed alone (a floor), and
    as tensor operations per step (exact)."""
    cfg = compose(config_name="config", overrides=overrides + ["train.steps=100000"])
    keys = [key for key, _, _ in PIECES]
    variants = {"bare": None, "full": [], **{key: [key] for key in keys},
                "most": [k for k in keys if k != "freeze"]}
    diff, ops, bare_us = interleaved(cfg, variants, rounds)
    print(f"bare step {bare_us:.0f} us, {ops['bare']:.0f} tensor ops; ganrun's game.step + running sums "
          f"{diff['full']:+.0f} us/step ({100 * diff['full'] / bare_us:+.1f}%), {ops['full'] - ops['bare']:+.0f} "
          f"ops; medians of {rounds} interleaved rounds")
    print(f"{'piece':92s} {'ops':>5s} {'in loop':>8s} {'alone':>7s}  where")
    print(f"{'':92s} {'/step':>5s} {'us/step':>8s} {'us/step':>7s}")
    alone = alone_us(cfg, tmp)
    for key, what, where in PIECES + [("most", "all of the above but the freeze", "")]:
        floor = sum(alone[k] for k in variants[key])
        print(f"{what:92s} {ops['full'] - ops[key]:5.0f} {diff['full'] - diff[key]:8.0f} {floor:7.1f}  {where}")
    for what, key, where in (("means.step += 1 (per step)", "step", "train.py train()"),
                             ("schedules on a step with nothing due", "idle", "train.py Schedules.after_step"),
                             ("a logging step (check_finite: one sync; log: one sync, TensorBoard) / log_every",
                              "log", "train.py Schedules.check_finite, .log, .heldout_gap")):
        print(f"{what:92s} {'':5s} {'':>8s} {alone[key]:7.1f}  {where}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=None, help="N per measurement (default: per case, see STEPS)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--case", choices=sorted(CASES), action="append", help="only these cases (repeatable)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive loop's column")
    p.add_argument("--profile", action="store_true", help="profile ganrun's step against the bare loop instead")
    p.add_argument("--pieces", action="store_true",
                   help="cost of each piece of ganrun's per-step work beyond the bare loop")
    args = p.parse_args()
    register_configs()
    cases = args.case or list(CASES)
    with initialize_config_module(config_module="ganrun.conf", version_base="1.3"), \
            tempfile.TemporaryDirectory() as tmp:
        if args.profile:
            for key in cases:
                print(f"###### {CASES[key][0]}")
                profile(CASES[key][1] + QUIET, args.steps or STEPS[key], Path(tmp))
            return
        if args.pieces:
            for key in cases:
                print(f"###### {CASES[key][0]}")
                pieces(CASES[key][1] + QUIET, Path(tmp), args.repeats * 6 + 1)
            return
        from ganrun.builder import resolve_device

        print(f"device: {resolve_device('auto')}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"median of {args.repeats} repeats")
        print(f"{'case':32s} {'bare step/s':>12s} {'ganrun step/s':>14s} {'ganrun/bare':>12s} "
              f"{'naive step/s':>13s} {'ganrun/naive':>13s}")
        for key in cases:
            name, case = CASES[key]
            overrides, steps = case + QUIET, args.steps or STEPS[key]
            bare, ours, naive = [], [], []
            for r in range(args.repeats):
                cfg = compose(config_name="config", overrides=overrides)
                order = [("bare", "ganrun", "naive"), ("ganrun", "naive", "bare"), ("naive", "bare", "ganrun")][r % 3]
                for which in order:
                    if which == "bare":
                        bare.append(loop_steps_per_s(bare_step_fn, cfg, steps))
                    elif which == "ganrun":
                        ours.append(ganrun_steps_per_s(overrides, steps, Path(tmp)))
                    elif not args.no_naive:
                        naive.append(loop_steps_per_s(naive_step_fn, cfg, steps))
            med = statistics.median
            to_bare = med([o / b for o, b in zip(ours, bare)])
            to_naive = med([o / n for o, n in zip(ours, naive)]) if naive else float("nan")
            print(f"{name:32s} {med(bare):12.1f} {med(ours):14.1f} {to_bare:11.2f}x "
                  f"{med(naive) if naive else float('nan'):13.1f} {to_naive:12.2f}x", flush=True)


if __name__ == "__main__":
    main()
