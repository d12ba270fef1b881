"""Image datasets: bundled digits, folders of files (corrupt and grayscale ones too), torchvision offline."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import compose_config, scalar_and_image_tags, train_run, make_data
from ganrun.data import images
from ganrun.errors import DataError
from ganrun.builder import build


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """12 RGB PNGs, 4 RGB JPGs in a subfolder, 1 grayscale PNG, 1 non-square image, 1 corrupt file."""
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / f"a{i:02d}.png")
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(root / "sub" / f"b{i}.jpg")
    Image.fromarray(np.full((16, 16), 200, dtype=np.uint8), mode="L").save(root / "gray.png")
    wide = np.zeros((16, 32, 3), dtype=np.uint8)
    wide[:, 8:24] = 255                             # a white centre that the centre crop keeps
    Image.fromarray(wide).save(root / "wide.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (root / "notes.txt").write_text("not an image")
    return root


def test_digits_load_offline_as_real_labelled_images():
    train = make_data("digits", resolution=32, split="train")
    test = make_data("digits", resolution=32, split="test")
    assert len(train) + len(test) == 1797 and len(test) == 359
    assert train.shape == (1, 32, 32) and train.kind == "images"
    assert set(train.labels.tolist()) == set(range(10))
    x = train.sample(100).x
    assert x.shape == (100, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert x.min() == -1 and x.max() > 0.9, "black background, white strokes"
    assert make_data("digits", resolution=16).shape == (1, 16, 16)


def test_folder_reads_every_image_recursively_skipping_the_corrupt_one(image_folder, caplog):
    data = make_data("folder", root=str(image_folder), resolution=16, channels=3, workers=2)
    assert isinstance(data, images.HeldImages)
    assert len(data) == 18                           # 12 + 4 + gray + wide, not broken.jpg or notes.txt
    assert "skipped 1 unreadable image file" in caplog.text and "broken.jpg" in caplog.text
    x = data.sample(8).x
    assert x.shape == (8, 3, 16, 16) and x.min() >= -1 and x.max() <= 1


def test_grayscale_and_non_square_images_are_converted_and_centre_cropped(image_folder):
    gray = images.load_image(image_folder / "gray.png", 8, 3)
    assert gray.shape == (3, 8, 8) and gray.unique().tolist() == [200]
    wide = images.load_image(image_folder / "wide.png", 8, 1)
    assert wide.shape == (1, 8, 8) and wide.float().mean() > 240, "the crop keeps the white centre"


def test_folder_strict_mode_names_the_bad_file(image_folder):
    with pytest.raises(DataError, match=r"unreadable image .*broken\.jpg.*dataset\.strict=true"):
        make_data("folder", root=str(image_folder), resolution=16, strict=True)


def test_missing_and_empty_folders_fail_clearly(tmp_path):
    with pytest.raises(DataError, match="does not exist. Set dataset.root=PATH"):
        make_data("folder", root=str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        make_data("folder", root=str(tmp_path / "empty"))


def test_the_anime_preset_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("GANRUN_DATA_DIR", str(tmp_path))
    cfg = compose_config(["dataset=anime", "device=cpu"])
    assert cfg.dataset.resolution == 64 and cfg.dataset.root == f"{tmp_path}/anime"
    with pytest.raises(DataError) as e:
        build(cfg)
    message = str(e.value)
    assert f"{tmp_path}/anime does not exist" in message
    assert "anime-face images" in message and "dataset.root=PATH" in message


def test_large_folders_stream_through_workers_in_a_reproducible_order(image_folder):
    torch.manual_seed(0)
    a = make_data("folder", root=str(image_folder), resolution=8, workers=1, memory_limit_mb=0)
    assert isinstance(a, images.StreamedImages)
    first = [a.sample(4).x for _ in range(6)]          # 6 batches of 4 from 18 files: crosses an epoch
    assert all(x.shape == (4, 3, 8, 8) for x in first)
    state = a.state_dict()
    later = [a.sample(4).x for _ in range(3)]

    torch.manual_seed(0)
    b = make_data("folder", root=str(image_folder), resolution=8, workers=0, memory_limit_mb=0)
    assert all(torch.equal(x, y) for x, y in zip(first, [b.sample(4).x for _ in range(6)]))
    torch.manual_seed(0)
    c = make_data("folder", root=str(image_folder), resolution=8, workers=0, memory_limit_mb=0)
    c.load_state_dict(state)                        # a resumed run continues where the data was
    assert all(torch.equal(x, y) for x, y in zip(later, [c.sample(4).x for _ in range(3)]))


def test_streaming_never_starts_more_workers_than_usable_cpus(image_folder, monkeypatch, caplog):
    monkeypatch.setattr(images.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    caplog.set_level("INFO", logger="ganrun")
    data = make_data("folder", root=str(image_folder), resolution=8, workers=4, memory_limit_mb=0)
    assert data.workers == 1 and "dataset.workers=4, but only 1 CPU(s) are usable" in caplog.text
    assert data.sample(4).x.shape == (4, 3, 8, 8)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_torchvision_sets_offline_fail_with_what_to_do(name, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    cfg = compose_config([f"dataset={name}", "device=cpu", f"dataset.root={tmp_path}"])
    with pytest.raises(DataError) as e:
        build(cfg)
    message = str(e.value)
    assert f"dataset={name} is not in {tmp_path}" in message
    assert "cannot be downloaded: no connection to" in message and "Network is unreachable" in message
    assert "dataset.root" in message
    assert not any(tmp_path.rglob("*.gz")), "nothing was downloaded"


def test_a_resolver_that_never_answers_cannot_hang_the_run(monkeypatch):
    import threading

    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(30)
        raise OSError("answered too late")

    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        assert "no answer within 0.2s" in images.unreachable("https://example.org/x", timeout=0.2)
    finally:
        release.set()


def test_torchvision_without_download_says_so(tmp_path):
    cfg = compose_config(["dataset=fashion_mnist", "device=cpu", f"dataset.root={tmp_path}", "dataset.download=false"])
    with pytest.raises(DataError, match="dataset.download=false"):
        build(cfg)


def test_a_torchvision_set_already_on_disk_is_held_on_the_device(tmp_path):
    """MNIST in torchvision's on-disk layout (written here): decoded once, resized, labelled."""
    import gzip
    import struct

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in [("train", 50), ("t10k", 10)]:
        pixels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        with gzip.open(raw / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 2051, n, 28, 28) + pixels.tobytes())
        with gzip.open(raw / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 2049, n) + (np.arange(n) % 10).astype(np.uint8).tobytes())
        for suffix in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            (raw / f"{prefix}-{suffix}").write_bytes(gzip.open(raw / f"{prefix}-{suffix}.gz").read())
    exp = build(compose_config(["dataset=mnist", "device=cpu", f"dataset.root={tmp_path}"]))
    assert isinstance(exp.data, images.HeldImages)
    assert len(exp.data) == 50 and exp.data.shape == (1, 32, 32)
    assert exp.data.labels.tolist()[:3] == [0, 1, 2]


def test_a_few_dcgan_steps_on_digits_log_real_and_generated_grids(run_dir):
    train_run(run_dir, ["dataset=digits", "model.g_width=8", "model.d_width=8", "dataset.resolution=16"])
    _, image_tags = scalar_and_image_tags(run_dir / "tb")
    assert {"samples/real", "samples/grid"} <= image_tags
    files = sorted(p.name for p in (run_dir / "samples").glob("*.png"))
    assert files == ["real.png", "step_0000003.png", "step_0000006.png"]
    grid = np.asarray(Image.open(run_dir / "samples" / "step_0000006.png"))
    assert grid.shape[:2] == (8 * 18 + 2, 8 * 18 + 2), "64 samples, 8 per row, 2-pixel padding"


def test_grids_use_the_fixed_value_range_not_min_max():
    from ganrun.visualize import image_grid

    dim = torch.full((4, 1, 8, 8), -0.5)             # a dark grey batch stays dark grey
    grid = image_grid(dim)
    inner = grid[:, 2:10, 2:10]
    assert inner.unique().tolist() == [64]          # (-0.5 + 1) / 2 * 255 rounded
