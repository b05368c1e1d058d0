"""Do the metrics agree? Rank correlations between metric columns of a result table.

The SeSS paper's question for transmitted images: scored by PSNR, MS-SSIM, LPIPS, ViTScore,
SeSS and detection agreement, do traditional and semantic chains rank the same way over SNR and
rate? Given a result table (``results.parquet`` of a run or sweep), for every pair of metrics:

* ``kendall_points`` / ``spearman_points``: rank correlation over the *points* (mean over images
  per dataset, pipeline, checkpoint, channel, ratio, SNR): do the metrics order the operating
  points of the study the same way?
* ``kendall_images``: Kendall tau-b over the per-image rows (the finer question: the same
  transmitted image, scored by both);
* ``pipeline_order``: over every (channel, ratio, SNR) with at least two pipelines, the fraction
  of pipeline pairs that both metrics order the same way (ties in either metric left out).

Every metric is oriented so that higher is better (LPIPS, DISTS, FID, KID are negated, following
the registered metric's ``higher_is_better``), so +1 means full agreement and -1 full
disagreement. Rows of lost images (``failed``) count: a metric must also rank a lost image.
Metric columns with fewer than three finite values are left out with a note.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from semcom.errors import SemcomError
from semcom.report.summary import higher_is_better, metric_names
from semcom.store.keys import POINT_COLUMNS

def metric_columns(df: pd.DataFrame) -> list[str]:
    """The metrics of a result table (their main columns; companions such as ``vitscore_p`` out)."""
    return metric_names(df)


def _oriented(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({m: df[m].astype(float) * (1.0 if higher_is_better(df, m) else -1.0) for m in names}, index=df.index)


def _pair_stat(a: np.ndarray, b: np.ndarray, fn) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return math.nan
    return float(fn(a[ok], b[ok])[0])


def _pipeline_order(points: pd.DataFrame, a: str, b: str) -> tuple[float, int]:
    """Fraction of pipeline pairs ordered alike by ``a`` and ``b`` at each (channel, ratio, SNR)."""
    same = total = 0
    for _, grp in points.groupby(["dataset", "channel", "ratio", "snr_db"], dropna=False):
        rows = grp[[a, b]].to_numpy(float)
        for i, j in itertools.combinations(range(len(rows)), 2):
            da, db = rows[i, 0] - rows[j, 0], rows[i, 1] - rows[j, 1]
            if not (np.isfinite(da) and np.isfinite(db)) or da == 0 or db == 0:
                continue
            total += 1
            same += (da > 0) == (db > 0)
    return (same / total if total else math.nan), total


def agreement(df: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """One row per metric pair (``metric_a``, ``metric_b``) with the statistics of the module docstring.

    ``df``: a per-image result table (the schema of :mod:`semcom.results`). ``metrics``: the
    columns to compare (default: every metric column present).
    """
    names = metric_columns(df) if metrics is None else list(metrics)
    missing = [m for m in names if m not in df.columns]
    if missing:
        raise SemcomError(f"no column {', '.join(missing)} in the result table: it has {', '.join(metric_columns(df)) or 'no metric columns'}")
    names = [m for m in names if np.isfinite(df[m].astype(float)).sum() >= 3]
    if len(names) < 2:
        raise SemcomError("need at least two metric columns with three or more finite values each to compare: run the study with more metrics or points")
    keys = [c for c in POINT_COLUMNS if c in df.columns]
    images = _oriented(df, names)
    points = pd.concat([df[keys], images], axis=1).groupby(keys, dropna=False)[names].mean().reset_index()
    rows = []
    for a, b in itertools.combinations(names, 2):
        pa, pb = points[a].to_numpy(float), points[b].to_numpy(float)
        order, pairs = _pipeline_order(points, a, b)
        rows.append({
            "metric_a": a,
            "metric_b": b,
            "kendall_points": _pair_stat(pa, pb, stats.kendalltau),
            "spearman_points": _pair_stat(pa, pb, stats.spearmanr),
            "n_points": int((np.isfinite(pa) & np.isfinite(pb)).sum()),
            "kendall_images": _pair_stat(images[a].to_numpy(float), images[b].to_numpy(float), stats.kendalltau),
            "n_images": int((np.isfinite(images[a]) & np.isfinite(images[b])).sum()),
            "pipeline_order": order,
            "pipeline_pairs": pairs,
        })
    return pd.DataFrame(rows)


def matrix(table: pd.DataFrame, column: str = "kendall_points") -> pd.DataFrame:
    """Symmetric metric x metric matrix of one statistic (1 on the diagonal)."""
    names = list(dict.fromkeys([*table["metric_a"], *table["metric_b"]]))
    m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for r in table.itertuples():
        m.loc[r.metric_a, r.metric_b] = m.loc[r.metric_b, r.metric_a] = getattr(r, column)
    return m


def write_agreement(df: pd.DataFrame, out_dir: str | Path, metrics: list[str] | None = None, plots: bool = True) -> dict[str, Path]:
    """Write ``agreement.csv`` and ``figures/agreement.{pdf,png}`` (heat map of Kendall tau over points)."""
    out_dir = Path(out_dir)
    table = agreement(df, metrics)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"agreement": out_dir / "agreement.csv"}
    table.to_csv(written["agreement"], index=False, float_format="%.4f")
    if plots:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        m = matrix(table)
        fig, ax = plt.subplots(figsize=(0.55 * len(m) + 1.6, 0.55 * len(m) + 1.0))
        im = ax.imshow(m.to_numpy(float), vmin=-1, vmax=1, cmap="RdBu")
        ax.set_xticks(range(len(m)), m.columns, rotation=45, ha="right")
        ax.set_yticks(range(len(m)), m.index)
        for i, j in itertools.product(range(len(m)), repeat=2):
            v = m.iat[i, j]
            ax.text(j, i, "-" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center", fontsize=7)
        fig.colorbar(im, ax=ax, label="Kendall tau over points")
        fig.tight_layout()
        (out_dir / "figures").mkdir(exist_ok=True)
        for ext in ("pdf", "png"):
            fig.savefig(out_dir / "figures" / f"agreement.{ext}", dpi=200)
        plt.close(fig)
        written["figure"] = out_dir / "figures" / "agreement.pdf"
    return written


def format_agreement(table: pd.DataFrame) -> str:
    """Plain-text table for the terminal."""
    head = f"{'metric a':<12}{'metric b':<12}{'tau pts':>9}{'rho pts':>9}{'tau img':>9}{'order':>8}  n pts/img/pairs"
    lines = [head]
    for r in table.itertuples():
        lines.append(f"{r.metric_a:<12}{r.metric_b:<12}{r.kendall_points:>9.3f}{r.spearman_points:>9.3f}{r.kendall_images:>9.3f}"
                     f"{r.pipeline_order:>8.3f}  {r.n_points}/{r.n_images}/{r.pipeline_pairs}")
    return "\n".join(lines)
