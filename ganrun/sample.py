"""`ganrun-sample`: draw samples from a trained generator.

    ganrun-sample outputs/2026-01-01/12-00-00-000000 --n 64 --out grid.png
    ganrun-sample run/checkpoints/step_0002000.pt --n 1000 --out samples.npy --seed 1
    ganrun-sample RUN --n 100 --out-dir pngs/

`--out x.png` writes one picture: a grid for images, the dataset kind's picture
for toy data (scatter, density, curves). `--out x.npy` writes the raw samples in
data space, shape (n, *sample_shape). `--out-dir DIR` writes one PNG per image.
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
    return p.parse_args(argv)


def write_samples(trained, samples, out: str | None, out_dir: str | None) -> list[Path]:
    """Write the requested files (samples in model space); returns their paths."""
    import io

    import numpy as np

    from ganrun import visualize
    from ganrun.checkpoint import atomic_write_bytes
    from ganrun.kinds import KINDS
    from ganrun.pixels import to_uint8

    written: list[Path] = []
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".npy":
            buffer = io.BytesIO()
            np.save(buffer, trained.data.to_data(samples).float().cpu().numpy())
            atomic_write_bytes(path, buffer.getvalue(), sync=False)
        else:
            visualize.save_png(KINDS[trained.data.kind].picture(trained.data, samples), path)
        written.append(path)
    if out_dir:
        if trained.data.kind != "images":
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


def sample(args: argparse.Namespace) -> int:
    if not args.out and not args.out_dir:
        raise GanrunError("say where to write: --out x.png, --out x.npy or --out-dir DIR")
    if args.out and Path(args.out).suffix.lower() not in (".png", ".jpg", ".jpeg", ".npy"):
        raise GanrunError(f"--out {args.out}: use a .png (picture) or .npy (raw samples) file")
    if args.n < 1 or args.batch_size < 1:
        raise GanrunError("--n and --batch-size must be at least 1")
    check_seed(args.seed)
    from ganrun.generate import load_trained

    trained = load_trained(args.checkpoint, args.device)
    samples = trained.generate(args.n, seed=args.seed, batch_size=args.batch_size)
    write_samples(trained, samples, args.out, args.out_dir)
    targets = ([args.out] if args.out else []) + ([f"{args.out_dir}/ ({args.n} PNGs)"] if args.out_dir else [])
    print(f"{args.n} samples from {trained.path} (step {trained.step}) -> {', '.join(targets)}")
    return 0


def check_seed(seed: int | None) -> None:
    from ganrun.config import SEED_MAX

    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise GanrunError(f"--seed {seed} is out of range: use 0 to {SEED_MAX}")


if __name__ == "__main__":
    sys.exit(main())
