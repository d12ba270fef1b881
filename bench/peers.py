"""Side by side: each of ganrun's presets against the reference script people copy instead
(bench/peers/), on the same data, batch and steps, judged by the same `ganrun-eval` (issue 26).

    python bench/peers.py                                  # every system, seeds 0 1 2, the short budget
    python bench/peers.py --budget full --systems dcgan cgan
    python bench/peers.py --systems dcgan --sides ganrun     # ganrun's side again, after a change to it
    python bench/peers.py --table                          # rewrite the table from the stored results only
    python bench/peers.py --table --check                  # exit 1 if bench/RESULTS.md's table is not the results'

For each system, budget and seed, the peer script trains (its own loop, settings and networks; only
the data is ganrun's) and writes its samples; ganrun trains the preset at its defaults with the same
steps and batch and `ganrun-sample` writes its samples; both are judged by `ganrun-eval SAMPLES
--dataset NAME` (image-to-image runs: ganrun-eval on the run, which measures the same held-out
translations the peer writes). Every process runs on one thread (`--jobs` of them side by side), and
the time of each side is the CPU time of its training process, from the kernel's record of that
process alone (start-up, data, loop and samples; ganrun with its own end-of-run metrics off, still
writing its pictures, logs and checkpoints): unlike wall time, other work on the machine does not
inflate it. Then the faster side is trained again for the slower side's time, in more steps
(budget `<budget>@wall`): the peer where ganrun is slower, ganrun where the peer is.

Results accumulate in bench/peers_results.json; the table between the markers in bench/RESULTS.md
is written from them, never typed.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "peers_results.json"
TABLE_FILE = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- peers:begin (written by bench/peers.py) -->", "<!-- peers:end -->"
README = ROOT / "README.md"
SUMMARY_BEGIN, SUMMARY_END = "<!-- peers-summary:begin (written by bench/peers.py) -->", "<!-- peers-summary:end -->"
# metrics where lower is better (everything else: higher is better)
LOWER = {"fd_digits", "fd_A", "fd_B", "intra_fd", "l1", "cycle_A", "cycle_B", "rkl", "dup_rate", "class_kl",
         "mode_kl"}


@dataclass(frozen=True)
class System:
    name: str
    peer: tuple[str, ...]          # the script in bench/peers/ and its own arguments
    ganrun: tuple[str, ...]        # ganrun's preset at its defaults
    dataset: str                   # what both are judged against (ganrun-eval --dataset)
    main: str                      # the row's main metric
    others: tuple[str, ...]
    batch: int                     # the preset's batch (samples), given to the peer
    steps: dict = field(default_factory=dict)      # budget -> generator updates
    peer_batch: int = 0            # the peer's --batch-size where it counts otherwise (PacGAN: packs)
    translation: bool = False      # judged on the run (held-out translations)


DIGITS_METRICS = ("fd_digits", "coverage", "recall", "precision", "classes_covered", "dup_rate")
# Budgets: "full" is the preset's own length where the peer can train that long on one CPU core in
# about 20 minutes, else what it trains in about 10; "short" a fifth of it or so (bench/RESULTS.md).
SYSTEMS = {s.name: s for s in [
    System("dcgan", ("dcgan.py",), (), "digits", "confident", DIGITS_METRICS, 64,
           {"short": 500, "full": 3000}),
    System("cgan", ("cgan.py",), ("game=conditional",), "digits", "cond_acc",
           ("confident", *DIGITS_METRICS, "intra_fd"), 64, {"short": 600, "full": 3000}),
    System("acgan", ("acgan.py",), ("experiment=acgan",), "digits", "cond_acc",
           ("confident", *DIGITS_METRICS, "intra_fd"), 64, {"short": 200, "full": 800}),
    System("infogan", ("infogan.py",), ("experiment=infogan",), "digits", "code_acc",
           ("confident", *DIGITS_METRICS), 64, {"short": 100, "full": 400}),
    System("wgan_gp_ring", ("wgan_gp_toy.py",), ("experiment=wgan_gp_toy",), "ring", "hq",
           ("modes", "rkl"), 256, {"short": 500, "full": 2000}),
    System("pix2pix", ("pix2pix.py",), ("experiment=pix2pix",), "edges2digits", "class_kept",
           ("l1", "psnr", "ssim", "fd_B"), 16, {"short": 200, "full": 1000}, translation=True),
    System("cyclegan", ("cyclegan.py",), ("experiment=cyclegan",), "digits2bold", "class_kept_AB",
           ("class_kept_BA", "cycle_A", "cycle_B", "fd_B", "fd_A"), 8, {"short": 50, "full": 200},
           translation=True),
    System("pacgan2_ring", ("pacgan_toy.py", "--dataset", "ring", "--pack", "2"),
           ("experiment=pacgan_ring", "tricks.pack=2"), "ring", "hq", ("modes", "rkl"), 200,
           {"short": 2000, "full": 20000}, peer_batch=100),
    System("pacgan2_grid", ("pacgan_toy.py", "--dataset", "grid", "--pack", "2"),
           ("experiment=pacgan_grid", "tricks.pack=2"), "grid", "modes", ("hq", "rkl"), 200,
           {"short": 2000, "full": 10000}, peer_batch=100),
]}


def run(cmd: list[str], log: Path) -> float:
    """Run one command on one thread; its CPU seconds (user + system, from the kernel's record of that
    process alone), which other work on a busy machine does not inflate as it does wall time."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"failed ({proc.returncode}): {' '.join(cmd)}; see {log}")
    return usage.ru_utime + usage.ru_stime


def judge(samples: Path, dataset: str, out: Path, log: Path) -> dict:
    run([str(BIN / "ganrun-eval"), str(samples), "--dataset", dataset, "--device", "cpu", "--out", str(out)], log)
    return json.loads(out.read_text())


def train_peer(system: System, steps: int, seed: int, work: Path) -> dict:
    folder = work / f"{system.name}-peer-{steps}-{seed}"
    log = folder.with_suffix(".log")
    folder.mkdir(parents=True, exist_ok=True)
    cpu = run([sys.executable, str(ROOT / "bench" / "peers" / system.peer[0]), *system.peer[1:], "--steps", str(steps),
               "--batch-size", str(system.peer_batch or system.batch), "--seed", str(seed), "--out", str(folder),
               "--threads", "1"], log)
    seconds = json.loads((folder / "run.json").read_text())["train_seconds"]
    return {"seconds": seconds, "cpu_s": round(cpu, 1),
            "metrics": judge(folder / "samples.npy", system.dataset, folder / "eval.json", log)}


def train_ganrun(system: System, steps: int, seed: int, work: Path) -> dict:
    folder = work / f"{system.name}-ganrun-{steps}-{seed}"
    log = folder.with_suffix(".log")
    # its own end-of-run metrics off: both sides are judged below by the same command
    quiet_eval = [] if system.translation else ["eval.classifier=false", "eval.memorisation=false"]
    cpu = run([str(BIN / "ganrun"), *system.ganrun, f"train.steps={steps}", f"seed={seed}", "quiet=true",
               "device=cpu", "eval.inception=false", *quiet_eval, f"hydra.run.dir={folder}"], log)
    seconds = json.loads((folder / "metrics.json").read_text())["wall_s"]
    if system.translation:
        run([str(BIN / "ganrun-eval"), str(folder), "--device", "cpu", "--out", str(folder / "eval.json")], log)
        metrics = json.loads((folder / "eval.json").read_text())
    else:
        run([str(BIN / "ganrun-sample"), str(folder), "--n", "2500", "--device", "cpu",
             "--out", str(folder / "samples.npy")], log)
        metrics = judge(folder / "samples.npy", system.dataset, folder / "eval.json", log)
    return {"seconds": seconds, "cpu_s": round(cpu, 1), "metrics": metrics}


def cpu(r: dict) -> float:
    """A run's time: the CPU seconds of its training process (start-up, data, loop, samples)."""
    return r.get("cpu_s", r["seconds"])


def key(r: dict) -> tuple:
    return r["system"], r["budget"], r["side"], r["seed"]


def load_results(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.is_file() else []


def store(path: Path, record: dict) -> None:
    """Add (or replace) one record; locked, since trainings side by side, or two bench runs, finish at once."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = [r for r in load_results(path) if key(r) != key(record)] + [record]
        results.sort(key=lambda r: (list(SYSTEMS).index(r["system"]) if r["system"] in SYSTEMS else 99,
                                    r["budget"], r["side"], r["seed"]))
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(results, indent=1) + "\n")
        temporary.replace(path)


def record_of(system: System, budget: str, side: str, seed: int, steps: int, out: dict) -> dict:
    return {"system": system.name, "budget": budget, "side": side, "seed": seed, "steps": steps,
            "batch": system.batch, **out, "metrics": {k: v for k, v in out["metrics"].items() if k != "protocol"}}


def measure(systems: list[str], budget: str, seeds: list[int], jobs: int, work: Path, results: Path,
            same_steps: bool, same_time: bool, sides: tuple[str, ...] = ("peer", "ganrun")) -> None:
    """Both sides at the budget's steps (`same_steps`), then (`same_time`) the faster side again for
    the slower side's CPU time, in more steps (budget `<budget>@wall`). `sides`: train only these
    (after a change to ganrun, its side again against the stored peer runs)."""
    def one(task):
        system, side, seed, steps, label = task
        out = (train_peer if side == "peer" else train_ganrun)(system, steps, seed, work)
        record = record_of(system, label, side, seed, steps, out)
        store(results, record)
        print(f"{system.name} {label} {side} seed {seed}: {steps} steps, {record['cpu_s']:.0f} CPU s, "
              f"{system.main} {record['metrics'].get(system.main)}", flush=True)
        return record

    if same_steps:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(one, [(SYSTEMS[s], side, seed, SYSTEMS[s].steps[budget], budget)
                                for s in systems for seed in seeds for side in ("peer", "ganrun") if side in sides]))
    if not same_time:
        return
    tasks = []
    for name in systems:
        rows = [r for r in load_results(results) if r["system"] == name and r["budget"] == budget]
        side_cpu = {side: [cpu(r) for r in rows if r["side"] == side] for side in ("peer", "ganrun")}
        if not all(side_cpu.values()):
            continue
        slow, fast = sorted(side_cpu, key=lambda side: statistics.mean(side_cpu[side]), reverse=True)
        if statistics.mean(side_cpu[slow]) <= 1.05 * statistics.mean(side_cpu[fast]):
            continue
        per_step = statistics.mean(cpu(r) / r["steps"] for r in rows if r["side"] == fast)
        steps = round(statistics.mean(side_cpu[slow]) / per_step)
        tasks += [(SYSTEMS[name], fast, seed, steps, f"{budget}@wall") for seed in seeds if fast in sides]
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, tasks))


# --------------------------------------------------------------------------- the table
def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def cell(values: list[float]) -> str:
    if not values:
        return "n/a"
    m, sd = mean_sd(values)
    return f"{m:.3g} ± {sd:.2g}"


def numbers(rows: list[dict], metric: str) -> list[float]:
    out = []
    for r in rows:
        v = r["metrics"].get(metric)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


def verdict(metric: str, peer: list[float], mine: list[float]) -> str:
    """Main metric: ganrun's mean at least the peer's; others: not worse by more than the seeds' spread."""
    if not peer or not mine:
        return ""
    (pm, psd), (gm, gsd) = mean_sd(peer), mean_sd(mine)
    # Means equal to float32's precision (the metrics are float32) are equal: the same 514 of 537
    # translations kept, split differently over the seeds, gave CycleGAN means 2e-8 apart.
    better = math.isclose(gm, pm, rel_tol=1e-6) or (gm <= pm if metric in LOWER else gm >= pm)
    within = abs(gm - pm) <= max(psd, gsd)
    return "≥ peer" if better else ("within spread" if within else "**worse**")


def table(results: list[dict]) -> str:
    lines = ["| system | budget | steps × batch | metric | peer (mean ± sd) | ganrun (mean ± sd) | ganrun vs peer | "
             "peer CPU s | ganrun CPU s | seeds |",
             "|---|---|---|---|---|---|---|---:|---:|---|"]
    budgets = sorted({r["budget"] for r in results if "@" not in r["budget"]}, key=lambda b: (b != "short", b))
    for name, system in SYSTEMS.items():
        for budget in budgets:
            rows = [r for r in results if r["system"] == name and r["budget"] == budget]
            peer = [r for r in rows if r["side"] == "peer"]
            mine = [r for r in rows if r["side"] == "ganrun"]
            if not peer and not mine:
                continue
            steps, batch = (peer or mine)[0]["steps"], (peer or mine)[0]["batch"]
            seeds = ",".join(str(s) for s in sorted({r["seed"] for r in rows}))
            for i, metric in enumerate((system.main, *system.others)):
                p, g = numbers(peer, metric), numbers(mine, metric)
                if not p and not g:
                    continue
                shown = f"**{metric}**" if i == 0 else metric
                times = (f"{statistics.mean(cpu(r) for r in peer):.0f}" if peer else "",
                         f"{statistics.mean(cpu(r) for r in mine):.0f}" if mine else "") if i == 0 else ("", "")
                lines.append(f"| {name if i == 0 else ''} | {budget if i == 0 else ''} | "
                             f"{f'{steps} × {batch}' if i == 0 else ''} | {shown} | {cell(p)} | {cell(g)} | "
                             f"{verdict(metric, p, g)} | {times[0]} | {times[1]} | {seeds if i == 0 else ''} |")
            walled = [r for r in results if r["system"] == name and r["budget"] == f"{budget}@wall"]
            if walled:
                side = walled[0]["side"]
                who = "peer given ganrun's time" if side == "peer" else "ganrun given the peer's time"
                t = f"{statistics.mean(cpu(r) for r in walled):.0f}"
                for i, metric in enumerate((system.main, *system.others)):
                    again = numbers(walled, metric)
                    kept = numbers(mine if side == "peer" else peer, metric)
                    p, g = (again, kept) if side == "peer" else (kept, again)
                    if not again:
                        continue
                    first = i == 0
                    label, size = (f"{budget}, {who}", f"{walled[0]['steps']} × {walled[0]['batch']}") if first \
                        else ("", "")
                    times = (t if side == "peer" else "", t if side == "ganrun" else "") if first else ("", "")
                    seeds_run = ",".join(str(r["seed"]) for r in walled) if first else ""
                    lines.append(f"| | {label} | {size} | {f'**{metric}**' if first else metric} | {cell(p)} | "
                                 f"{cell(g)} | {verdict(metric, p, g)} | {times[0]} | {times[1]} | {seeds_run} |")
    return "\n".join(lines)


def summary(results: list[dict]) -> str:
    """README's short form: each system and budget's main metric, peer against ganrun, and times."""
    lines = ["| system | budget (steps × batch) | main metric | peer | ganrun | ganrun vs peer | CPU s, peer / ganrun |",
             "|---|---|---|---|---|---|---|"]
    for line in table(results).splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not cells[3].startswith("**"):
            continue
        name, budget, size, metric, peer, mine, verdict, tp, tg, _ = cells
        if not name:            # the peer given ganrun's time
            lines.append(f"| | {budget} ({size}) | {metric} | {peer} | {mine} | {verdict} | "
                         f"{tp or 'as above'} / {tg or 'as above'} |")
        else:
            lines.append(f"| {name} | {budget} ({size}) | {metric} | {peer} | {mine} | {verdict} | {tp} / {tg} |")
    return "\n".join(lines)


def replace_block(path: Path, begin: str, end: str, body: str) -> tuple[str, str]:
    """(the file's text, the text with `body` between the markers; appended when they are missing)."""
    text = path.read_text()
    block = f"{begin}\n{body}\n{end}"
    if begin in text:
        head, rest = text.split(begin, 1)
        return text, head + block + rest.split(end, 1)[1]
    return text, text.rstrip("\n") + "\n\n" + block + "\n"


def write_table(results: list[dict], check: bool) -> int:
    """The full table into bench/RESULTS.md and its summary into README.md (or, with `check`, say
    whether they are the ones the stored results give)."""
    stale = 0
    for path, begin, end, body in ((TABLE_FILE, BEGIN, END, table(results)),
                                   (README, SUMMARY_BEGIN, SUMMARY_END, summary(results))):
        old, new = replace_block(path, begin, end, body)
        if check:
            if new != old:
                print(f"{path}: its peers table is not the one {RESULTS.name} gives; run bench/peers.py --table")
                stale = 1
            continue
        path.write_text(new)
    if not check:
        print(table(results))
    elif not stale:
        print(f"{TABLE_FILE.name} and {README.name}: the peers tables match {RESULTS.name}")
    return stale


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    p.add_argument("--budget", choices=["short", "full"], default="short")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2, help="trainings side by side, one thread each (default 2)")
    p.add_argument("--work", type=Path, help="where the runs go (default: a temporary folder)")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--no-wall", action="store_true", help="skip the equal-time runs (the faster side again, "
                                                          "for the slower side's CPU time)")
    p.add_argument("--wall-only", action="store_true", help="only the equal-time runs, from the stored results")
    p.add_argument("--sides", nargs="+", choices=["peer", "ganrun"], default=["peer", "ganrun"],
                   help="train only these sides (e.g. ganrun after a change to it; the peer's stored runs stay)")
    p.add_argument("--table", action="store_true", help="only write the table from the stored results")
    p.add_argument("--check", action="store_true", help="with --table: compare instead of writing")
    args = p.parse_args(argv)
    if not args.table:
        work = args.work or Path(tempfile.mkdtemp(prefix="ganrun-peers-"))
        work.mkdir(parents=True, exist_ok=True)
        print(f"runs in {work}", flush=True)
        measure(args.systems, args.budget, args.seeds, args.jobs, work, args.results, not args.wall_only,
                not args.no_wall, tuple(args.sides))
    return write_table(load_results(args.results), args.check)


if __name__ == "__main__":
    sys.exit(main())
