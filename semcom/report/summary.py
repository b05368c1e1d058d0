"""Summaries of result rows: the mean over images per point of a curve, with a confidence interval.

Per point (:data:`~semcom.store.keys.POINT_COLUMNS`: dataset, pipeline, checkpoint, channel,
ratio, snr_db) and metric column: the mean over images (CompressAI's convention) and the half-width
of its two-sided 95 % Student-t interval. The image is the sampling unit: the rows of one image's
channel realizations are averaged first (they are not independent samples of the image
population), then the interval is taken over the images. ``failed_rate`` is the fraction of all
rows (images x realizations) whose image was lost.

Which columns are metrics the rows say themselves (``metric_info``: each metric's columns, label,
unit and range, :meth:`semcom.metrics.base.Metric.declaration`).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from semcom.store.keys import POINT_COLUMNS

#: Two-sided confidence level of the intervals in summaries and figure bands.
CONFIDENCE = 0.95
#: Interval methods: ``t`` (Student-t over images), ``bootstrap`` (percentile bootstrap over
#: images), ``none``, ``auto`` (``t`` from :data:`MIN_N_BAND` images on, else none).
CI_METHODS = ("auto", "t", "bootstrap", "none")
#: Fewest images for which ``auto`` gives an interval (with fewer the t interval of a mean is
#: mostly the t quantile: 12.7 standard errors at n = 2).
MIN_N_BAND = 5
#: Resamples of the bootstrap over images (seeded: the same table gives the same interval).
BOOTSTRAP_SAMPLES = 2000

#: Numeric columns of tables written before metrics declared themselves (semcom 0.1) that are
#: not metrics; used only for tables without ``metric_info``.
_LEGACY_NON_METRIC = {
    "snr_db", "ratio", "seed", "realization", "bits", "channel_uses", "bpp", "ratio_used", "failed", "height", "width",
    "quality", "code_rate", "qam", "codewords", "block_errors", "ebn0_db", "capacity_bits", "mcs_decoded",
    "pilot_uses", "padding_uses", "cp_uses", "strength", "key_version",
}


def metric_info(df: pd.DataFrame) -> dict[str, dict]:
    """``{metric name: declaration}`` of every metric a table's rows were scored with."""
    out: dict[str, dict] = {}
    if "metric_info" in df.columns:
        for text in df["metric_info"].dropna().unique():
            out.update(json.loads(text))
    return out


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Columns of ``df`` that hold per-image metric values, in table order."""
    info = metric_info(df)
    if info:
        declared = {c for d in info.values() if d.get("per_image", True) for c in d["columns"]}
        return [c for c in df.columns if c in declared]
    return [c for c in df.columns if c not in _LEGACY_NON_METRIC and not c.startswith("_") and not c.endswith("_ci95")
            and pd.api.types.is_numeric_dtype(df[c]) and df[c].dtype != bool]


def metric_names(df: pd.DataFrame) -> list[str]:
    """The per-image metrics of a table (their main columns; companions such as ``vitscore_p`` out)."""
    info = metric_info(df)
    if info:
        return [c for c in df.columns if c in info and info[c].get("per_image", True)]
    return [c for c in metric_columns(df) if not c.endswith(("_p", "_r", "_miou", "_n"))]


def declaration_of(df: pd.DataFrame, column: str) -> dict:
    """The declaration of the metric that writes ``column`` (a companion: its metric's); from the
    rows' ``metric_info``, else from the registry, else {} (unknown)."""
    for d in metric_info(df).values():
        if column in d["columns"]:
            return d
    from semcom.metrics import get_metric
    from semcom.registry import METRICS

    name = column if column in METRICS.entries() else column.rsplit("_", 1)[0]
    if name in METRICS.entries():
        try:
            return get_metric(name).declaration()
        except Exception:  # noqa: BLE001 - a plugin that cannot be built here
            return {}
    return {}


def higher_is_better(df: pd.DataFrame, column: str) -> bool:
    """Direction of a metric column (True when unknown)."""
    return bool(declaration_of(df, column).get("higher_is_better", True))


def t_half_width(std, n, confidence: float = CONFIDENCE) -> np.ndarray:
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


def value_range(df: pd.DataFrame, column: str) -> tuple[float, float]:
    """The (lowest, highest) value a metric column can take (its declaration; unbounded if unknown)."""
    lo, hi = declaration_of(df, column).get("range", (-np.inf, np.inf))
    return float(lo), float(hi)


def interval(values: np.ndarray, method: str, confidence: float = CONFIDENCE, bounds=(-np.inf, np.inf), seed: int = 0) -> tuple[float, float]:
    """(low, high) of a confidence interval for the mean of ``values`` (NaN dropped), clipped to
    ``bounds``; NaN when the method gives none (``none``, fewer than two values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if method == "none" or n < 2:
        return np.nan, np.nan
    mean = v.mean()
    if method == "t":
        half = float(t_half_width(v.std(ddof=1), n, confidence))
        lo, hi = mean - half, mean + half
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        means = v[rng.integers(0, n, size=(BOOTSTRAP_SAMPLES, n))].mean(axis=1)
        lo, hi = np.quantile(means, [0.5 - confidence / 2, 0.5 + confidence / 2])
    else:
        raise ValueError(f"interval method {method!r}: choose one of {', '.join(CI_METHODS)}")
    return float(max(lo, bounds[0])), float(min(hi, bounds[1]))


def point_stats(df: pd.DataFrame, by: list[str], metric: str, method: str = "t", confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per group of ``by`` (e.g. pipeline, channel, SNR): ``mean`` over images (realizations of an
    image averaged first), ``n`` images, and the interval ``lo``, ``hi`` of ``method`` (``auto``:
    t from :data:`MIN_N_BAND` images on), within the metric's range. The one computation of
    intervals behind both the summary and the figures."""
    if method not in CI_METHODS:
        from semcom.errors import SemcomError

        raise SemcomError(f"plot.ci={method!r} is unknown: choose one of {', '.join(CI_METHODS)}")
    bounds = value_range(df, metric)
    images = per_image(df, [metric])
    rows = []
    for key, g in images.groupby(by, dropna=False, sort=True):
        v = g[metric].to_numpy(dtype=float)
        n = int(np.isfinite(v).sum())
        m = "t" if method == "auto" and n >= MIN_N_BAND else ("none" if method == "auto" else method)
        lo, hi = interval(v, m, confidence, bounds)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), "mean": float(np.nanmean(v)) if n else np.nan, "n": n, "lo": lo, "hi": hi})
    return pd.DataFrame(rows, columns=[*by, "mean", "n", "lo", "hi"])


def per_image(df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One row per (point, image): metric values averaged over the image's realizations."""
    group = [c for c in df.columns if c in (*POINT_COLUMNS, "image", "seed", "pipeline_label", "bound")]
    if "realization" not in df.columns or df["realization"].fillna(0).nunique() <= 1:
        return df
    return df.groupby(group, dropna=False)[metrics].mean().reset_index()


def summarize(df: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean over images per point, with n, interval and failure rate (see the module docstring).

    Columns: the point columns, per metric ``<metric>``, ``<metric>_ci95`` (the t interval's
    half-width) and ``<metric>_lo``, ``<metric>_hi`` (that interval within the metric's range), ``n`` (images),
    ``realizations`` (per image, when there are several), ``failed_rate``, the mean ``bits``,
    ``bpp``, ``channel_uses``, ``ratio_used``, and ``psnr_of_mean_mse`` when a psnr column exists.
    """
    if not len(df):
        return pd.DataFrame()
    df = df.copy()
    df["checkpoint"] = df["checkpoint"].fillna("")
    group_cols = [c for c in POINT_COLUMNS if c in df.columns]
    metrics = metric_columns(df)
    images = per_image(df, metrics)
    grouped_images = images.groupby(group_cols, dropna=False)
    grouped = df.groupby(group_cols, dropna=False)
    cols = {}
    for c in metrics:
        g = grouped_images[c]
        mean, std, count = g.mean(), g.std(ddof=1), g.count()
        half = pd.Series(t_half_width(std, count, confidence), index=mean.index)
        lo, hi = value_range(df, c)
        cols[c] = mean
        cols[f"{c}_ci95"] = half
        cols[f"{c}_lo"] = (mean - half).clip(lower=lo)
        cols[f"{c}_hi"] = (mean + half).clip(upper=hi)
    for c in ("bits", "bpp", "channel_uses", "ratio_used"):
        if c in df.columns:
            cols[c] = grouped[c].mean()
    if "failed" in df.columns:
        cols["failed_rate"] = grouped["failed"].mean()
    cols["n"] = grouped_images["image"].count()
    if "realization" in df.columns and df["realization"].fillna(0).nunique() > 1:
        cols["realizations"] = grouped["realization"].nunique()
    if "psnr" in df.columns:
        mse = 10.0 ** (-df["psnr"] / 10.0)
        cols["psnr_of_mean_mse"] = -10.0 * np.log10(mse.groupby([df[c] for c in group_cols], dropna=False).mean())
    out = pd.DataFrame(cols)
    return out.reset_index().sort_values(group_cols).reset_index(drop=True)


def format_summary(summary: pd.DataFrame, metrics: list[str] | None = None) -> str:
    """A plain-text table: one line per point, ``mean +- ci`` per metric, and n."""
    from semcom.errors import SemcomError

    if not len(summary):
        return "(no rows)"
    keys = [c for c in POINT_COLUMNS if c in summary.columns]
    if "checkpoint" in keys and (summary["checkpoint"].fillna("") == "").all():
        keys.remove("checkpoint")
    available = [c for c in summary.columns if f"{c}_ci95" in summary.columns]
    metrics = metrics or available
    out = summary[keys].copy()
    if "ratio" in out:
        out["ratio"] = out["ratio"].map(lambda r: f"{r:.6g}")
    out["n"] = summary["n"].astype(int)
    for m in metrics:
        if m not in available:
            raise SemcomError(f"metric {m!r} is not in the results: choose from {', '.join(available)}")
        ci = summary[f"{m}_ci95"]
        out[m] = [f"{v:.4f} ± {c:.4f}" if np.isfinite(c) else f"{v:.4f}" for v, c in zip(summary[m], ci)]
    if "failed_rate" in summary.columns:
        out["failed"] = summary["failed_rate"].map(lambda v: f"{v:.3f}")
    return out.to_string(index=False)
