"""Human-ratings files: CSV rows (reference, distorted, score).

``reference`` and ``distorted`` are image paths (absolute, or relative to the CSV's folder);
``score`` is the human rating (MOS, or DMOS: the direction does not matter for rank correlations,
the sign of SROCC / KROCC shows it). Extra columns are kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from semcom.errors import SemcomError

COLUMNS = ("reference", "distorted", "score")


def load_ratings(path: str | Path) -> pd.DataFrame:
    """The ratings table with ``reference`` / ``distorted`` as absolute paths and ``score`` float."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SemcomError(f"ratings file {path} does not exist: give a CSV with columns reference,distorted,score")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SemcomError(f"cannot read ratings file {path} ({exc}): give a CSV with columns reference,distorted,score") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise SemcomError(f"ratings file {path} has no {', '.join(missing)} column: the header must name reference,distorted,score")
    if len(df) < 3:
        raise SemcomError(f"ratings file {path} has {len(df)} rows: correlations need at least 3 rated pairs")
    scores = pd.to_numeric(df["score"], errors="coerce")
    if scores.isna().any():
        bad = int(np.flatnonzero(scores.isna().to_numpy())[0])
        raise SemcomError(f"ratings file {path}, row {bad + 2}: score {df['score'].iloc[bad]!r} is not a number")
    df = df.copy()
    df["score"] = scores.astype(float)
    for col in ("reference", "distorted"):
        df[col] = [str(p if Path(p).is_absolute() else (path.parent / p).resolve()) for p in df[col].astype(str)]
        absent = [p for p in df[col] if not Path(p).is_file()]
        if absent:
            raise SemcomError(f"ratings file {path}: {col} image {absent[0]} does not exist ({len(absent)} missing): fix the paths (relative to the CSV's folder)")
    return df.reset_index(drop=True)
