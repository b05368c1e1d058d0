"""Shared fixtures. SEMCOM_DATA / SEMCOM_WEIGHTS default to ../shared beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

os.environ.setdefault("SEMCOM_DATA", str(SHARED / "data"))
os.environ.setdefault("SEMCOM_WEIGHTS", str(SHARED / "weights"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def astronaut() -> torch.Tensor:
    """scikit-image's astronaut, (3, 512, 512) float32 in [0, 1]."""
    from semcom.datasets import builtin_paths, load_image

    return load_image(builtin_paths()[0])


@pytest.fixture()
def small_folder(tmp_path, astronaut) -> Path:
    """A folder with two 192x192 RGB crops of the astronaut (fast end-to-end runs)."""
    arr = (astronaut.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(arr[:192, :192]).save(folder / "a.png")
    Image.fromarray(arr[200:392, 240:432]).save(folder / "b.png")
    return folder


@pytest.fixture(autouse=True)
def _small_image_warnings_again():
    """Every test sees the once-per-metric warning about images below a metric's min_size."""
    from semcom.metrics.base import reset_size_warnings

    reset_size_warnings()
    yield
