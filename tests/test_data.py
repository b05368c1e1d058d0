"""Image sources and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from semcom.datasets import load_dataset, load_image
from semcom.errors import SemcomError


def test_builtin_set():
    ds = load_dataset("builtin")
    assert ds.name == "builtin" and len(ds) == 5
    for item in ds:
        assert item.image.dtype.is_floating_point and item.image.shape[0] == 3
        assert 0 <= item.image.min() and item.image.max() <= 1
    assert len(load_dataset("builtin", limit=2)) == 2


def test_kodak_from_semcom_data():
    ds = load_dataset("kodak", limit=3)
    assert [i.name for i in ds] == ["kodim01.png", "kodim02.png", "kodim03.png"]
    assert tuple(ds.items[0].image.shape) == (3, 512, 768)


def test_folder_and_bad_files(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "ok.png")
    ds = load_dataset("folder", str(tmp_path))
    assert len(ds) == 1 and ds.name == f"folder:{tmp_path.name}"
    x = load_image(tmp_path / "ok.png")
    assert np.array_equal((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), rgb)

    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png")
    with pytest.raises(SemcomError, match="greyscale.*dataset.convert=true"):
        load_image(tmp_path / "grey.png")
    assert load_image(tmp_path / "grey.png", convert=True).shape == (3, 40, 50)

    Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(tmp_path / "rgba.png")
    with pytest.raises(SemcomError, match="RGBA"):
        load_image(tmp_path / "rgba.png")

    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(SemcomError, match="truncated"):
        load_image(tmp_path / "cut.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(SemcomError, match="empty"):
        load_image(tmp_path / "empty.png")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(SemcomError, match="not an image"):
        load_image(tmp_path / "text.jpg")


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(SemcomError, match="does not exist"):
        load_dataset("folder", str(tmp_path / "nowhere"))
    with pytest.raises(SemcomError, match="no images"):
        load_dataset("folder", str(tmp_path))
    with pytest.raises(SemcomError, match="dataset.path"):
        load_dataset("folder", None)
    with pytest.raises(SemcomError, match="unknown dataset"):
        load_dataset("imagenet")
