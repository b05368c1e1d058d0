"""Saved reconstructions for qualitative figures (opt-in: ``save_reconstructions=...``).

``save_reconstructions`` selects images: ``null`` / ``false`` / ``0`` none (default), an integer N
the first N images of the dataset, ``true`` all, or a list of image names (file stems, e.g.
``[kodim23,kodim04]``). For every selected image and every (pipeline, channel, ratio, SNR, seed)
a job computes, the 8-bit reconstruction the metrics scored is written as a PNG::

    <results dir>/reconstructions/<dataset>/<image>/reference.png
    <results dir>/reconstructions/<dataset>/<image>/<pipeline>[@<checkpoint>]__<channel>__rho<ratio>__snr<snr>dB__seed<seed>.png

``<results dir>`` is where the job's result store lives (the run folder of a single run, the
sweep folder of a multirun, or ``results_dir``). Each PNG carries its result row (key, metrics,
``failed``, ``bpp``) as JSON in a ``semcom`` text chunk, so :func:`scan` rebuilds the table from
the files alone and the figure survives moving the folder. Writes are atomic (temporary name +
rename). A resumed job recomputes a selected row whose PNG is missing.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image, PngImagePlugin

from semcom.errors import SemcomError
from semcom.store.parts import atomic_write

FOLDER = "reconstructions"
TEXT_KEY = "semcom"


def select_images(spec, names: Sequence[str]) -> list[str]:
    """Image names chosen by a ``save_reconstructions`` value, in dataset order."""
    if spec is None or spec is False:
        return []
    if spec is True:
        return list(names)
    if isinstance(spec, (int, np.integer)):
        if spec < 0:
            raise SemcomError(f"save_reconstructions={spec} is negative: give a count N >= 0, a list of image names, or null")
        return list(names)[: int(spec)]
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Sequence):
        chosen = set()
        for w in (str(s) for s in spec):
            match = [n for n in names if n == w] or [n for n in names if n.rsplit(".", 1)[0] == w]
            if len(match) != 1:
                shown = ", ".join(list(names)[:8]) + (", ..." if len(names) > 8 else "")
                why = "is not in the dataset" if not match else f"matches {', '.join(match)}: give the file name"
                raise SemcomError(f"save_reconstructions names {w}, which {why}: choose from {shown}")
            chosen.add(match[0])
        return [n for n in names if n in chosen]
    raise SemcomError(f"save_reconstructions={spec!r} is not understood: give null, a count N, true, or a list of image names")


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "-" for c in str(text))


def file_name(row: dict) -> str:
    """``<pipeline>[@<checkpoint>]__<channel>__rho<ratio>__snr<snr>dB__seed<seed>.png``."""
    pipe = _safe(row["pipeline"]) + (f"@{_safe(row['checkpoint'])}" if row.get("checkpoint") else "")
    return f"{pipe}__{_safe(row['channel'])}__rho{float(row['ratio']):.6g}__snr{float(row['snr_db']):g}dB__seed{int(row['seed'])}.png"


def _to_png_array(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8, rounding to nearest."""
    return (image.detach().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _write_png(path: Path, image: torch.Tensor, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text(TEXT_KEY, json.dumps(meta, sort_keys=True, default=_json_default))
    pixels = Image.fromarray(_to_png_array(image))
    atomic_write(path, lambda tmp: pixels.save(tmp, format="PNG", pnginfo=info))


def _json_default(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return str(v)


class ReconstructionWriter:
    """Writes the selected images' reconstructions under ``root`` (``<results dir>/reconstructions``)."""

    def __init__(self, root: str | os.PathLike, images: Sequence[str] = ()):
        self.root = Path(root)
        self.images = set(images)

    def wants(self, row: dict) -> bool:
        """The row's image is selected (PNGs are kept for the first channel realization only)."""
        return row["image"] in self.images and not row.get("realization")

    def path(self, row: dict) -> Path:
        return self.root / _safe(row["dataset"]) / _safe(row["image"]) / file_name(row)

    def reference_path(self, dataset: str, image: str) -> Path:
        return self.root / _safe(dataset) / _safe(image) / "reference.png"

    def missing(self, row: dict) -> bool:
        """True when ``row``'s image is selected and its PNG is not on disk, or holds another row."""
        if not self.wants(row):
            return False
        path = self.path(row)
        return not path.is_file() or read_meta(path).get("row_id") != row.get("row_id")

    def save(self, row: dict, reconstruction: torch.Tensor, reference: torch.Tensor, metrics: Sequence[str] = ()) -> Path | None:
        """Write the reconstruction (and the reference, once) of a selected image; return its path."""
        if not self.wants(row):
            return None
        ref = self.reference_path(row["dataset"], row["image"])
        if not ref.is_file():
            _write_png(ref, reference, {"dataset": row["dataset"], "image": row["image"], "reference": True})
        keep = ("dataset", "image", "pipeline", "checkpoint", "channel", "snr_db", "ratio", "seed", "row_id", "pipeline_label", "failed", "bpp", "bits",
                "ratio_used", *metrics)
        meta = {k: row.get(k) for k in keep if k in row}
        meta = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in meta.items()}
        path = self.path(row)
        _write_png(path, reconstruction, meta)
        return path


def read_meta(path: str | os.PathLike) -> dict:
    """The result row stored in a reconstruction PNG (empty dict if it has none)."""
    with Image.open(path) as im:
        text = im.text.get(TEXT_KEY) if hasattr(im, "text") else None
    return json.loads(text) if text else {}


def scan(folder: str | os.PathLike) -> pd.DataFrame:
    """Every saved reconstruction under ``folder`` (any depth) as a table with a ``path`` column.

    Reference images are rows with ``reference=True``.
    """
    rows = []
    for path in sorted(Path(folder).rglob(f"{FOLDER}/*/*/*.png")):
        meta = read_meta(path)
        if meta:
            rows.append({**meta, "path": str(path)})
    df = pd.DataFrame(rows)
    if len(df) and "reference" not in df.columns:
        df["reference"] = False
    if len(df):
        df["reference"] = df["reference"].fillna(False).astype(bool)
    return df
