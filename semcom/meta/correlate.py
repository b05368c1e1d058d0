"""``python -m semcom.meta correlate``: how well metrics agree with human ratings.

For every rated pair (reference, distorted) of a ratings file (:mod:`semcom.meta.ratings`) each
selected metric is computed (the reference prepared once per reference image), then per metric
SROCC, KROCC and PLCC (after the 4-parameter logistic) with bootstrap intervals
(:mod:`semcom.meta.stats`). Writes into the output folder:

* ``scores.csv``: one row per pair, the ratings' columns plus one column per metric value;
* ``correlation.csv``: one row per metric (``srocc``, ``srocc_lo``, ``srocc_hi``, ``krocc``...,
  ``plcc``..., ``plcc_fit``, ``n``, ``higher_is_better``);
* ``figures/scatter_<metric>.{pdf,png}``: human score against metric value, with the logistic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from semcom.datasets import load_image
from semcom.errors import SemcomError
from semcom.meta.ratings import load_ratings
from semcom.meta.stats import bootstrap_intervals, correlations, fit_logistic, logistic4


def build_metrics(names: list[str], metric_params: dict | None = None):
    """Loaded metrics for ``names``, each with its ``metric_params[name]`` keyword arguments."""
    from semcom.metrics import get_metric

    metric_params = metric_params or {}
    unknown = set(metric_params) - set(names)
    if unknown:
        raise SemcomError(f"parameters given for {', '.join(sorted(unknown))}, which is not among the metrics {', '.join(names)}")
    return [get_metric(n, **dict(metric_params.get(n) or {})).load() for n in names]


def score_pairs(ratings: pd.DataFrame, metrics: list, device: str | torch.device = "cpu", progress: bool = False) -> pd.DataFrame:
    """``ratings`` plus one column per metric value (companion columns too), pair by pair.

    Each reference is read and prepared once; a distorted image must have its reference's size.
    Set metrics (FID, KID, IS) are refused: they do not score a pair.
    """
    for m in metrics:
        if not m.per_image:
            raise SemcomError(f"metric {m.name} is a set metric (a score of a set of images, not of a pair): leave it out of --metrics")
    out = ratings.copy()
    columns: dict[str, list] = {}
    n = len(ratings)
    groups = ratings.groupby("reference", sort=False).groups
    for done, (ref_path, index) in enumerate(groups.items()):
        ref = load_image(ref_path, convert=True)[None].to(device)
        states = {}
        for m in metrics:
            with torch.no_grad():
                states[m.name] = m.prepare(ref)
        for i in index:
            dist = load_image(ratings.at[i, "distorted"], convert=True)[None].to(device)
            if dist.shape != ref.shape:
                raise SemcomError(f"distorted image {ratings.at[i, 'distorted']} is {tuple(dist.shape[-2:])}, its reference "
                                  f"{ref_path} is {tuple(ref.shape[-2:])}: a rated pair must have one size")
            for m in metrics:
                with torch.no_grad():
                    cols = m.score_columns(states[m.name], dist)
                for name, vals in cols.items():
                    columns.setdefault(name, [float("nan")] * n)[out.index.get_loc(i)] = float(vals[0])
        if progress:
            print(f"  {done + 1}/{len(groups)} references scored", flush=True)
    for name, vals in columns.items():
        out[name] = vals
    return out


def correlation_table(scores: pd.DataFrame, metrics: list[str], n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per metric column of ``scores`` against its ``score`` column (see module doc)."""
    from semcom.report.summary import higher_is_better

    rows = []
    for m in metrics:
        x, y = scores[m].to_numpy(float), scores["score"].to_numpy(float)
        row = {"metric": m, **correlations(x, y)}
        for k, (lo, hi) in bootstrap_intervals(x, y, n_boot=n_boot, seed=seed).items():
            row[f"{k}_lo"], row[f"{k}_hi"] = lo, hi
        row["higher_is_better"] = higher_is_better(scores, m)
        rows.append(row)
    cols = ["metric", "n", "srocc", "srocc_lo", "srocc_hi", "krocc", "krocc_lo", "krocc_hi", "plcc", "plcc_lo", "plcc_hi",
            "plcc_fit", "higher_is_better"]
    return pd.DataFrame(rows)[cols]


def plot_scatter(scores: pd.DataFrame, metric: str, stats: dict | None = None):
    """Human score against ``metric``, with the fitted logistic (when it converged)."""
    import matplotlib.pyplot as plt

    from semcom.report.figures import axis_label
    from semcom.report.style import OKABE_ITO, RC, SINGLE_COLUMN_IN

    x, y = scores[metric].to_numpy(float), scores["score"].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 2.6), layout="constrained")
        ax.scatter(x[ok], y[ok], s=8, color=OKABE_ITO["blue"], alpha=0.7, linewidths=0)
        params = fit_logistic(x[ok], y[ok]) if ok.sum() >= 3 else None
        if params is not None:
            grid = np.linspace(x[ok].min(), x[ok].max(), 200)
            ax.plot(grid, logistic4(grid, *params), color=OKABE_ITO["vermillion"], lw=1.0, label="4-parameter logistic")
            ax.legend(frameon=False, loc="best")
        ax.set_xlabel(axis_label(scores, metric))
        ax.set_ylabel("human score")
        if stats:
            ax.set_title(f"SROCC {stats['srocc']:.3f}  PLCC {stats['plcc']:.3f}  KROCC {stats['krocc']:.3f}  (n = {stats['n']})")
        ax.grid(True, lw=0.3, alpha=0.5)
    return fig


def correlate(ratings_path: str | Path, metric_names: list[str], out_dir: str | Path, n_boot: int = 1000, seed: int = 0,
              metric_params: dict | None = None, device: str = "cpu", plots: bool = True, metrics=None,
              progress: bool = False) -> dict[str, Path]:
    """Score every rated pair with the metrics and write scores, table and figures (module doc).

    ``metrics``: already-built metric objects to use instead of building ``metric_names``.
    Returns the written paths by name (``scores``, ``correlation``, figure file names).
    """
    from semcom.plot import save_figure
    from semcom.report.outputs import write_table

    ratings = load_ratings(ratings_path)
    metrics = metrics if metrics is not None else build_metrics(metric_names, metric_params)
    scores = score_pairs(ratings, metrics, device=device, progress=progress)
    columns = [c for c in scores.columns if c not in ratings.columns]
    table = correlation_table(scores, columns, n_boot=n_boot, seed=seed)
    out_dir = Path(out_dir)
    written = {"scores": write_table(scores, out_dir / "scores.csv"), "correlation": write_table(table, out_dir / "correlation.csv")}
    if plots:
        for _, row in table.iterrows():
            for path in save_figure(plot_scatter(scores, row["metric"], row.to_dict()), out_dir / "figures" / f"scatter_{row['metric']}"):
                written[path.name] = path
    return written


def format_correlation(table: pd.DataFrame) -> str:
    """The table as text: value [lo, hi] per statistic."""
    lines = [f"{'metric':<16} {'n':>4}  {'SROCC [95% CI]':<24} {'PLCC [95% CI]':<24} {'KROCC [95% CI]':<24}"]
    for _, r in table.iterrows():
        cell = lambda k: f"{r[k]:+.3f} [{r[k + '_lo']:+.3f}, {r[k + '_hi']:+.3f}]"  # noqa: E731
        lines.append(f"{r['metric']:<16} {int(r['n']):>4}  {cell('srocc'):<24} {cell('plcc'):<24} {cell('krocc'):<24}")
    return "\n".join(lines)
