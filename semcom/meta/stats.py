"""Agreement statistics between a metric and human scores.

* SROCC: Spearman's rank correlation (scipy), signed: negative for a metric whose lower values
  mean better quality (LPIPS) against MOS.
* KROCC: Kendall's tau-b (scipy), signed likewise.
* PLCC: Pearson's correlation between the human scores and the metric mapped through the
  4-parameter logistic of the VQEG FR-TV Phase II report,
  ``q(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`` (b1, b2 free, so the mapping may fall),
  fitted by bounded least squares (:func:`fit_logistic`). Where no fit is possible (fewer than 4
  pairs, a constant mapping) the linear Pearson correlation is reported and ``plcc_fit`` says
  ``linear``.
* Confidence intervals: percentile bootstrap over rated pairs (``n_boot`` resamples, fixed seed),
  the logistic refitted on each resample.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import kendalltau, pearsonr, spearmanr


def logistic4(x, b1, b2, b3, b4):
    """VQEG 4-parameter logistic: (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2."""
    z = np.clip(-(np.asarray(x, float) - b3) / max(abs(b4), 1e-12), -60, 60)
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


def _logistic_jac(u, b1, b2, b3, b4):
    """d logistic4 / d(b1, b2, b3, b4) for b4 > 0, (len(u), 4)."""
    g = 1.0 / (1.0 + np.exp(np.clip(-(u - b3) / b4, -60, 60)))
    dg = (b1 - b2) * g * (1 - g)
    return np.stack([g, 1 - g, -dg / b4, -dg * (u - b3) / b4**2], axis=1)


def fit_logistic(x: np.ndarray, y: np.ndarray, start: np.ndarray | None = None) -> np.ndarray | None:
    """Least-squares (b1, b2, b3, b4) of :func:`logistic4`; None when the fit fails.

    Fitted on x standardised to zero mean and unit deviation with scipy ``least_squares`` (trf,
    analytic Jacobian, at most 200 evaluations, the best point reached is kept), the scale bounded to
    |b4| in [0.02, 50] deviations and the midpoint b3 to the data's range +- 1 deviation, so a
    step-like relation (a few distortion levels) does not drive the slope to infinity.
    ``start``: initial (b1, b2, b3, b4) (the bootstrap starts from the full sample's fit).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 4 or np.ptp(x) == 0:
        return None
    mu, sd = float(x.mean()), float(x.std())
    u = (x - mu) / sd
    rising = spearmanr(x, y).statistic >= 0
    hi, lo = float(y.max()), float(y.min())
    span = max(hi - lo, 1e-12)
    p0 = [hi, lo, 0.0, 1.0] if rising else [lo, hi, 0.0, 1.0]
    if start is not None:
        p0 = [start[0], start[1], (start[2] - mu) / sd, abs(start[3]) / sd]
    bounds = ([lo - span, lo - span, float(u.min()) - 1, 0.02], [hi + span, hi + span, float(u.max()) + 1, 50.0])
    p0 = np.clip(p0, np.array(bounds[0]) + 1e-9, np.array(bounds[1]) - 1e-9)
    try:
        res = least_squares(lambda b: logistic4(u, *b) - y, p0, jac=lambda b: _logistic_jac(u, *b), bounds=bounds,
                            method="trf", max_nfev=200)
    except (ValueError, FloatingPointError):
        return None
    b1, b2, b3, b4 = res.x
    params = np.array([b1, b2, b3 * sd + mu, b4 * sd])
    return params if np.all(np.isfinite(params)) else None


def plcc(x: np.ndarray, y: np.ndarray, start: np.ndarray | None = None) -> tuple[float, str, np.ndarray | None]:
    """(PLCC after the logistic mapping, 'logistic' | 'linear', the fitted parameters)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    params = fit_logistic(x, y, start)
    if params is not None:
        q = logistic4(x, *params)
        if np.ptp(q) > 0:
            return float(pearsonr(q, y).statistic), "logistic", params
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), "linear", None
    return float(pearsonr(x, y).statistic), "linear", None


def correlations(x: np.ndarray, y: np.ndarray, start: np.ndarray | None = None) -> dict[str, float]:
    """SROCC, KROCC, PLCC of metric values ``x`` and human scores ``y`` (NaN pairs left out)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"srocc": float("nan"), "krocc": float("nan"), "plcc": float("nan"), "plcc_fit": "none", "n": int(len(x))}
    p, how, _ = plcc(x, y, start)
    return {"srocc": float(spearmanr(x, y).statistic), "krocc": float(kendalltau(x, y).statistic), "plcc": p,
            "plcc_fit": how, "n": int(len(x))}


def bootstrap_intervals(x: np.ndarray, y: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of SROCC, KROCC and PLCC over pairs."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    rng = np.random.default_rng(seed)
    start = fit_logistic(x, y)
    draws = {"srocc": [], "krocc": [], "plcc": []}
    for _ in range(n_boot):
        i = rng.integers(0, len(x), len(x))
        c = correlations(x[i], y[i], start)
        for k in draws:
            draws[k].append(c[k])
    lo, hi = 50 * (1 - level), 100 - 50 * (1 - level)
    out = {}
    for k, v in draws.items():
        v = np.asarray(v)
        v = v[np.isfinite(v)]
        out[k] = (float(np.percentile(v, lo)), float(np.percentile(v, hi))) if len(v) else (float("nan"), float("nan"))
    return out
