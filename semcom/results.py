"""The result store: per-image rows in Parquet, appended atomically, resumable, merged, summarised.

Schema (one row per image x pipeline x channel x SNR x ratio x seed); the key columns are
:data:`KEY_COLUMNS`::

    dataset, image, pipeline, checkpoint, channel, snr_db, ratio, seed   (key)
    bits          source bits sent (codec file size; 0 for analog JSCC or a lost image)
    channel_uses  complex channel uses spent
    bpp           bits / (H * W)
    ratio_used    channel_uses / (3 * H * W)
    failed        the image was lost; the reconstruction is the fallback
    height, width
    device        the torch device that computed the row (cpu, cuda:2, ...)
    <metric>      one column per metric, named as in the config (psnr, ssim, ms_ssim, ...)
    extras        per pipeline: quality, codec, code, code_rate, qam, codewords, block_errors,
                  ebn0_db, mcs_policy, mcs_decoded, capacity_bits
    pilot_uses    channel uses spent on pilots (csi=ls), not counted in channel_uses / ratio_used;
                  OFDM channels add padding_uses (zero padding of the last slot) and cp_uses
                  (cyclic prefix samples)
    pipeline_params, channel_params, config, metric_checkpoints
                  JSON of the settings that produced the row (``config``: the whole job config)

A :class:`ResultStore` is a folder of part files ``part-<time ns>-<random>.parquet``. Each part
is written to a unique temporary name and renamed, so an interrupted job leaves only whole parts
behind and any number of processes may append to one store at once. Reading orders the parts by
the time in their names and drops duplicate keys, the latest part winning (a ``force=true``
recompute supersedes older rows). :meth:`ResultStore.compact` folds many small parts into one.

Every consolidated file (``results.parquet``, ``summary.csv``, figures) is also written under a
unique temporary name and renamed into place, so two writers of one folder never leave a torn
file: the last rename wins and each version is whole.

Command line::

    python -m semcom.results merge <multirun dir> [--out DIR] [--no-plots]
    python -m semcom.results summary <results.parquet | run dir | multirun dir> [--metrics ...] [--csv FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from semcom.errors import SemcomError

KEY_COLUMNS = ("dataset", "image", "pipeline", "checkpoint", "channel", "snr_db", "ratio", "seed")
POINT_COLUMNS = ("dataset", "pipeline", "checkpoint", "channel", "ratio", "snr_db")
#: Columns that are neither keys nor metrics.
STAT_COLUMNS = ("bits", "channel_uses", "bpp", "ratio_used", "failed", "height", "width")
NON_METRIC = set(KEY_COLUMNS) | set(STAT_COLUMNS) | {
    "quality", "codec", "code_rate", "qam", "codewords", "block_errors", "ebn0_db", "capacity_bits",
    "code", "mcs_policy", "mcs_decoded",
    "pilot_uses", "padding_uses", "cp_uses",
    "transform", "family", "strength",
    "pipeline_params", "channel_params", "config", "metric_checkpoints", "device",
}
#: Folder name of a store inside a run, sweep or results folder.
PARTS_DIR = "results.parts"
#: Two-sided confidence level of the intervals in summaries and figure bands.
CONFIDENCE = 0.95

_PART = re.compile(r"^part-(\d{20})-[0-9a-f]+\.parquet$")


class ResultStore:
    """A folder of Parquet part files holding result rows (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def append(self, rows: list[dict] | pd.DataFrame) -> Path | None:
        """Write ``rows`` as one new part file, atomically (unique temporary file + rename)."""
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        if not len(df):
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:16]}.parquet"
        path = self.root / name
        atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))
        return path

    def parts(self) -> list[Path]:
        """Part files, oldest first (time in the name; parts without one by modification time)."""
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("part-*.parquet"), key=_part_time)

    def load(self) -> pd.DataFrame:
        """All rows, duplicate keys dropped (the latest part wins)."""
        return load_parts(self.parts())

    def keys(self) -> set[tuple]:
        return key_set(self.load())

    def compact(self, parts: list[Path] | None = None) -> Path | None:
        """Fold ``parts`` (default: every current part) into one deduplicated part; return it.

        Safe beside concurrent writers and compactors: only the parts that were read are
        deleted, after the combined part is in place; a part appended meanwhile stays, and two
        compactors at once leave two identical parts that reading deduplicates. The combined
        part takes the time of the newest part it replaces, so newer parts still win over it.
        """
        parts = self.parts() if parts is None else sorted((p for p in parts if p is not None and p.exists()), key=_part_time)
        if len(parts) < 2:
            return parts[0] if parts else None
        df = load_parts(parts)
        newest = max(_part_time(p) for p in parts)
        name = f"part-{newest:020d}-{uuid.uuid4().hex[:16]}.parquet"
        out = self.root / name
        atomic_write(out, lambda tmp: df.to_parquet(tmp, index=False))
        for p in parts:
            p.unlink(missing_ok=True)
        return out


def _part_time(path: Path) -> int:
    m = _PART.match(path.name)
    if m:
        return int(m.group(1))
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:  # removed by a concurrent compaction
        return 0


def load_parts(parts: list[Path]) -> pd.DataFrame:
    """Rows of the given part files in their order, duplicate keys dropped (the last wins).

    Parts may have different columns (pipelines add their own extras); a column missing from a
    part is null in its rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for p in parts:
        try:
            table = pq.read_table(p)
        except FileNotFoundError:  # compacted away meanwhile; its rows are in the newer part
            continue
        if table.num_rows:
            tables.append(table.replace_schema_metadata(None))
    if not tables:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    try:
        df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # one column with incompatible types across parts
        df = pd.concat([t.to_pandas() for t in tables], ignore_index=True)
    return dedupe(df)


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a unique temporary name beside ``path``, then rename into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def row_key(row: dict) -> tuple:
    """Hashable key of a result row (SNR and ratio rounded so float noise does not split keys)."""
    out = []
    for col in KEY_COLUMNS:
        out.append(_key_value(col, row.get(col)))
    return tuple(out)


def _key_value(col: str, v):
    if col in ("snr_db", "ratio") and v is not None and not _isnan(v):
        return round(float(v), 9)
    if col == "seed" and v is not None and not _isnan(v):
        return int(v)
    if v is None or _isnan(v):
        return ""
    return v


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def key_list(df: pd.DataFrame) -> list[tuple]:
    """:func:`row_key` of every row of ``df``, in order (column-wise, fast on large tables)."""
    if not len(df):
        return []
    cols = [df[c].map(lambda v, c=c: _key_value(c, v)).tolist() if c in df.columns else [""] * len(df) for c in KEY_COLUMNS]
    return list(zip(*cols))


def key_set(df: pd.DataFrame) -> set[tuple]:
    return set(key_list(df))


def dedupe(df: pd.DataFrame) -> pd.DataFrame:
    """Drop rows whose key repeats another row's, keeping the last occurrence."""
    if not len(df):
        return df
    keys = pd.Series(key_list(df), index=df.index)
    return df.loc[~keys.duplicated(keep="last")].reset_index(drop=True)


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric columns that hold metric values (everything not a key, stat or extra)."""
    return [
        c for c in df.columns
        if c not in NON_METRIC and not c.startswith("_") and not c.endswith("_ci95") and pd.api.types.is_numeric_dtype(df[c])
    ]


def t_half_width(std: pd.Series | np.ndarray, n: pd.Series | np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """Half-width of the two-sided Student-t confidence interval of a mean.

    ``std`` is the sample standard deviation (ddof 1) and ``n`` the number of values; the
    interval is mean +- t_{(1+confidence)/2, n-1} std / sqrt(n). NaN where n < 2.
    """
    from scipy.stats import t

    std = np.asarray(std, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(n >= 2, t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), np.nan)
        return q * std / np.sqrt(n)


def summarize(df: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean over images per point (CompressAI's convention), with n, CI and failure rate.

    Per point (dataset, pipeline, checkpoint, channel, ratio, snr_db): ``<metric>`` the mean,
    ``<metric>_ci95`` the half-width of its Student-t confidence interval (NaN values are left
    out; NaN with fewer than two values), ``n`` images, ``failed_rate``, the mean ``bits``, ``bpp``,
    ``channel_uses``, ``ratio_used``, and ``psnr_of_mean_mse`` when a psnr column exists.
    """
    if not len(df):
        return pd.DataFrame()
    df = df.copy()
    df["checkpoint"] = df["checkpoint"].fillna("")
    group_cols = [c for c in POINT_COLUMNS if c in df.columns]
    metrics = metric_columns(df)
    grouped = df.groupby(group_cols, dropna=False)
    cols = {}
    for c in metrics:
        g = grouped[c]
        mean, std, count = g.mean(), g.std(ddof=1), g.count()
        cols[c] = mean
        cols[f"{c}_ci95"] = pd.Series(t_half_width(std, count, confidence), index=mean.index)
    for c in ("bits", "bpp", "channel_uses", "ratio_used"):
        if c in df.columns:
            cols[c] = grouped[c].mean()
    if "failed" in df.columns:
        cols["failed_rate"] = grouped["failed"].mean()
    cols["n"] = grouped["image"].count()
    if "psnr" in df.columns:
        mse = 10.0 ** (-df["psnr"] / 10.0)
        cols["psnr_of_mean_mse"] = -10.0 * np.log10(mse.groupby([df[c] for c in group_cols], dropna=False).mean())
    out = pd.DataFrame(cols)
    return out.reset_index().sort_values(group_cols).reset_index(drop=True)


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
                  references=None) -> dict[str, Path]:
    """Write ``results.parquet``, ``summary.csv`` and (optionally) the figures into ``out_dir``.

    ``points``: the per-point table of set metrics (FID, KID, IS; semcom.set_points), written as
    ``points.parquet`` and ``points.csv``, with a figure per set metric. ``references``: published
    curves to overlay on the figures (the config's ``plot.references``; see semcom.plot.plot_results).
    """
    out_dir = Path(out_dir)
    written = {"results": write_table(df, out_dir / "results.parquet")}
    written["summary"] = write_table(summarize(df), out_dir / "summary.csv")
    if points is not None and len(points):
        written["points"] = write_table(points, out_dir / "points.parquet")
        write_table(points, out_dir / "points.csv")
    if plots and len(df):
        from semcom.plot import plot_results

        for path in plot_results(df, out_dir / "figures", references=references):
            written[path.name] = path
        if points is not None and len(points):
            set_cols = [c for c in ("fid", "kid", "is") if c in points.columns]
            for path in plot_results(points, out_dir / "figures", set_cols):
                written[path.name] = path
    return written


def stores_under(folder: str | os.PathLike) -> list[ResultStore]:
    """The stores of a run, sweep or results folder: its own and its jobs' (one level down)."""
    folder = Path(folder)
    roots = [folder / PARTS_DIR] + sorted(folder.glob(f"*/{PARTS_DIR}"))
    return [ResultStore(r) for r in roots if r.is_dir()]


def collect(folder: str | os.PathLike) -> pd.DataFrame:
    """Every row stored under ``folder``, deduplicated, the latest write of a key winning.

    Reads the part files of ``folder/results.parts`` and of each ``folder/*/results.parts``
    together in time order; where a folder holds no parts at all (tables copied without their
    stores), the jobs' ``*/results.parquet`` tables instead.
    """
    folder = Path(folder)
    parts = sorted((p for s in stores_under(folder) for p in s.parts()), key=_part_time)
    if parts:
        return load_parts(parts)
    tables = sorted(folder.glob("*/results.parquet"))
    if tables:
        return dedupe(pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True))
    raise SemcomError(f"no results under {folder}: give a run or multirun folder (one holding {PARTS_DIR}/ or */results.parquet)")


POINT_KEY = ("dataset", "pipeline", "checkpoint", "channel", "ratio", "snr_db", "seed")


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
    df = pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True)
    cols = [c for c in POINT_KEY if c in df.columns]
    return df.drop_duplicates(cols, keep="last").reset_index(drop=True)


def merge(folder: str | os.PathLike, out_dir: str | os.PathLike | None = None, plots: bool = True) -> dict[str, Path]:
    """Merge everything stored under a multirun ``folder`` into one table, summary and figures.

    Writes into ``out_dir`` (default: ``folder``); also compacts each store (see
    :meth:`ResultStore.compact`) so that later reads are fast.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SemcomError(f"{folder} is not a folder: give the multirun folder (multirun/<date>/<time> or hydra.sweep.dir)")
    df = collect(folder)
    for store in stores_under(folder):
        store.compact()
    return write_outputs(df, out_dir or folder, plots=plots, points=collect_points(folder))


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


def format_summary(summary: pd.DataFrame, metrics: list[str] | None = None) -> str:
    """A plain-text table: one line per point, ``mean +- ci`` per metric, and n."""
    if not len(summary):
        return "(no rows)"
    keys = [c for c in ("dataset", "pipeline", "checkpoint", "channel", "ratio", "snr_db") if c in summary.columns]
    if "checkpoint" in keys and (summary["checkpoint"].fillna("") == "").all():
        keys.remove("checkpoint")
    metrics = metrics or [c for c in summary.columns if f"{c}_ci95" in summary.columns]
    out = summary[keys].copy()
    if "ratio" in out:
        out["ratio"] = out["ratio"].map(lambda r: f"{r:.6g}")
    out["n"] = summary["n"].astype(int)
    for m in metrics:
        if m not in summary.columns:
            raise SemcomError(f"metric {m!r} is not in the results: choose from {', '.join(c for c in summary.columns if f'{c}_ci95' in summary.columns)}")
        ci = summary[f"{m}_ci95"]
        out[m] = [f"{v:.4f} ± {c:.4f}" if np.isfinite(c) else f"{v:.4f}" for v, c in zip(summary[m], ci)]
    if "failed_rate" in summary.columns:
        out["failed"] = summary["failed_rate"].map(lambda v: f"{v:.3f}")
    return out.to_string(index=False)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: ...``, exit status 2)."""

    def error(self, message):  # noqa: D102
        self.exit(2, f"error: {message}: see python -m semcom.results --help\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m semcom.results", description="Merge and summarise semcom result stores.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    m = sub.add_parser("merge", help="merge the jobs of a multirun folder into one table, summary and figures")
    m.add_argument("folder", help="multirun folder (hydra.sweep.dir) or run folder")
    m.add_argument("--out", help="write into this folder instead of FOLDER")
    m.add_argument("--no-plots", action="store_true", help="write the table and summary only")
    s = sub.add_parser("summary", help=f"mean and {CONFIDENCE:.0%} Student-t confidence interval per point")
    s.add_argument("results", help="results.parquet, a run folder or a multirun folder")
    s.add_argument("--metrics", nargs="+", help="metrics to show (default: all)")
    s.add_argument("--csv", help="also write the full summary table to this CSV file")
    args = parser.parse_args(argv)
    try:
        if args.command == "merge":
            written = merge(args.folder, args.out, plots=not args.no_plots)
            n = len(pd.read_parquet(written["results"]))
            print(f"{n} rows\nresults: {written['results']}\nsummary: {written['summary']}")
        else:
            df = load_results(args.results)
            summary = summarize(df)
            print(format_summary(summary, args.metrics))
            if args.csv:
                print(f"summary: {write_table(summary, args.csv)}")
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


def config_of(row: pd.Series | dict) -> dict:
    """The job config that produced a row (parsed from its ``config`` JSON)."""
    text = row.get("config") if isinstance(row, dict) else row["config"]
    return json.loads(text) if isinstance(text, str) and text else {}


if __name__ == "__main__":
    sys.exit(main())
