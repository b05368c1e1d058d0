"""The outputs of a run or a sweep: merged table, summary, set-metric points and figures.

Every consolidated file (``results.parquet``, ``summary.csv``, ``points.*``, figures) is written
under a unique temporary name and renamed into place, so two writers of one folder never leave a
torn file: the last rename wins and each version is whole.

**One version per curve.** A table never mixes rows of two versions of one curve: where a store
holds rows of one (dataset, pipeline, checkpoint, channel, ratio) made from different inputs (a
checkpoint retrained at the same path, a folder of images whose files changed, other pipeline
settings under the same name), :func:`one_version` keeps the rows of the latest version and says
how many older rows it left out; they stay in the store.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

from semcom.errors import SemcomError
from semcom.report.summary import summarize
from semcom.store.keys import KEY_COLUMNS, dedupe
from semcom.store.parts import PARTS_DIR, ResultStore, atomic_write, load_parts, part_time

log = logging.getLogger(__name__)

#: The columns of a curve whose rows must all come from one version of the inputs.
CURVE_COLUMNS = ("dataset", "pipeline", "checkpoint", "channel", "ratio")
#: The key of a set-metric point (``points.parquet``).
POINT_KEY = ("dataset", "pipeline", "checkpoint", "channel", "ratio", "snr_db", "seed")


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` to ``path`` (.parquet or .csv) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g"))
    else:
        atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
    return path


def write_outputs(df: pd.DataFrame, out_dir: str | os.PathLike, plots: bool = True, points: pd.DataFrame | None = None,
                  plot_options: dict | None = None) -> dict[str, Path]:
    """Write ``results.parquet``, ``summary.csv`` and (optionally) the figures into ``out_dir``.

    ``points``: the per-point table of set metrics (FID, KID, IS; :mod:`semcom.runner.set_points`),
    written as ``points.parquet`` and ``points.csv``, with a figure per set metric.
    ``plot_options``: keyword arguments of :func:`semcom.report.figures.plot_results`.
    """
    out_dir = Path(out_dir)
    written = {"results": write_table(df, out_dir / "results.parquet")}
    written["summary"] = write_table(summarize(df), out_dir / "summary.csv")
    if points is not None and len(points):
        written["points"] = write_table(points, out_dir / "points.parquet")
        write_table(points, out_dir / "points.csv")
    if plots and len(df):
        from semcom.report.figures import plot_results

        for path in plot_results(df, out_dir / "figures", **(plot_options or {})):
            written[path.name] = path
        if points is not None and len(points):
            set_cols = [c for c in ("fid", "kid", "is") if c in points.columns]
            for path in plot_results(with_labels(points, df), out_dir / "figures", set_cols, **(plot_options or {})):
                written[path.name] = path
    return written


def with_labels(points: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """``points`` with the display name (``pipeline_label``) and ``bound`` flag of each pipeline taken
    from the per-image table ``df``, so set-metric figures name and style curves as the others do."""
    points = points.copy()
    first = df.drop_duplicates("pipeline").set_index("pipeline")
    for col in ("pipeline_label", "bound"):
        if col in first.columns and col not in points.columns:
            points[col] = points["pipeline"].map(first[col])
    return points


def stores_under(folder: str | os.PathLike) -> list[ResultStore]:
    """The stores of a run, sweep or results folder: its own and its jobs' (one level down)."""
    folder = Path(folder)
    roots = [folder / PARTS_DIR] + sorted(folder.glob(f"*/{PARTS_DIR}"))
    return [ResultStore(r) for r in roots if r.is_dir()]


def one_version(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the latest version of every curve (see the module docstring); rows are in
    store order, so the version of a curve's last row is its latest."""
    if not len(df) or "setup_id" not in df.columns:
        return df
    cols = [c for c in CURVE_COLUMNS if c in df.columns]
    keys = df[cols].astype(str).agg("\x1f".join, axis=1)
    latest = df.groupby(keys, sort=False)["setup_id"].transform("last")
    keep = df["setup_id"] == latest
    if not keep.all():
        dropped = df.loc[~keep, cols].drop_duplicates()
        names = ", ".join(f"{r.pipeline} | {r.channel}" for r in dropped.head(4).itertuples())
        log.warning("%d older rows of %s (made from other inputs or settings under the same names) are left out of the table: "
                    "they stay in the store; give each variant its own pipeline.name to keep both", int((~keep).sum()), names)
    return dedupe(df[keep], by=[c for c in KEY_COLUMNS if c in df.columns])


def collect(folder: str | os.PathLike) -> pd.DataFrame:
    """Every current row stored under ``folder``, one version per curve, the latest write winning.

    Reads the part files of ``folder/results.parts`` and of each ``folder/*/results.parts``
    together in time order; where a folder holds no parts at all (tables copied without their
    stores), the jobs' ``*/results.parquet`` tables instead.
    """
    folder = Path(folder)
    parts = sorted((p for s in stores_under(folder) for p in s.parts()), key=part_time)
    if parts:
        return one_version(load_parts(parts))
    tables = [t for t in _readable(sorted(folder.glob("*/results.parquet"))) if len(t)]
    if tables:
        return one_version(dedupe(pd.concat(tables, ignore_index=True)))
    raise SemcomError(f"no results under {folder}: give a run or multirun folder (one holding {PARTS_DIR}/ or */results.parquet)")


def collect_points(folder: str | os.PathLike) -> pd.DataFrame | None:
    """The set-metric tables (``points.parquet``) of a run folder and its job folders, merged.

    One row per point (:data:`POINT_KEY`); where two tables hold a point, the newer file wins.
    None when there are none.
    """
    folder = Path(folder)
    tables = [t for t in [folder / "points.parquet", *folder.glob("*/points.parquet")] if t.is_file()]
    if not tables:
        return None
    tables.sort(key=lambda t: t.stat().st_mtime_ns)
    frames = _readable(tables)
    if not frames:
        return None
    df = pd.concat(frames, ignore_index=True)
    cols = [c for c in POINT_KEY if c in df.columns]
    return df.drop_duplicates(cols, keep="last").reset_index(drop=True)


def options_in_table(df) -> dict:
    """The ``plot`` options the table's rows were run with (the latest stored config's)."""
    if "config" not in df.columns:
        return {}
    for text in reversed(df["config"].dropna().unique().tolist()):
        try:
            plot = json.loads(text).get("plot") or {}
        except (ValueError, AttributeError):
            continue
        return {k: v for k, v in plot.items() if k in ("references", "ci", "names", "pipelines", "channels", "ylim") and v}
    return {}


def _readable(tables: list[Path]) -> list[pd.DataFrame]:
    """The Parquet tables that can be read; the others (outputs a job writes again) are skipped
    with one warning naming them."""
    frames, bad = [], []
    for t in tables:
        try:
            frames.append(pd.read_parquet(t))
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            bad.append(f"{t} ({type(exc).__name__})")
    if bad:
        log.warning("%d unreadable table%s skipped: %s: run the job again to rewrite it, or remove it",
                    len(bad), "" if len(bad) == 1 else "s", ", ".join(bad[:5]))
    return frames


def merge(folder: str | os.PathLike, out_dir: str | os.PathLike | None = None, plots: bool = True,
          plot_options: dict | None = None) -> dict[str, Path]:
    """Merge everything stored under a multirun ``folder`` into one table, summary and figures.

    Writes into ``out_dir`` (default: ``folder``); also compacts each store (see
    :meth:`ResultStore.compact`) so that later reads are fast. ``plot_options``: figure options
    (default: the ``plot`` options the rows were run with).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SemcomError(f"{folder} is not a folder: give the multirun folder (multirun/<date>/<time> or hydra.sweep.dir)")
    df = collect(folder)
    for store in stores_under(folder):
        store.compact()
    options = options_in_table(df) if plot_options is None else plot_options
    return write_outputs(df, out_dir or folder, plots=plots, points=collect_points(folder), plot_options=options)


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """A results table from a ``.parquet`` file, a run folder, or a multirun folder (all jobs merged)."""
    path = Path(path)
    if path.is_file():
        if path.suffix != ".parquet":
            raise SemcomError(f"{path} is not a Parquet table: give results.parquet or a run/multirun folder")
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a non-Parquet file
            raise SemcomError(f"cannot read {path} as Parquet ({type(exc).__name__}): give a results.parquet written by semcom") from None
    if path.is_dir():
        if (path / "results.parquet").is_file():
            return pd.read_parquet(path / "results.parquet")
        return collect(path)
    raise SemcomError(f"no results found at {path}: give a results.parquet file or a run/multirun folder")
