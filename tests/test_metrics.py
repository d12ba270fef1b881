"""Metrics against known answers (GAN_NOTES §4, §6), and where they appear."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.stats import norm

from ganrun.data import Batch
from conftest import compose_config, scalar_and_image_tags, scalars, train_run, make_data
from ganrun.commands.evaluate import main as eval_main
from ganrun.metrics import Evaluator
from ganrun.metrics.classifier import ClassifierMetrics, frechet_distance, gaussian_stats
from ganrun.metrics.memorisation import Memorisation, duplicate_rate, support_estimate
from ganrun.metrics.toy import curve_metrics, gaussian1d_metrics, mixture_metrics

SHARE_WITHIN_3_STD_2D = 1 - math.exp(-4.5)       # P(|N(0, I_2)| <= 3) = 0.98889


# --------------------------------------------------------------------------- 2-D mixtures (PacGAN)
@pytest.mark.parametrize("data,k", [(make_data("ring"), 8), (make_data("grid"), 25)])
def test_exact_mixture_samples_cover_every_mode_with_98_9_percent_high_quality(data, k):
    torch.manual_seed(0)
    values, protocol = mixture_metrics(data.sample(2500).x, data.centers, data.std, data.name)
    assert values["modes"] == k
    assert values["hq"] == pytest.approx(SHARE_WITHIN_3_STD_2D, abs=0.006)
    assert values["rkl"] < 0.02
    assert "2500 samples" in protocol["modes"]


@pytest.mark.parametrize("name,k,scale", [("ring", 8, math.sqrt(0.5 + 0.01 ** 2)),      # cos^2 averages 1/2
                                          ("grid", 25, math.sqrt(8 + 0.05 ** 2))])     # {-4..4}: 8; 2.83
def test_a_standardized_mixture_is_seen_at_unit_scale_and_judged_in_its_own_units(name, k, scale, tmp_path):
    """dataset.standardize: G and D see the points over the mixture's std per coordinate (the grid's
    2.83, the WGAN-GP toy's divisor); centres, metrics and saved samples stay in the data's units."""
    from ganrun.trained import load_trained

    data = make_data(name, standardize=True)
    assert data.scale == pytest.approx(scale, rel=1e-12)
    torch.manual_seed(0)
    x = data.sample(200_000).x
    assert x.std(dim=0) == pytest.approx(torch.ones(2), abs=0.01)
    assert data.to_model(data.to_data(x)) == pytest.approx(x, abs=1e-6)
    torch.manual_seed(0)
    values, _ = mixture_metrics(data.to_data(data.sample(2500).x), data.centers, data.std, data.name)
    assert values["modes"] == k and values["hq"] == pytest.approx(SHARE_WITHIN_3_STD_2D, abs=0.006)
    assert make_data(name).scale == 1.0            # off by default: PacGAN's own units
    train_run(tmp_path / "run", [f"dataset={name}", "dataset.standardize=true", "train.steps=2"])
    assert load_trained(tmp_path / "run", device="cpu").data.scale == pytest.approx(scale)   # from the stored config


@pytest.mark.parametrize("data,k", [(make_data("ring"), 8), (make_data("grid"), 25)])
def test_a_single_mode_gives_one_mode_and_reverse_kl_ln_k(data, k):
    torch.manual_seed(0)
    one = data.centers[3] + data.std * torch.randn(2500, 2)
    values, _ = mixture_metrics(one, data.centers, data.std, data.name)
    assert values["modes"] == 1
    assert values["rkl"] == pytest.approx(math.log(k), abs=1e-9)


def test_samples_far_from_every_mode_are_not_high_quality():
    ring = make_data("ring")
    values, _ = mixture_metrics(torch.zeros(100, 2), ring.centers, ring.std, "ring")
    assert values == {"modes": 0, "hq": 0.0, "rkl": None}


# --------------------------------------------------------------------------- 1-D and curves
def test_gaussian1d_metrics_on_exact_and_shifted_quantiles():
    q = torch.from_numpy(norm.ppf((np.arange(2500) + 0.5) / 2500, loc=4, scale=0.5))
    values, _ = gaussian1d_metrics(q, 4.0, 0.5, "gaussian1d")
    assert values["mean"] == pytest.approx(4.0, abs=1e-9)
    assert values["w1"] == pytest.approx(0.0, abs=1e-12)
    assert values["ks"] == pytest.approx(0.5 / 2500, abs=1e-9)     # quantile midpoints
    shifted, _ = gaussian1d_metrics(q + 0.3, 4.0, 0.5, "gaussian1d")
    assert shifted["w1"] == pytest.approx(0.3)
    assert shifted["ks"] == pytest.approx(2 * norm.cdf(0.3) - 1, abs=1e-3)   # sup |Phi(t) - Phi(t - 0.6)|


def test_curve_metrics():
    sine = make_data("sine")
    all_ten, _ = curve_metrics(sine.curves.repeat(3, 1), sine.curves, "sine")
    assert all_ten == {"curve_err": 0.0, "curves_hit": 10}
    one, _ = curve_metrics(sine.curves[[4]].repeat(50, 1) + 0.001, sine.curves, "sine")
    assert one["curves_hit"] == 1 and one["curve_err"] == pytest.approx(0.001, rel=1e-3)
    flat, _ = curve_metrics(torch.zeros(20, 32), sine.curves, "sine")
    assert flat["curves_hit"] == 0 and flat["curve_err"] > 0.5


# --------------------------------------------------------------------------- Frechet distance
def test_frechet_distance_of_a_feature_set_with_itself_is_zero():
    torch.manual_seed(0)
    feats = torch.randn(500, 16) @ torch.randn(16, 16)
    assert frechet_distance(gaussian_stats(feats), gaussian_stats(feats)) == pytest.approx(0, abs=1e-6)


def test_frechet_distance_matches_a_scipy_sqrtm_reference():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8)) + 1.0
    b = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    reference = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    ours = frechet_distance(gaussian_stats(torch.from_numpy(a)), gaussian_stats(torch.from_numpy(b)))
    assert ours == pytest.approx(reference, rel=1e-6)


# --------------------------------------------------------------------------- digits, with a classifier
@pytest.fixture(scope="module")
def digits_metrics():
    train = make_data("digits", resolution=32, split="train")
    test = train.heldout()
    return train, test, ClassifierMetrics(train, test, None or __import__("os").environ["GANRUN_CACHE_DIR"],
                                          torch.device("cpu"))


def test_the_digits_classifier_is_accurate_on_held_out_digits(digits_metrics):
    _, test, metrics = digits_metrics
    assert len(test) == 359
    assert metrics.accuracy >= 0.95


def test_real_digits_score_far_better_than_noise_on_every_digits_metric(digits_metrics):
    _, test, metrics = digits_metrics
    real, _ = metrics(test.reference(None))
    torch.manual_seed(0)
    noise, _ = metrics(Batch(torch.rand(359, 1, 32, 32) * 2 - 1))
    assert real["fd_digits"] < noise["fd_digits"] / 10
    assert real["is_digits"] > 7 and real["is_digits"] > 2 * noise["is_digits"]
    assert real["classes_covered"] == 10 and noise["classes_covered"] < 10
    assert real["class_kl"] < 0.05 and noise["class_kl"] > 1.0


def test_the_classifier_is_cached_and_reloaded(digits_metrics, tmp_path):
    train, test, first = digits_metrics
    again = ClassifierMetrics(train, test, __import__("os").environ["GANRUN_CACHE_DIR"], torch.device("cpu"))
    assert again.accuracy == first.accuracy
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(),
                                                 again.model.state_dict().values()))


def test_the_real_images_features_are_computed_once_per_classifier(digits_metrics, monkeypatch, caplog):
    from ganrun.metrics import classifier

    train, test, first = digits_metrics
    cache = __import__("os").environ["GANRUN_CACHE_DIR"]
    calls = []
    real_predict = classifier.predict
    monkeypatch.setattr(classifier, "predict", lambda model, x, **kw: calls.append(len(x)) or real_predict(model, x, **kw))
    classifier._REFERENCE.clear()                   # a new process: the file beside the classifier serves
    again = ClassifierMetrics(train, test, cache, torch.device("cpu"))
    # the held-out images only: a cached classifier is measured again on loading (issue 25)
    assert calls == [len(test)] and torch.equal(again.real_features, first.real_features)
    assert again.confident_real == first.confident_real
    path = classifier.load_or_train(train, test, cache, torch.device("cpu")).path
    features = path.with_name(path.stem + "-features.pt")
    stale = torch.load(features, weights_only=True)
    torch.save(dict(stale, classifier="another"), features)   # written for another classifier: computed again
    classifier._REFERENCE.clear()
    calls.clear()
    ClassifierMetrics(train, test, cache, torch.device("cpu"))
    assert calls == [len(test), len(train.reference(None))]
    for odd in ([1, 2], torch.zeros(3), dict(stale, features=torch.zeros(5, 128))):   # loadable, but not features
        torch.save(odd, features)
        classifier._REFERENCE.clear()
        again = ClassifierMetrics(train, test, cache, torch.device("cpu"))
        assert torch.equal(again.real_features, first.real_features)
    features.write_bytes(b"not a torch file")                   # unreadable: said, then computed again
    classifier._REFERENCE.clear()
    caplog.clear()
    again = ClassifierMetrics(train, test, cache, torch.device("cpu"))
    assert torch.equal(again.real_features, first.real_features)
    assert f"ignoring the unreadable feature cache {features}" in caplog.text
    assert torch.load(features, weights_only=True)["classifier"] == stale["classifier"], "written again"


def test_two_datasets_of_one_name_and_shape_get_their_own_classifier(tmp_path):
    from ganrun.data import Batch as B
    from ganrun.metrics.classifier import cache_path, data_digest

    torch.manual_seed(0)
    x, y = torch.rand(20, 1, 8, 8), torch.randint(10, (20,))
    a, b = data_digest(B(x, y)), data_digest(B(x.flip(0), y))
    assert a != b and a == data_digest(B(x.clone(), y.clone()))
    assert data_digest(B(x.bfloat16(), None)) != data_digest(B(x.half(), None))     # any dtype (numpy has no bf16)
    assert cache_path(tmp_path, "folder", (1, 8, 8), 10, a) != cache_path(tmp_path, "folder", (1, 8, 8), 10, b)


def test_a_dataset_of_another_name_with_the_same_images_shares_the_classifier(digits_metrics, monkeypatch):
    """edges2digits' B domain is the digits themselves: their classifier is found, not trained again."""
    from ganrun.metrics import classifier

    train, test, first = digits_metrics
    monkeypatch.setattr(train, "name", "digits-again")
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("trained again"))
    again = classifier.load_or_train(train, test, __import__("os").environ["GANRUN_CACHE_DIR"], torch.device("cpu"))
    # whichever name trained it first (digits here, or edges2digits-B in a test on another worker) serves
    assert again.path.is_file() and not again.path.name.startswith("digits-again-")
    assert again.path.name.split("-train-")[1] == classifier.cache_path(
        again.path.parent, "digits", train.shape, 10, classifier.data_digest(train.reference(None), test.reference(None))
    ).name.split("-train-")[1]
    assert again.accuracy == pytest.approx(first.accuracy, abs=0.01)


def test_processes_that_need_one_classifier_together_train_it_once(tmp_path, monkeypatch):
    """A parallel sweep's jobs build their evaluators together: while one trains the classifier, the
    next waits for its file instead of training its own (two threads hold two lock descriptions, as
    two processes would)."""
    import logging
    import threading

    from ganrun.metrics import classifier

    train = make_data("digits", resolution=8, split="train")
    test = train.heldout()
    real_training, calls = classifier.train_classifier, []
    second_waits = threading.Event()

    def slow_training(images, labels, n_classes, seed=0):
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            # the first holds the lock until the second has asked for it (the limit only keeps a
            # broken run of this test from hanging; the assertions below decide)
            second_waits.wait(timeout=600)
        else:
            second_waits.set()       # a second training (no lock held) frees the first, and fails below
        return real_training(images[:64], labels[:64], n_classes, seed)    # a few steps: any weights do

    class Waiting(logging.Handler):
        def emit(self, record):
            if "waiting for another ganrun process" in record.getMessage():
                second_waits.set()

    monkeypatch.setattr(classifier, "train_classifier", slow_training)
    logger = logging.getLogger("ganrun.checkpoint")
    handler, level = Waiting(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    got = {}

    def job(name):
        got[name] = classifier.load_or_train(train, test, tmp_path, torch.device("cpu"))

    try:
        first = threading.Thread(target=job, args=("first",), name="first")
        first.start()
        while not calls and first.is_alive():      # the first is training, holding the lock
            first.join(0.01)
        second = threading.Thread(target=job, args=("second",), name="second")
        second.start()
        first.join(timeout=900)
        second.join(timeout=900)
        assert not first.is_alive() and not second.is_alive()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert calls == ["first"], "one training; the second job waited and loaded the first one's file"
    for a, b in zip(got["first"].model.state_dict().values(), got["second"].model.state_dict().values()):
        assert torch.equal(a, b)
    assert got["first"].path == got["second"].path and got["second"].path.is_file()


def test_a_held_lock_is_waited_for_only_so_long_and_a_link_in_its_place_is_not_followed(tmp_path, caplog):
    """A stopped or stuck holder does not hold a run for ever: past the wait it warns and computes its
    own; a link where the lock file goes (a shared cache folder) is not opened, the block runs unlocked."""
    import logging

    from ganrun.checkpoint import one_at_a_time

    import threading

    entry = tmp_path / "cache" / "entry.pt"
    ran = []

    def second():
        with one_at_a_time(entry, "thing", wait_s=0.5):
            ran.append("second")

    with one_at_a_time(entry, "thing"):                  # this holder never lets go in time
        with caplog.at_level(logging.INFO, logger="ganrun.checkpoint"):
            waiter = threading.Thread(target=second)
            waiter.start()
            waiter.join(timeout=300)                     # an unbounded wait fails here, not hangs
            assert not waiter.is_alive(), "the second run waited past its limit"
    assert ran == ["second"]
    assert "waiting for another ganrun process that is computing the same thing" in caplog.text
    assert "computing it here" in caplog.text
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "cache" / "linked.pt.lock").symlink_to(elsewhere)
    with one_at_a_time(tmp_path / "cache" / "linked.pt", "thing"):
        ran.append("unlocked")
    assert ran[-1] == "unlocked" and not elsewhere.exists()


# --------------------------------------------------------------------------- memorisation
def test_copies_of_training_images_are_flagged_as_memorised():
    torch.manual_seed(0)
    train = torch.rand(300, 1, 8, 8) * 2 - 1
    heldout = torch.rand(100, 1, 8, 8) * 2 - 1
    mem = Memorisation(train, heldout, "toyimg", batch=50)
    copies, _ = mem(train[torch.randint(300, (500,))])
    fresh, _ = mem(torch.rand(500, 1, 8, 8) * 2 - 1)
    assert copies["mem_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert fresh["mem_ratio"] == pytest.approx(1.0, abs=0.15)
    assert copies["dup_rate"] == 1.0, "500 draws from 300 images: every batch of 50 repeats one"
    assert fresh["dup_rate"] < 0.5 and abs(fresh["dup_rate"] - fresh["dup_rate_real"]) < 0.3, \
        "new samples of the same law collide about as often as real ones"


def test_real_duplicate_rate_matches_the_chance_that_one_close_pair_shares_a_batch():
    # 400 points 10 apart on a line, the first two equal: one near-copy pair. Cut at random into
    # batches of 100, the pair shares a batch with probability 99/399, and then it is one batch
    # of 4: dup_rate = (99/399) / 4 = 0.062. One shuffle reads 0 or 0.25; the reference averages
    # over at least 200 batches.
    x = torch.zeros(400, 1, 2, 2)
    x[:, 0, 0, 0] = 10 * torch.arange(400.0)
    x[1] = x[0]
    mem = Memorisation(x, None, "line", batch=100)
    mem.tau = 1.0
    rate = mem.real_duplicate_rate(torch.Generator().manual_seed(0))
    assert rate == pytest.approx(99 / 399 / 4, abs=0.04)
    assert Memorisation(x[:99], None, "few", batch=100).real_duplicate_rate(torch.Generator()) is None


def bench_script(name: str):
    """A script of bench/ as a module (bench/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_near_copies_are_counted_pair_by_pair_within_each_class():
    near_copies = bench_script("near_copies")
    # class 0: 4 points, two equal (1 close pair of 6); class 1: 3 points far apart (0 of 3); a point
    # of class 1 equal to one of class 0 is not a same-class pair
    x = torch.tensor([[0.0], [0.0], [10.0], [20.0], [0.0], [40.0], [50.0]]).view(7, 1, 1, 1)
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    assert near_copies.same_class_near_copy_rate(x, y, tau=1.0) == (1, 9)


def test_near_copies_refuses_a_missing_or_unconditional_run_in_one_line(tmp_path, capsys):
    near_copies = bench_script("near_copies")
    train_run(tmp_path / "plain", ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8",
                                   "train.steps=2", "eval.classifier=false", "eval.memorisation=false"])
    for run, message in [(tmp_path / "nowhere", "checkpoint not found"),
                         (tmp_path / "plain", "this generator is not conditional (train with game=conditional)")]:
        capsys.readouterr()
        assert near_copies.main([str(run)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err


def test_birthday_paradox_support_estimate():
    assert duplicate_rate(torch.zeros(100, 3), batch=10, tau=0.1) == 1.0
    assert support_estimate(0.5, 100) == pytest.approx(100 * 99 / (2 * math.log(2)))
    assert support_estimate(0.0, 100) is None and support_estimate(1.0, 100) is None
    # a support of N items: batches of s collide with probability about 1 - exp(-s(s-1)/2N)
    torch.manual_seed(0)
    support = torch.eye(1000)
    draws = support[torch.randint(1000, (50 * 400,))]
    p = duplicate_rate(draws, batch=50, tau=0.5)
    assert support_estimate(p, 50) == pytest.approx(1000, rel=0.3)


# --------------------------------------------------------------------------- Inception (torch-fidelity)
def test_the_inception_path_runs_end_to_end_with_a_weights_file(random_inception_weights, run_dir):
    metrics = train_run(run_dir, ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8",
                                  "eval.n=20", "eval.ref_n=20", "eval.inception=true",
                                  f"eval.inception_weights={random_inception_weights}"])
    family = [f"{k}_inception" for k in ("precision", "recall", "density", "coverage")]
    assert {"fid", "is", "kid", *family} <= set(metrics)
    assert all(math.isfinite(metrics[k]) for k in ("fid", "is", "kid", *family))
    assert metrics["fid"] > 0 and metrics["is"] >= 1.0
    assert "20 samples against 20 real digits" in metrics["protocol"]["fid"]
    assert "Inception-v3" in metrics["protocol"]["coverage_inception"]
    scalar_tags, _ = scalar_and_image_tags(run_dir / "tb")
    assert {"metrics/fid", "metrics/is", "metrics/kid", "metrics/density_inception"} <= scalar_tags


def test_inception_precision_recall_density_coverage_on_constructed_sets(random_inception_weights, tmp_path):
    """Real against itself: every sample sits on a real image and every real image is reached (1, 1, 1);
    a set collapsed onto one real image keeps its precision and reaches that image alone (its balls
    have radius 0). Twelve images a set: Inception on a CPU costs about 0.2 s an image."""
    from ganrun.metrics.inception import InceptionMetrics

    real = torch.rand(12, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    metrics = InceptionMetrics(random_inception_weights, real, "noise", "train", tmp_path, torch.device("cpu"))
    same, _ = metrics(real.clone())
    assert same["precision_inception"] == 1 and same["recall_inception"] == 1 and same["coverage_inception"] == 1
    assert same["density_inception"] >= 1      # each sample in its twin's ball, and maybe in others'
    collapsed, _ = metrics(real[:1].repeat(12, 1, 1, 1))
    assert collapsed["precision_inception"] == 1
    assert collapsed["recall_inception"] == pytest.approx(1 / 12)


def test_missing_inception_weights_skip_the_metrics_with_one_clear_message(tmp_path, caplog):
    cfg = compose_config(["dataset=digits", "dataset.resolution=16", "eval.inception=true",
                          f"eval.inception_weights={tmp_path}/nope.pth"])
    from ganrun.builder import build

    exp = build(cfg)
    Evaluator(cfg.eval, exp.data, exp.device)
    skips = [r for r in caplog.records if "Inception metrics (fid, is, kid) skipped" in r.getMessage()]
    assert len(skips) == 1
    assert "does not exist" in skips[0].getMessage() and "eval.inception_weights=PATH" in skips[0].getMessage()
    assert "(ganrun-eval: --inception-weights PATH)" in skips[0].getMessage()


def test_inception_off_on_the_cpu_says_how_to_turn_it_on_in_both_tools(caplog):
    cfg = compose_config(["dataset=digits", "dataset.resolution=16", "device=cpu"])
    assert cfg.eval.inception is None, "the default: on with a GPU only"
    from ganrun.builder import build

    exp = build(cfg)
    with caplog.at_level("INFO"):
        Evaluator(cfg.eval, exp.data, exp.device)
    notes = [r.getMessage() for r in caplog.records if "are off on the CPU" in r.getMessage()]
    assert len(notes) == 1 and "eval.inception=true" in notes[0] and "(ganrun-eval: --inception on)" in notes[0]


def test_offline_without_cached_weights_the_run_goes_on(monkeypatch, tmp_path, run_dir, caplog):
    import socket

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    metrics = train_run(run_dir, ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8",
                                  "eval.inception=true"])
    assert "fid" not in metrics and "fd_digits" in metrics
    message = next(r.getMessage() for r in caplog.records if "skipped" in r.getMessage())
    assert "cannot be downloaded (no connection to github.com (offline))" in message
    assert str(tmp_path / "hub" / "checkpoints") in message


def test_a_pickled_weights_file_is_refused_not_run(tmp_path, caplog):
    import pickle

    evil = tmp_path / "evil.pth"

    class Boom:
        def __reduce__(self):
            return (exec, ("open(%r, 'w').write('pwned')" % str(tmp_path / "pwned"),))

    evil.write_bytes(pickle.dumps({"fc.weight": Boom()}, protocol=2))
    from ganrun.metrics.inception import resolve_weights

    path, why = resolve_weights(str(evil), timeout=1)
    assert path is None and "not a plain weights file" in why
    assert not (tmp_path / "pwned").exists()


def test_too_few_images_for_the_birthday_test_give_null_not_nan():
    values, _ = Memorisation(torch.rand(41, 3, 8, 8), None, "few", batch=100)(torch.rand(200, 3, 8, 8))
    assert values["dup_rate_real"] is None and values["dup_rate"] is not None
    json.dumps(values, allow_nan=False)                 # metrics.json stays valid JSON


# --------------------------------------------------------------------------- where metrics appear
@pytest.mark.parametrize("dataset,keys", [
    ("ring", {"modes", "hq", "rkl"}), ("grid", {"modes", "hq", "rkl"}),
    ("gaussian1d", {"mean", "std", "w1", "ks"}), ("sine", {"curve_err", "curves_hit"}),
])
def test_toy_runs_write_their_metrics_with_a_protocol(dataset, keys, run_dir):
    metrics = train_run(run_dir, [f"dataset={dataset}", "eval.every=2"])
    assert keys <= set(metrics)
    assert set(metrics["protocol"]) == keys
    assert all("200 samples" in metrics["protocol"][k] for k in keys)
    defined = [k for k in sorted(keys) if metrics[k] is not None]   # rkl is undefined without hq samples
    assert defined
    for k in defined:
        assert [s for s, _ in scalars(run_dir / "tb", f"metrics/{k}")] == [2, 4, 6], "every eval.every"
        assert scalars(run_dir / "tb", f"metrics/{k}")[-1][1] == pytest.approx(metrics[k], rel=1e-5, abs=1e-6)


def test_image_runs_write_classifier_and_memorisation_metrics(run_dir):
    metrics = train_run(run_dir, ["dataset=digits", "dataset.resolution=16", "model.g_width=8", "model.d_width=8"])
    assert {"fd_digits", "is_digits", "classes_covered", "class_kl", "mem_ratio", "dup_rate"} <= set(metrics)
    assert all(k in metrics["protocol"] for k in ("fd_digits", "mem_ratio"))


def test_evaluation_uses_g_ema_when_it_is_kept(run_dir):
    metrics = train_run(run_dir, ["dataset=gaussian1d", "tricks.ema=0.9"])
    from ganrun.trained import load_trained

    trained = load_trained(run_dir, "cpu")       # loads G_ema
    x = trained.data.to_data(trained.generate(200, seed=0).x)
    assert metrics["mean"] == pytest.approx(float(x.mean()), rel=1e-6)


def test_evaluation_does_not_change_training(tmp_path):
    train_run(tmp_path / "a", ["dataset=ring", "eval.every=1"])
    train_run(tmp_path / "b", ["dataset=ring", "eval.every=0"])
    from ganrun.checkpoint import load_checkpoint

    a, b = load_checkpoint(tmp_path / "a")["players"]["G"]["module"], load_checkpoint(tmp_path / "b")["players"]["G"]["module"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("dataset", ["digits", "grid"])
def test_evaluating_a_checkpoint_reproduces_the_end_of_run_metrics(dataset, run_dir, tmp_path, capsys):
    extra = ["dataset.resolution=16", "model.g_width=8", "model.d_width=8"] if dataset == "digits" else []
    metrics = train_run(run_dir, [f"dataset={dataset}", *extra])
    out = tmp_path / "eval.json"
    assert eval_main([str(run_dir), "--out", str(out), "--device", "cpu"]) == 0
    again = json.loads(out.read_text())
    keys = set(metrics["protocol"])
    assert {k: again[k] for k in keys} == {k: metrics[k] for k in keys}
    assert again["protocol"] == metrics["protocol"] and again["step"] == 6
    printed = capsys.readouterr().out
    assert "metric" in printed and "protocol:" in printed and str(out) in printed
    assert eval_main([str(run_dir), "--n", "50", "--out", str(tmp_path / "n50.json")]) == 0
    assert "50 samples" in json.loads((tmp_path / "n50.json").read_text())["protocol"][sorted(keys)[0]]


def test_eval_errors_are_one_line(tmp_path, capsys):
    assert eval_main([str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip().startswith("ganrun-eval: error: checkpoint not found")


def test_eval_errors_name_the_commands_own_options(run_dir, capsys):
    train_run(run_dir)
    assert eval_main([str(run_dir), "--n", "5"]) == 2
    assert capsys.readouterr().err.strip() == "ganrun-eval: error: --n 5 is out of range: it must be >= 10"
    if not torch.cuda.is_available():
        assert eval_main([str(run_dir), "--device", "cuda"]) == 2
        assert capsys.readouterr().err.strip() == ("ganrun-eval: error: --device cuda but no CUDA GPU is visible "
                                                   "to PyTorch: use --device cpu or --device auto")


def test_a_classifier_without_a_held_out_split_says_so_instead_of_nan_percent():
    from ganrun.metrics.classifier import held_out_accuracy

    assert held_out_accuracy(0.9731) == "97.3% held-out accuracy"
    assert held_out_accuracy(float("nan")) == "no held-out split to measure it on"
