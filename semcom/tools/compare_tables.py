"""Compare two result tables row by row: did a change of the code change any number?

    python -m semcom.tools.compare_tables A/results.parquet B/results.parquet [--atol 1e-6]

Rows are matched on what identifies a measurement in every version of the schema: pipeline,
channel, ratio, SNR, seed, realization (0 where absent) and the image name without its extension
(older stores keyed images by file stem). Key columns that only one version writes (``row_id``,
``dataset_id``, ``metric_info`` ...) are ignored. Prints, per metric column present in both, the
number of matched rows and the largest absolute difference, and exits 1 when a difference exceeds
``--atol`` or rows are present on one side only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

KEY = ["pipeline", "channel", "ratio", "snr_db", "seed", "realization", "image"]
#: columns that describe a row rather than measure it (compared for equality only when numeric)
IGNORED = {"row_id", "key", "key_version", "dataset_id", "image_id", "pipeline_id", "channel_id", "setup_id", "metric_ids",
           "pipeline_params", "channel_params", "pipeline_label", "config", "metric_info", "device", "elapsed_s", "created",
           "job", "semcom_version", "codec", "checkpoint", "dataset"}


def _normalised(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    if "realization" not in df.columns:
        df["realization"] = 0
    df["image"] = df["image"].astype(str).map(lambda s: Path(s).stem if Path(s).suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp") else s)
    df["ratio"] = df["ratio"].astype(float).round(9)
    df["snr_db"] = df["snr_db"].astype(float).round(9)
    return df.set_index(KEY).sort_index()


def compare(a: pd.DataFrame, b: pd.DataFrame, atol: float = 1e-6) -> tuple[pd.DataFrame, int, int]:
    """(per-column report, rows only in a, rows only in b). Report columns: column, rows, max_abs_diff, equal."""
    a, b = _normalised(a), _normalised(b)
    shared = a.index.intersection(b.index)
    only_a, only_b = len(a.index.difference(b.index)), len(b.index.difference(a.index))
    rows = []
    for col in sorted((set(a.columns) & set(b.columns)) - IGNORED):
        x, y = a.loc[shared, col], b.loc[shared, col]
        if not (pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y)):
            same = int((x.astype(object).where(x.notna(), "<na>").astype(str).to_numpy()
                        == y.astype(object).where(y.notna(), "<na>").astype(str).to_numpy()).sum())
            rows.append({"column": col, "rows": len(shared), "max_abs_diff": np.nan, "equal": same == len(shared)})
            continue
        xv, yv = x.to_numpy(float), y.to_numpy(float)
        both_nan = np.isnan(xv) & np.isnan(yv)
        diff = np.where(both_nan, 0.0, np.abs(xv - yv))
        worst = float(np.nanmax(diff)) if len(diff) else 0.0
        if np.isnan(diff).any():
            worst = float("inf")
        rows.append({"column": col, "rows": len(shared), "max_abs_diff": worst, "equal": worst <= atol})
    return pd.DataFrame(rows), only_a, only_b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m semcom.tools.compare_tables", description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--atol", type=float, default=1e-6, help="largest absolute difference counted as equal")
    args = ap.parse_args(argv)
    report, only_a, only_b = compare(pd.read_parquet(args.a), pd.read_parquet(args.b), args.atol)
    print(report.to_string(index=False))
    print(f"rows only in A: {only_a}; only in B: {only_b}")
    same = bool(report["equal"].all()) and only_a == 0 and only_b == 0
    print("equal" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
