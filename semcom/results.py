"""The result store: per-image rows in Parquet, appended atomically, resumable, summarised.

Schema (one row per image x pipeline x channel x SNR x ratio x seed); the key columns are
:data:`KEY_COLUMNS`::

    dataset, image, pipeline, checkpoint, channel, snr_db, ratio, seed   (key)
    bits          source bits sent (codec file size; 0 for analog JSCC or a lost image)
    channel_uses  complex channel uses spent
    bpp           bits / (H * W)
    ratio_used    channel_uses / (3 * H * W)
    failed        the image was lost; the reconstruction is the fallback
    height, width
    <metric>      one column per metric, named as in the config (psnr, ssim, ms_ssim, ...)
    extras        per pipeline: quality, codec, code_rate, qam, codewords, block_errors,
                  ebn0_db, capacity_bits
    pilot_uses    channel uses spent on pilots (csi=ls), not counted in channel_uses / ratio_used;
                  OFDM channels add padding_uses (zero padding of the last slot) and cp_uses
                  (cyclic prefix samples)
    pipeline_params, channel_params, config   JSON of the settings that produced the row

A :class:`ResultStore` is a folder of part files (``part-*.parquet``), each written to a
temporary name and renamed, so an interrupted job leaves only whole parts behind; reading
drops duplicate keys (last write wins). :func:`write_outputs` writes the final table
``results.parquet`` and ``summary.csv`` (mean over images per point).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

KEY_COLUMNS = ("dataset", "image", "pipeline", "checkpoint", "channel", "snr_db", "ratio", "seed")
POINT_COLUMNS = ("dataset", "pipeline", "checkpoint", "channel", "ratio", "snr_db")
#: Columns that are neither keys nor metrics.
STAT_COLUMNS = ("bits", "channel_uses", "bpp", "ratio_used", "failed", "height", "width")
NON_METRIC = set(KEY_COLUMNS) | set(STAT_COLUMNS) | {
    "quality", "codec", "code_rate", "qam", "codewords", "block_errors", "ebn0_db", "capacity_bits",
    "pilot_uses", "padding_uses", "cp_uses",
    "pipeline_params", "channel_params", "config", "metric_checkpoints",
}


class ResultStore:
    """A folder of Parquet part files holding result rows."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def append(self, rows: list[dict]) -> Path | None:
        """Write ``rows`` as one new part file, atomically (temporary file + rename)."""
        if not rows:
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp = self.root / f".{name}.tmp"
        pd.DataFrame(rows).to_parquet(tmp, index=False)
        os.replace(tmp, self.root / name)
        return self.root / name

    def parts(self) -> list[Path]:
        return sorted(self.root.glob("part-*.parquet")) if self.root.is_dir() else []

    def load(self) -> pd.DataFrame:
        """All rows, duplicate keys dropped (the latest part wins)."""
        parts = self.parts()
        if not parts:
            return pd.DataFrame(columns=list(KEY_COLUMNS))
        parts.sort(key=lambda p: p.stat().st_mtime_ns)
        df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        return dedupe(df)

    def keys(self) -> set[tuple]:
        df = self.load()
        return set(row_key(r) for r in df[list(KEY_COLUMNS)].to_dict("records")) if len(df) else set()


def row_key(row: dict) -> tuple:
    """Hashable key of a result row (SNR and ratio rounded so float noise does not split keys)."""
    out = []
    for col in KEY_COLUMNS:
        v = row.get(col)
        if col in ("snr_db", "ratio") and v is not None:
            v = round(float(v), 9)
        elif col == "seed" and v is not None:
            v = int(v)
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            v = ""
        out.append(v)
    return tuple(out)


def dedupe(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    keys = df[list(KEY_COLUMNS)].to_dict("records")
    df = df.assign(_key=[row_key(k) for k in keys])
    df = df.drop_duplicates("_key", keep="last").drop(columns="_key")
    return df.reset_index(drop=True)


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric columns that hold metric values (everything not a key, stat or extra)."""
    return [c for c in df.columns if c not in NON_METRIC and pd.api.types.is_numeric_dtype(df[c])]


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean over images per point (CompressAI's convention), with n and failure rate.

    Also ``psnr_of_mean_mse`` when a psnr column exists (PSNR of the mean MSE).
    """
    if not len(df):
        return pd.DataFrame()
    df = df.copy()
    df["checkpoint"] = df["checkpoint"].fillna("")
    group_cols = [c for c in POINT_COLUMNS if c in df.columns]
    metrics = metric_columns(df)
    agg = {c: "mean" for c in metrics + ["bits", "bpp", "channel_uses", "ratio_used"] if c in df.columns}
    out = df.groupby(group_cols, dropna=False).agg(agg)
    out["failed_rate"] = df.groupby(group_cols, dropna=False)["failed"].mean()
    out["n"] = df.groupby(group_cols, dropna=False)["image"].count()
    if "psnr" in df.columns:
        mse = 10.0 ** (-df["psnr"] / 10.0)
        out["psnr_of_mean_mse"] = -10.0 * np.log10(mse.groupby([df[c] for c in group_cols], dropna=False).mean())
    return out.reset_index().sort_values(group_cols).reset_index(drop=True)


def write_outputs(df: pd.DataFrame, out_dir: str | os.PathLike, plots: bool = True, points: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write ``results.parquet``, ``summary.csv`` and (optionally) the figures into ``out_dir``.

    ``points``: the per-point table of set metrics (FID, KID, IS; semcom.set_points), written as
    ``points.parquet`` and ``points.csv``, with a figure per set metric.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    table = out_dir / "results.parquet"
    tmp = out_dir / ".results.parquet.tmp"
    df.to_parquet(tmp, index=False)
    os.replace(tmp, table)
    written["results"] = table
    summary = summarize(df)
    summary.to_csv(out_dir / "summary.csv", index=False, float_format="%.6g")
    written["summary"] = out_dir / "summary.csv"
    if points is not None and len(points):
        tmp = out_dir / ".points.parquet.tmp"
        points.to_parquet(tmp, index=False)
        os.replace(tmp, out_dir / "points.parquet")
        points.to_csv(out_dir / "points.csv", index=False, float_format="%.6g")
        written["points"] = out_dir / "points.parquet"
    if plots and len(df):
        from semcom.plot import plot_metrics_vs_snr

        for path in plot_metrics_vs_snr(df, out_dir / "figures"):
            written[path.name] = path
        if points is not None and len(points):
            set_cols = [c for c in ("fid", "kid", "is") if c in points.columns]
            for path in plot_metrics_vs_snr(points, out_dir / "figures", set_cols):
                written[path.name] = path
    return written


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """A results table from a ``.parquet`` file, a run folder, or a multirun folder (all jobs merged)."""
    path = Path(path)
    if path.is_file():
        return pd.read_parquet(path)
    if path.is_dir():
        if (path / "results.parquet").is_file():
            return pd.read_parquet(path / "results.parquet")
        tables = sorted(path.glob("*/results.parquet"))
        if tables:
            return dedupe(pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True))
        store = ResultStore(path / "results.parts")
        if store.parts():
            return store.load()
    from semcom.errors import SemcomError

    raise SemcomError(f"no results found at {path}: give a results.parquet file or a run/multirun folder")
