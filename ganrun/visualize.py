"""Drawing: samples as uint8 C x H x W pictures (scatter plots, densities, curves, image grids),
and saving them. Which picture goes with which kind of data is decided in ganrun/kinds.py."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

Curve = Callable[[Tensor], Tensor]   # model-space inputs -> D(x) after the loss's link


def _figure_to_image(fig: Figure) -> Tensor:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1)


def scatter_2d(real: Tensor, fake: Tensor) -> Tensor:
    fig = Figure(figsize=(5, 5), dpi=80)
    ax = fig.add_subplot()
    ax.scatter(*real.T, s=4, c="tab:blue", alpha=0.4, label="real")
    ax.scatter(*fake.T, s=4, c="tab:red", alpha=0.4, label="generated")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", markerscale=3)
    fig.tight_layout()
    return _figure_to_image(fig)


def scatter_components(fake: Tensor, which: Tensor, weights: Tensor) -> Tensor:
    """2-D samples of a mixture coloured by the component that drew them (MIX+GAN)."""
    import matplotlib

    fig = Figure(figsize=(5, 5), dpi=80)
    ax = fig.add_subplot()
    colours = matplotlib.colormaps["tab10"]
    for c in range(len(weights)):
        mine = fake[which == c]
        ax.scatter(*mine.T, s=4, color=colours(c % 10), alpha=0.6, label=f"G{c} (w={float(weights[c]):.2f})")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", markerscale=3, fontsize=7)
    fig.tight_layout()
    return _figure_to_image(fig)


def density_1d(data, fake: Tensor, d_curve: Optional[Curve]) -> Tensor:
    """GAN_NOTES §4's picture: target density, generated histogram and D(x)."""
    fig = Figure(figsize=(6, 4), dpi=80)
    ax = fig.add_subplot()
    lo, hi = data.mean - 4 * data.std, data.mean + 4 * data.std
    xs = torch.linspace(lo, hi, 400)
    target = torch.exp(-0.5 * ((xs - data.mean) / data.std) ** 2) / (data.std * np.sqrt(2 * np.pi))
    ax.hist(fake.flatten().clamp(lo, hi).numpy(), bins=80, range=(lo, hi), density=True,
            color="tab:red", alpha=0.5, label="generated")
    ax.plot(xs, target, c="tab:blue", label="target density")
    ax.set_xlabel("x")
    if d_curve is not None:
        d = d_curve(data.to_model(xs.to(data.device)[:, None])).float().cpu()
        ax2 = ax.twinx()
        ax2.plot(xs, d, c="tab:green", label="D(x)")
        ax2.set_ylabel("D(x)", color="tab:green")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return _figure_to_image(fig)


def curves(data, fake: Tensor) -> Tensor:
    fig = Figure(figsize=(6, 4), dpi=80)
    ax = fig.add_subplot()
    t = data.t.cpu()
    for i, c in enumerate(data.curves.cpu()):
        ax.plot(t, c, c="tab:blue", lw=2, alpha=0.35, label="real" if i == 0 else None)
    for i, c in enumerate(fake):
        ax.plot(t, c, c="tab:red", lw=1, alpha=0.8, label="generated" if i == 0 else None)
    ax.set_xlabel("t")
    ax.legend(loc="lower left")
    fig.tight_layout()
    return _figure_to_image(fig)


def image_grid(images: Tensor, columns: int = 0) -> Tensor:
    """Images in [-1, 1] as one grid (square unless `columns` is given), on that fixed range (not
    a per-grid min-max). make_grid gives 3 channels, grayscale included."""
    from torchvision.utils import make_grid

    nrow = columns or int(np.ceil(np.sqrt(len(images))))
    grid = make_grid(images.float(), nrow=nrow, padding=2, normalize=True, value_range=(-1, 1))
    return (grid * 255).round().to(torch.uint8)


def translation_rows(columns: list[Tensor]) -> Tensor:
    """One row per example, one column per stage (e.g. input | output | target); images in
    [-1, 1], grayscale shown as RGB where the stages differ in channels."""
    n = len(columns[0])
    rgb = [c.expand(-1, 3, -1, -1) if c.shape[1] == 1 else c for c in columns] \
        if len({c.shape[1] for c in columns}) > 1 else columns
    interleaved = torch.stack([c.float().cpu() for c in rgb], dim=1).reshape(n * len(columns), *rgb[0].shape[1:])
    return image_grid(interleaved, columns=len(columns))


def save_png(picture: Tensor, path) -> None:
    """Write a uint8 C x H x W picture (C = 1 or 3) as an image file (PNG, or JPEG by its name),
    atomically: a full disk leaves no half picture and is an OSError naming the file."""
    import io
    from pathlib import Path

    from PIL import Image

    from ganrun.checkpoint import atomic_write_bytes

    array = picture.permute(1, 2, 0).cpu().numpy()
    buffer = io.BytesIO()
    fmt = "JPEG" if Path(path).suffix.lower() in (".jpg", ".jpeg") else "PNG"
    Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(buffer, format=fmt)
    atomic_write_bytes(Path(path), buffer.getvalue(), sync=False)


def labelled_rows(images: Tensor, columns: int, names: list[str]) -> Tensor:
    """Images in [-1, 1], `columns` per row, as one grid with each row's name written on its left
    (a class grid: one row per class; a traversal: one row per code value)."""
    from PIL import Image, ImageDraw

    grid = image_grid(images, columns)
    rows = (len(images) + columns - 1) // columns
    row_height = (grid.shape[1] - 2) / rows
    margin = 8 + 7 * max((len(n) for n in names), default=1)
    canvas = Image.new("RGB", (grid.shape[2] + margin, grid.shape[1]), "white")
    canvas.paste(Image.fromarray(grid.permute(1, 2, 0).numpy()), (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for r, name in enumerate(names[:rows]):
        draw.text((4, 2 + r * row_height + row_height / 2 - 6), str(name), fill="black")
    return torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1)

