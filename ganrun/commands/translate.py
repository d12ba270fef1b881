"""`ganrun-translate RUN --in INPUT --out OUTPUT [--direction BtoA]`: translate images with a
trained pix2pix or CycleGAN run.

INPUT is an image file, a folder of images or a .npy array (N, C, H, W) in [-1, 1]; OUTPUT is the
same kind (an image file, a folder of PNGs named as the inputs, a .npy array). Image files are
converted to the run's input channels and resized (shorter side, then centre crop) to its
resolution, as training data is; a .npy array must already have the run's shape. The networks
are rebuilt from the checkpoint's stored config through ganrun's registry, as ganrun-sample does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganrun.errors import GanrunError, entry_point


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ganrun-translate", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a pix2pix or CycleGAN checkpoint, or its run folder (its last checkpoint)")
    p.add_argument("--in", dest="inp", required=True, help="an image, a folder of images, or a .npy array in [-1, 1]")
    p.add_argument("--out", required=True, help="an image file, a folder, or a .npy file (the same kind as --in)")
    p.add_argument("--direction", default="AtoB", choices=["AtoB", "BtoA"],
                   help="CycleGAN runs: A -> B (default) or B -> A")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return entry_point("ganrun-translate", lambda: translate(args), {"device=": "--device "})


def read_inputs(inp: Path, shape: tuple[int, int, int]):
    """(images in [-1, 1] as (N, C, R, R), their file names or None for an array)."""
    import numpy as np
    import torch

    from ganrun.data.images import IMAGE_EXTENSIONS, find_images, load_image
    from ganrun.pixels import to_unit_range

    c, r = shape[0], shape[1]
    if inp.suffix.lower() == ".npy":
        from ganrun.commands.judge import read_array

        array = read_array(inp, "--in")          # a numeric array, never a pickle
        if array.ndim != 4 or tuple(array.shape[1:]) != (c, r, r):
            raise GanrunError(f"--in {inp}: an array of shape {tuple(array.shape)}; this run translates "
                              f"(N, {c}, {r}, {r}) arrays in [-1, 1]")
        images = torch.from_numpy(array.astype(np.float32))
        check_range(images, f"--in {inp}")
        return images, None
    if inp.is_dir():
        files = find_images(inp)
        if not files:
            raise GanrunError(f"--in {inp}: the folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    elif inp.is_file():
        if inp.suffix.lower() not in IMAGE_EXTENSIONS:
            raise GanrunError(f"--in {inp}: give an image ({', '.join(IMAGE_EXTENSIONS)}), a folder or a .npy file")
        files = [inp]
    else:
        raise GanrunError(f"--in {inp}: no such file or folder")
    images = []
    for f in files:
        try:
            images.append(load_image(f, r, c))
        except Exception as e:
            raise GanrunError(f"unreadable image {f}: {str(e).splitlines()[0]}") from None
    return to_unit_range(torch.stack(images)), [f.relative_to(inp) if inp.is_dir() else f.name for f in files]


RANGE_SLACK = 1e-3      # images in [-1, 1]: rounding may leave a value a hair outside


def check_range(images, what: str) -> None:
    """Images must be finite and in [-1, 1], the range the networks were trained on."""
    import torch

    if not bool(torch.isfinite(images).all()):
        raise GanrunError(f"{what}: the array holds NaN or infinite values; give finite images in [-1, 1]")
    if len(images) and float(images.abs().max()) > 1 + RANGE_SLACK:
        raise GanrunError(f"{what}: values span [{float(images.min()):.4g}, {float(images.max()):.4g}]; this run "
                          f"translates images in [-1, 1] (pixels p in 0..255 as p / 127.5 - 1)")


def output_names(names: list[Path]) -> list[Path]:
    """The PNG name of each input image: its name with .png, or, where two inputs would share one
    (x.png and x.jpg), its whole name with .png added (x.png.png, x.jpg.png), so no output replaces another."""
    plain = [n.with_suffix(".png") for n in names]
    taken: dict[Path, int] = {}
    for n in plain:
        taken[n] = taken.get(n, 0) + 1
    chosen = [p if taken[p] == 1 else n.with_name(n.name + ".png") for n, p in zip(names, plain)]
    if len(set(chosen)) < len(chosen):       # x.png, x.jpg and x.png.png: number them all
        chosen = [n.with_name(f"{i:06d}_{n.name}.png") for i, n in enumerate(names)]
    return chosen


def write_outputs(out: Path, images, names, inp: Path) -> str:
    from ganrun import visualize
    from ganrun.pixels import to_uint8
    from ganrun.commands.sample import save_npy

    if out.suffix.lower() == ".npy":
        save_npy(out, images.cpu().numpy())
        return f"{out} ({len(images)} images)"
    if names is None:
        raise GanrunError(f"--out {out}: a .npy input gives a .npy output")
    if inp.is_dir():
        for image, name in zip(to_uint8(images), output_names(names)):
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            visualize.save_png(image, path)
        return f"{out}/ ({len(images)} PNGs)"
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise GanrunError(f"--out {out}: an image input gives an image output (.png or .jpg)")
    visualize.save_png(to_uint8(images)[0], out)
    return str(out)


def check_output_kind(inp: Path, out: Path) -> None:
    """--out must be the same kind as --in: an array, a folder, or an image file."""
    if inp.suffix.lower() == ".npy" and out.suffix.lower() != ".npy":
        raise GanrunError(f"--out {out}: a .npy input gives a .npy output")
    if inp.is_dir() and out.suffix.lower() in (".npy", ".png", ".jpg", ".jpeg"):
        raise GanrunError(f"--out {out}: a folder input gives a folder of PNGs; name a folder")
    if inp.is_file() and inp.suffix.lower() != ".npy" and out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise GanrunError(f"--out {out}: an image input gives an image output (.png or .jpg)")


def translate(args: argparse.Namespace) -> int:
    import torch

    from ganrun.trained import load_trained

    if args.batch_size < 1:
        raise GanrunError("--batch-size must be at least 1")
    trained = load_trained(args.checkpoint, args.device, all_players=True)
    game = trained.exp.game
    if not game.translates:
        raise GanrunError(f"{trained.path} is a {trained.cfg.game.type} run, not an image-to-image one "
                          f"(pix2pix or CycleGAN): use ganrun-sample for it")
    data = trained.data
    shape = data.source_shape if args.direction == "AtoB" else data.shape
    inp, out = Path(args.inp), Path(args.out)
    check_output_kind(inp, out)
    if args.direction not in game.translates:
        game.translate(torch.zeros(0), args.direction)          # refuses, saying why, before any image is read
    images, names = read_inputs(inp, tuple(shape))
    outputs = []
    with torch.no_grad():
        for chunk in images.to(trained.device).split(args.batch_size):
            outputs.append(game.translate(chunk, args.direction).float().cpu())
    where = write_outputs(out, torch.cat(outputs), names, inp)
    print(f"{len(images)} image(s) translated {args.direction} by {trained.path} (step {trained.step}) -> {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
