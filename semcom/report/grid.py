"""The qualitative figure: saved reconstructions of one image, one row per pipeline, one column per SNR.

From PNGs saved with ``save_reconstructions`` (see :mod:`semcom.store.reconstructions`): the
reference at the top left, then one row per pipeline and one column per SNR, each tile captioned
with its PSNR (or "lost"); 7.16 in wide (two columns).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from semcom.conventions import ratio_label  # noqa: E402
from semcom.errors import SemcomError  # noqa: E402
from semcom.report.style import DOUBLE_COLUMN_IN, RC, channel_title  # noqa: E402


def _pick(values, wanted, what: str, flag: str):
    values = sorted(values)
    if wanted is None:
        if len(values) > 1:
            shown = ", ".join(ratio_label(v) if what == "ratio" else str(v) for v in values)
            raise SemcomError(f"the reconstructions hold several {what}s ({shown}): choose one with {flag}")
        return values[0]
    for v in values:
        if (isinstance(v, float) and abs(v - float(wanted)) < 1e-9) or v == wanted:
            return v
    if what == "image":  # a file name without its extension: kodim23 for kodim23.png
        stems = [v for v in values if str(v).rsplit(".", 1)[0] == str(wanted)]
        if len(stems) == 1:
            return stems[0]
    shown = ", ".join(ratio_label(v) if what == "ratio" else str(v) for v in values)
    raise SemcomError(f"no reconstructions at {what} {wanted}: choose one of {shown} with {flag}")


def select_tiles(folder, image=None, snrs=None, channel=None, ratio=None, pipelines=None, seed=None):
    """(reference row, reconstruction rows, choice) of the saved reconstructions under ``folder``
    (each argument left as None is taken from the saved files when only one value exists)."""
    from semcom.conventions import parse_ratio
    from semcom.store.reconstructions import scan

    table = scan(folder)
    if not len(table):
        raise SemcomError(f"no saved reconstructions under {folder}: run with save_reconstructions=N (or a list of image names)")
    image = _pick(sorted(table["image"].unique()), image, "image", "--image")
    table = table[table["image"] == image]
    ref, rec = table[table["reference"]], table[~table["reference"]].copy()
    if not len(ref) or not len(rec):
        raise SemcomError(f"image {image}: the reference or the reconstructions are missing under {folder}")
    channel = _pick(rec["channel"].unique(), channel, "channel", "--channel")
    rec = rec[rec["channel"] == channel]
    ratio = _pick(rec["ratio"].astype(float).unique(), None if ratio is None else parse_ratio(ratio), "ratio", "--ratio")
    rec = rec[(rec["ratio"].astype(float) - ratio).abs() < 1e-9]
    seed = _pick(rec["seed"].astype(int).unique(), seed, "seed", "--seed")
    rec = rec[rec["seed"].astype(int) == seed]
    available = sorted(rec["snr_db"].astype(float).unique())
    if snrs:
        missing = [s for s in snrs if not any(abs(s - a) < 1e-9 for a in available)]
        if missing:
            raise SemcomError(f"no reconstructions at SNR {', '.join(f'{s:g}' for s in missing)} dB: saved SNRs are {', '.join(f'{a:g}' for a in available)}")
        cols = [a for a in available if any(abs(s - a) < 1e-9 for s in snrs)]
    else:
        cols = available[:: max(1, math.ceil(len(available) / 5))]
    names = sorted(rec["pipeline"].unique(), key=lambda n: ("capacity" in n, n))
    if pipelines:
        unknown = [p for p in pipelines if p not in names]
        if unknown:
            raise SemcomError(f"no reconstructions of pipeline {', '.join(unknown)}: saved pipelines are {', '.join(names)}")
        names = list(pipelines)
    return ref.iloc[0], rec, {"image": image, "channel": channel, "ratio": ratio, "seed": seed, "snr_db": cols, "pipelines": names}


def _tile_caption(row, metric: str) -> str:
    value = row.get(metric)
    if bool(row.get("failed", False)):
        return "lost"
    if value is None or not np.isfinite(value):
        return ""
    return f"{value:.2f} dB" if metric == "psnr" else f"{metric} {value:.3f}"


def plot_reconstruction_grid(folder: str | Path, image: str | None = None, snrs: list[float] | None = None, channel: str | None = None,
                             ratio: float | None = None, pipelines: list[str] | None = None, seed: int | None = None,
                             metric: str = "psnr", names_map: dict | None = None):
    """The qualitative figure from saved reconstructions under ``folder``; returns ``(figure, choice)``,
    ``choice`` the dict of the image, channel, ratio, seed, SNRs and pipelines shown.

    Layout: the reference at the top left, then one row per pipeline and one column per SNR
    (``snrs``: default every saved SNR, at most 5), 7.16 in wide; each tile is captioned with
    ``metric`` (or "lost" for a failed transmission); rows are labelled with the pipelines'
    display names (``names_map`` overrides them).
    """
    from PIL import Image

    ref, rec, choice = select_tiles(folder, image, snrs, channel, ratio, pipelines, seed)
    names, cols = choice["pipelines"], choice["snr_db"]
    stored = rec.groupby("pipeline")["pipeline_label"].last().dropna().to_dict() if "pipeline_label" in rec.columns else {}
    labels = {**stored, **dict(names_map or {})}
    ref_img = np.asarray(Image.open(ref["path"]))
    h, w = ref_img.shape[:2]
    tile_w = DOUBLE_COLUMN_IN / (len(cols) + 1)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(names), len(cols) + 1, figsize=(DOUBLE_COLUMN_IN, tile_w * h / w * len(names) + 0.45), squeeze=False,
                                 layout="constrained")
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
        axes[0][0].imshow(ref_img)
        axes[0][0].set_title("reference")
        for r, name in enumerate(names):
            axes[r][1].set_ylabel(labels.get(name, name))
            for c, snr in enumerate(cols, start=1):
                ax = axes[r][c]
                hit = rec[(rec["pipeline"] == name) & ((rec["snr_db"].astype(float) - snr).abs() < 1e-9)]
                if r == 0:
                    ax.set_title(f"SNR {snr:g} dB")
                if not len(hit):
                    ax.text(0.5, 0.5, "not saved", ha="center", va="center", transform=ax.transAxes)
                    continue
                ax.imshow(np.asarray(Image.open(hit.iloc[0]["path"])))
                ax.set_xlabel(_tile_caption(hit.iloc[0], metric))
        fig.suptitle(f"{choice['image']}, {channel_title(choice['channel'])}, $\\rho$ = {ratio_label(choice['ratio'])}")
    return fig, choice
