"""bench/peers/: the reference scripts ganrun is compared with run, write what ganrun-eval reads, and
bench/peers.py's table is made from its stored results (issue 26)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import peers  # noqa: E402  (bench/peers.py)

# script, its arguments, the dataset it is judged against, what it writes beside samples.npy, its row's
# main metric
SCRIPTS = [
    ("dcgan.py", [], "digits", [], "confident"),
    ("cgan.py", [], "digits", ["labels"], "cond_acc"),
    ("acgan.py", [], "digits", ["labels"], "cond_acc"),
    ("infogan.py", [], "digits", ["codes"], "code_acc"),
    ("wgan_gp_toy.py", [], "ring", [], "hq"),
    ("pacgan_toy.py", ["--dataset", "grid", "--pack", "2"], "grid", [], "modes"),
    ("pix2pix.py", [], "edges2digits", [], "class_kept"),
    ("cyclegan.py", [], "digits2bold", ["reverse", "reconstruction", "reverse_reconstruction"], "class_kept_AB"),
]
QUICK = {"dcgan.py", "cgan.py", "pacgan_toy.py"}     # the others run with `make test-slow`


@pytest.mark.parametrize("script,args,dataset,beside,main", [
    pytest.param(*s, marks=() if s[0] in QUICK else pytest.mark.slow, id=s[0]) for s in SCRIPTS])
def test_each_peer_trains_a_few_steps_and_its_samples_are_judged(script, args, dataset, beside, main, tmp_path):
    out = tmp_path / "out"
    subprocess.run([sys.executable, str(REPO / "bench" / "peers" / script), *args, "--steps", "2", "--batch-size", "4",
                    "--n", "24", "--out", str(out)], check=True, cwd=REPO, timeout=600, capture_output=True)
    info = json.loads((out / "run.json").read_text())
    assert info["steps"] == 2 and info["train_seconds"] > 0 and "@" in info["reference"] and ":" in info["reference"]
    samples = np.load(out / "samples.npy")
    assert samples.dtype == np.float32 and np.isfinite(samples).all()
    for name in beside:
        assert len(np.load(out / f"samples_{name}.npy")) == len(samples)
    from ganrun.commands.evaluate import main as eval_main

    assert eval_main([str(out / "samples.npy"), "--dataset", dataset, "--out", str(tmp_path / "e.json")]) == 0
    assert main in json.loads((tmp_path / "e.json").read_text())
    assert any(s.peer[0] == script and s.main == main for s in peers.SYSTEMS.values()), "a row of the bench"


def record(system: str, side: str, seed: int, value: float, budget: str = "short") -> dict:
    s = peers.SYSTEMS[system]
    return {"system": system, "budget": budget, "side": side, "seed": seed, "steps": s.steps["short"],
            "batch": s.batch, "seconds": 10.0 + seed, "metrics": {s.main: value, s.others[0]: 2 * value}}


def test_the_table_is_made_from_the_stored_results():
    results = [record("dcgan", "peer", seed, 0.5 + seed / 100) for seed in range(3)] + \
              [record("dcgan", "ganrun", seed, 0.6 + seed / 100) for seed in range(3)] + \
              [record("pacgan2_grid", "peer", 0, 24), record("pacgan2_grid", "ganrun", 0, 20)]
    text = peers.table(results)
    dcgan = next(line for line in text.splitlines() if line.startswith("| dcgan | short"))
    assert "| **confident** | 0.51 ± 0.01 | 0.61 ± 0.01 | ≥ peer | 11 | 11 | 0,1,2 |" in dcgan
    grid = next(line for line in text.splitlines() if line.startswith("| pacgan2_grid"))
    assert "| **modes** | 24 ± 0 | 20 ± 0 | **worse** |" in grid
    lower = next(line for line in text.splitlines() if "| fd_digits |" in line)
    assert "| 1.02 ± 0.02 | 1.22 ± 0.02 | **worse** |" in lower, "fd: lower is better"
    walled = [dict(record("dcgan", "ganrun", seed, 0.7), budget="short@wall", steps=1500) for seed in range(3)]
    again = next(line for line in peers.table(results + walled).splitlines() if "given the peer's time" in line)
    assert again.startswith("| | short, ganrun given the peer's time | 1500 × 64 | **confident** | 0.51 ± 0.01 | "
                            "0.7 ± 0 | ≥ peer |"), again
    short = peers.summary(results).splitlines()
    assert short[2] == "| dcgan | short (500 × 64) | **confident** | 0.51 ± 0.01 | 0.61 ± 0.01 | ≥ peer | 11 / 11 |"
    assert len(short) == 4, "README's summary holds the main metric of each system and budget only"


def test_results_md_and_readme_hold_the_tables_of_the_stored_results():
    """bench/RESULTS.md's peers table and README's summary are what bench/peers.py writes from
    bench/peers_results.json."""
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "peers.py"), "--table", "--check"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sides_retrains_one_side_and_keeps_the_others_stored_runs(tmp_path, monkeypatch):
    """--sides ganrun: after a change to ganrun, its side is trained again (same steps, then the
    equal-time runs where it is the faster side); the peer's stored runs are neither retrained nor lost."""
    trained = []

    def fake(side):
        def train(system, steps, seed, work):
            trained.append((side, steps, seed))
            return {"seconds": 1.0, "cpu_s": 10.0 if side == "ganrun" else 40.0, "metrics": {system.main: 0.5}}
        return train

    monkeypatch.setattr(peers, "train_peer", fake("peer"))
    monkeypatch.setattr(peers, "train_ganrun", fake("ganrun"))
    results = tmp_path / "results.json"
    for seed in (0, 1):
        peers.store(results, dict(record("dcgan", "peer", seed, 0.4), cpu_s=40.0))
    peers.measure(["dcgan"], "short", [0, 1], 1, tmp_path, results, same_steps=True, same_time=True,
                  sides=("ganrun",))
    assert {side for side, _, _ in trained} == {"ganrun"}
    assert sorted(steps for _, steps, _ in trained) == [500, 500, 2000, 2000], "500 steps, then the peer's time"
    stored = peers.load_results(results)
    assert sorted((r["side"], r["budget"]) for r in stored) == [("ganrun", "short"), ("ganrun", "short"),
                                                                ("ganrun", "short@wall"), ("ganrun", "short@wall"),
                                                                ("peer", "short"), ("peer", "short")]


def test_means_equal_to_float32_precision_count_as_equal():
    """The same 514 of 537 held-out translations kept, split differently over three seeds, is a tie,
    though the float32 shares' means differ in the eighth digit; a real shortfall still loses."""
    peer = [float(np.float32(k / 179)) for k in (174, 172, 168)]
    mine = [float(np.float32(k / 179)) for k in (173, 172, 169)]
    assert peers.mean_sd(mine)[0] != peers.mean_sd(peer)[0]
    assert peers.verdict("class_kept_AB", peer, mine) == "≥ peer"
    behind = [float(np.float32(k / 179)) for k in (173, 172, 168)]
    assert peers.verdict("class_kept_AB", peer, behind) == "within spread"
