"""`ganrun-eval`: measure a trained generator after the fact, or anyone's samples.

    ganrun-eval outputs/2026-01-01/12-00-00-000000
    ganrun-eval run/checkpoints/step_0002000.pt --n 10000 --out eval.json
    ganrun-eval RUN --inception on --inception-weights weights-inception-2015-12-05-6726825d.pth
    ganrun-eval samples.npy --dataset digits                 # samples made by any program
    ganrun-eval pngs/ --dataset digits --class 7 --out sevens.json

For a run it uses the run's stored config (dataset, eval settings), so with the same --n and --seed
it reproduces the metrics that training wrote into metrics.json. With --dataset it judges the given
samples (a .npy array in the data's units, images in [-1, 1], or a folder of images) against that
dataset with the same metrics and protocol (ganrun/commands/judge.py: companion files x_labels.npy,
x_codes.npy, ...). It prints a table and writes the same flat JSON (default:
<run>/eval_step_XXXXXXX.json, or <samples>_eval.json beside the samples).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from ganrun.errors import GanrunError, entry_point


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ganrun-eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("checkpoint", help="a checkpoint file, or a run folder (its last checkpoint); with --dataset, "
                                      "samples: a .npy array or a folder of images")
    p.add_argument("--dataset", help="judge samples made anywhere against this dataset option (digits, ring, "
                                     "stacked_digits, edges2digits, ...)")
    p.add_argument("--class", dest="label", help="with --dataset: every sample was drawn for this class (index or name)")
    p.add_argument("--labels", help="with --dataset: a .npy of the class each sample was drawn for "
                                    "(default: <samples>_labels.npy when it exists)")
    p.add_argument("--codes", help="with --dataset: a .npy of each sample's InfoGAN categorical code "
                                   "(default: <samples>_codes.npy when it exists)")
    p.add_argument("--n", type=int, help="generated samples (default: the run's eval.n)")
    p.add_argument("--seed", type=int, help="noise seed of those samples (default: the run's eval.seed)")
    p.add_argument("--out", help="where to write the JSON (default: <run>/eval_step_XXXXXXX.json)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--inception", choices=["auto", "on", "off"],
                   help="FID/IS/KID: auto = on when a GPU is used (default: the run's setting)")
    p.add_argument("--inception-weights", help="the Inception weights file (default: torch's hub cache)")
    p.add_argument("--truncation", type=float,
                   help="the truncation trick for the samples (default: the run's eval.truncation)")
    p.add_argument("--cache-dir", help="classifier and reference-statistics cache (default: $GANRUN_CACHE_DIR "
                                       "or ~/.cache/ganrun)")
    p.add_argument("--data-root", help="where the run's training data is, for datasets read from files "
                                       "(default: the dataset's own default, e.g. ./data)")
    return p.parse_args(argv)


def eval_settings(trained, args):
    """The run's eval config with the command line's changes."""
    from omegaconf import OmegaConf

    from ganrun.config import EvalConfig, check_ranges

    cfg = OmegaConf.merge(OmegaConf.structured(EvalConfig), trained.cfg.get("eval") or {})
    for key, value in [("n", args.n), ("seed", args.seed), ("truncation", args.truncation)]:
        if value is not None:
            cfg[key] = value
    if args.inception:
        cfg.inception = {"auto": None, "on": True, "off": False}[args.inception]
    check_ranges(cfg, "eval.")
    return cfg


# The options that say where files are read: a run's stored paths are never used (docs/ARCHITECTURE.md).
PATH_FLAGS = {"dataset.root": "--data-root ", "eval.cache_dir": "--cache-dir ",
              "eval.inception_weights": "--inception-weights "}


def tool_paths(args: argparse.Namespace) -> dict:
    return {"dataset.root": args.data_root, "eval.cache_dir": args.cache_dir,
            "eval.inception_weights": args.inception_weights}


def default_out(checkpoint: Path, step: int) -> Path:
    run = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else Path.cwd()
    return run / f"eval_step_{step:07d}.json"


def _raise(message: str):
    raise GanrunError(message)


def check_out(out: Path, checkpoint: Path) -> None:
    """--out names a .json file that is not one of the run's own files (its checkpoints, metrics.json,
    config.json, .hydra/, ...): an earlier evaluation's file may be written again, nothing else."""
    if out.suffix.lower() != ".json":
        raise GanrunError(f"--out {out}: use a .json file name (ganrun-eval writes its metrics as JSON)")
    run = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None
    target = out.resolve()
    if target == checkpoint.resolve() or (run is not None and target.is_relative_to(run.resolve())
                                           and target.exists() and not target.name.startswith("eval")):
        raise GanrunError(f"--out {out} is a file of the run {run or checkpoint}; write the metrics to a new "
                          f"file (default: <run>/eval_step_XXXXXXX.json)")


def table(values: dict) -> str:
    width = max(len(k) for k in values) if values else 6
    lines = [f"{'metric':<{width}}  value"]
    for k, v in values.items():
        shown = "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"
        lines.append(f"{k:<{width}}  {shown}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for flag, value in (("--class", args.label), ("--labels", args.labels), ("--codes", args.codes)):
        if value is not None and not args.dataset:
            return entry_point("ganrun-eval", lambda: _raise(f"{flag} goes with --dataset (judging samples made "
                                                             f"elsewhere); a run draws its own classes and codes"))
    body = evaluate_samples if args.dataset else evaluate
    return entry_point("ganrun-eval", lambda: body(args),
                       {"device=": "--device ", "eval.n=": "--n ", "eval.seed=": "--seed ",
                        "eval.truncation=": "--truncation ", **{f"{k}=": v for k, v in PATH_FLAGS.items()}})


def evaluate_samples(args: argparse.Namespace) -> int:
    """ganrun-eval SAMPLES --dataset NAME: the samples of any program, judged as a run's are."""
    from ganrun.checkpoint import atomic_write_text
    from ganrun.commands.judge import judge

    for flag, value in (("--n", args.n), ("--seed", args.seed), ("--truncation", args.truncation)):
        if value is not None:
            raise GanrunError(f"{flag} draws a trained run's samples; with --dataset the samples are given: "
                              f"leave {flag} out")
    path = Path(args.checkpoint)
    if not path.exists():
        raise GanrunError(f"{path}: no such file or folder")
    out = Path(args.out) if args.out else path.with_name(f"{path.stem if path.is_file() else path.name}_eval.json")
    if out.suffix.lower() != ".json":
        raise GanrunError(f"--out {out}: use a .json file name (ganrun-eval writes its metrics as JSON)")
    overrides = [f"eval.cache_dir={args.cache_dir}"] if args.cache_dir else []
    if args.inception:
        overrides.append(f"eval.inception={ {'auto': 'null', 'on': 'true', 'off': 'false'}[args.inception] }")
    if args.inception_weights:
        overrides.append(f"eval.inception_weights={args.inception_weights}")
    values, protocol, n = judge(path, args.dataset, {"labels": args.labels, "codes": args.codes}, args.label,
                                args.device, overrides, args.data_root)
    atomic_write_text(out, json.dumps({"samples": str(path), "dataset": args.dataset, **values,
                                       "protocol": protocol}, indent=2) + "\n")
    print(f"{path}: {n} samples judged against dataset={args.dataset}")
    report(values, protocol, out)
    return 0


def report(values: dict, protocol: dict, out: Path) -> None:
    print(table(values))
    print("\nprotocol:")
    for k, text in protocol.items():
        print(f"  {k}: {text}")
    print(f"\nwritten to {out}")


def not_a_run(path: Path) -> None:
    """Samples given without --dataset, or a sweep's folder, named as what they are (the checkpoint
    reader would call them unreadable or empty)."""
    from ganrun.checkpoint import LAST
    from ganrun.data.images import IMAGE_EXTENSIONS

    if path.is_file() and path.suffix.lower() == ".npy":
        raise GanrunError(f"{path} is an array of samples, not a run: add --dataset NAME to judge it against a "
                          f"dataset (digits, ring, ...)")
    if not path.is_dir() or (path / "checkpoints").is_dir() or (path / LAST).is_file() or (path / ".hydra").is_dir():
        return          # a run's folder: its own message if it has no checkpoint yet
    runs = sorted(p.parent.parent for p in path.glob(f"*/checkpoints/{LAST}"))
    if runs:
        raise GanrunError(f"{path} is a sweep's folder: give one of its runs, e.g. {runs[0]} "
                          f"(ganrun-report {path} compares them)")
    if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.rglob("*")):
        raise GanrunError(f"{path} holds images, not a run: add --dataset NAME to judge them against a dataset")


def evaluate(args: argparse.Namespace) -> int:
    from ganrun.checkpoint import atomic_write_text
    from ganrun.trained import load_trained
    from ganrun.metrics import Evaluator, augmented
    from ganrun.commands.sample import check_seed, check_truncation

    check_seed(args.seed)
    check_truncation(args.truncation)
    not_a_run(Path(args.checkpoint))
    trained = load_trained(args.checkpoint, args.device, with_data=True, paths=tool_paths(args), flags=PATH_FLAGS)
    settings = eval_settings(trained, args)
    if settings.truncation is not None and not trained.exp.game.draws_noise:
        raise GanrunError(f"--truncation does not apply to a {trained.cfg.game.type} run: its generator "
                          f"translates images and draws no noise z; leave --truncation out")
    out = Path(args.out) if args.out else default_out(trained.path, trained.step)
    check_out(out, trained.path)
    evaluator = Evaluator(settings, trained.data, trained.device, augmented(trained.cfg))
    values, protocol = evaluator(trained.generate)
    result = {"checkpoint": str(trained.path), "step": trained.step, **values, "protocol": protocol}
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"{trained.path} (step {trained.step}), {settings.n} samples, seed {settings.seed}")
    report(values, protocol, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
