"""`ganrun-sample`: draw samples from a trained generator.

    ganrun-sample outputs/2026-01-01/12-00-00-000000 --n 64 --out grid.png
    ganrun-sample run/checkpoints/step_0002000.pt --n 1000 --out samples.npy --seed 1
    ganrun-sample RUN --n 100 --out-dir pngs/
    ganrun-sample RUN --n 64 --class 7 --out sevens.png      # a conditional run: class 7 (or its name)
    ganrun-sample RUN --n 64 --code 3 --out code3.png        # InfoGAN: categorical code 3

`--out x.png` writes one picture: a grid for images, the dataset kind's picture
for toy data (scatter, density, curves). `--out x.npy` writes the raw samples in
data space, shape (n, *sample_shape), and beside it what each sample was drawn for: the classes of
a conditional run (x_labels.npy), the categorical codes of an InfoGAN run (x_codes.npy); `ganrun-eval
x.npy --dataset NAME` reads them back. `--out-dir DIR` writes one PNG per image. A conditional run's samples
go round robin over the classes (sample i has class i mod classes) unless --class is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganrun.errors import GanrunError, entry_point


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ganrun-sample", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("checkpoint", help="a checkpoint file, or a run folder (its last checkpoint)")
    p.add_argument("--n", type=int, default=64, help="how many samples (default 64)")
    p.add_argument("--out", help="a .png picture or a .npy array of the samples")
    p.add_argument("--out-dir", help="a folder for one PNG per generated image")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same samples (default 0)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--batch-size", type=int, default=500, help="samples per forward pass (default 500)")
    p.add_argument("--class", dest="label", help="conditional runs: the class to draw (an index or a class name)")
    p.add_argument("--code", type=int, help="InfoGAN runs: the value of the (first) categorical code to draw")
    p.add_argument("--truncation", type=float,
                   help="the truncation trick: redraw every noise component beyond this threshold (e.g. 0.5)")
    return p.parse_args(argv)


def write_samples(trained, batch, out: str | None, out_dir: str | None) -> list[Path]:
    """Write the requested files (a Batch of samples in model space); returns their paths."""
    from ganrun import visualize
    from ganrun.kinds import KINDS
    from ganrun.pixels import to_uint8

    samples = batch.x
    written: list[Path] = []
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".npy":
            save_npy(path, trained.data.to_data(samples).float().cpu().numpy())
            for what, values in (("labels", batch.y), ("codes", batch.code)):    # what each sample was drawn for
                if values is not None:
                    beside = path.with_name(f"{path.stem}_{what}.npy")
                    save_npy(beside, values.cpu().numpy())
                    written.append(beside)
        else:
            visualize.save_png(KINDS[trained.data.kind].picture(trained.data, samples), path)
        written.append(path)
    if out_dir:
        if not KINDS[trained.data.kind].image_like:
            raise GanrunError(f"--out-dir writes images, but this generator makes {trained.data.kind} "
                              f"samples: use --out samples.npy or --out picture.png")
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(to_uint8(samples)):
            path = folder / f"{i:06d}.png"
            visualize.save_png(image, path)
            written.append(path)
    return written


def main(argv=None) -> int:
    args = parse_args(argv)
    return entry_point("ganrun-sample", lambda: sample(args), {"device=": "--device "})


def save_npy(path: Path, array) -> None:
    import io

    import numpy as np

    from ganrun.checkpoint import atomic_write_bytes

    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write_bytes(path, buffer.getvalue(), sync=False)


def class_index(label: str | None, names: list[str], conditional: bool, owner: str = "this run") -> int | None:
    """--class as an index into the run's (or `owner`'s) classes (a number, or one of the class names)."""
    if label is None:
        return None
    if not conditional:
        raise GanrunError(f"--class {label}: this generator is not conditional (train with game=conditional)")
    if label in names:
        return names.index(label)
    if label.lstrip("-").isdigit() and 0 <= int(label) < len(names):
        return int(label)
    from ganrun.errors import did_you_mean

    raise GanrunError(f"--class {label}: {owner} has {len(names)} classes: an index 0-{len(names) - 1} or one "
                      f"of {', '.join(names[:20])}{did_you_mean(label, names)}")


def sample(args: argparse.Namespace) -> int:
    if not args.out and not args.out_dir:
        raise GanrunError("say where to write: --out x.png, --out x.npy or --out-dir DIR")
    if args.out and Path(args.out).suffix.lower() not in (".png", ".jpg", ".jpeg", ".npy"):
        raise GanrunError(f"--out {args.out}: use a .png (picture) or .npy (raw samples) file")
    if args.n < 1 or args.batch_size < 1:
        raise GanrunError("--n and --batch-size must be at least 1")
    check_seed(args.seed)
    check_truncation(args.truncation)
    from ganrun.trained import load_trained

    trained = load_trained(args.checkpoint, args.device)
    game = trained.exp.game
    if game.translates:
        raise GanrunError(f"{trained.path} is an image-to-image run ({trained.cfg.game.type}): it translates "
                          f"images rather than drawing samples; use ganrun-translate RUN --in INPUT --out OUTPUT")
    label = class_index(args.label, trained.data.class_names, game.takes_classes)
    if args.code is not None and not game.takes_codes:
        raise GanrunError(f"--code {args.code}: this generator has no InfoGAN code (train with game=infogan)")
    batch = trained.generate(args.n, seed=args.seed, batch_size=args.batch_size, label=label, code=args.code,
                             truncation=args.truncation)
    write_samples(trained, batch, args.out, args.out_dir)
    targets = ([args.out] if args.out else []) + ([f"{args.out_dir}/ ({args.n} PNGs)"] if args.out_dir else [])
    print(f"{args.n} samples from {trained.path} (step {trained.step}) -> {', '.join(targets)}")
    return 0


def check_truncation(t: float | None) -> None:
    if t is not None and not (t > 0 and t == t and t != float("inf")):
        raise GanrunError(f"--truncation {t}: give a threshold above 0, e.g. --truncation 0.5")


def check_seed(seed: int | None) -> None:
    from ganrun.config import SEED_MAX

    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise GanrunError(f"--seed {seed} is out of range: use 0 to {SEED_MAX}")


if __name__ == "__main__":
    sys.exit(main())
