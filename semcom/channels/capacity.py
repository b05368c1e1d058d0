"""Capacity helpers: AWGN, ergodic fading capacity, outage probability, instantaneous budgets.

All SNRs are Es/N0 in dB per complex channel use (conventions.py), gains normalised to
E|h|^2 = 1; rates and capacities in bits per complex channel use.

* AWGN: C = log2(1 + snr).
* Ergodic Rayleigh: E[log2(1 + |h|^2 snr)] with |h|^2 ~ Exp(1) has the closed form
  log2(e) exp(1/snr) E1(1/snr) (E1: exponential integral, ``scipy.special.exp1``).
* Ergodic Rician (K factor): numerical integration over the |h|^2 density.
* Outage probability at rate R: P[log2(1 + |h|^2 snr) < R] = P[|h|^2 < (2^R - 1)/snr]:
  Rayleigh 1 - exp(-(2^R - 1)/snr); Rician via the noncentral chi-square CDF
  (2 (K+1) |h|^2 ~ ncx2(df=2, nc=2K), i.e. 1 - Q1(sqrt(2K), sqrt(2(K+1) t)), Marcum Q).
* epsilon-outage capacity: the largest rate whose outage probability is epsilon.
* Instantaneous budget of a realisation: sum over channel uses of log2(1 + |h_t|^2 snr), what the
  capacity bound (:mod:`semcom.pipelines.capacity_bound`) gives an image.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import integrate, special, stats

from semcom.conventions import awgn_capacity, snr_db_to_n0

__all__ = [
    "awgn_capacity",
    "ergodic_capacity",
    "instantaneous_capacity_bits",
    "outage_capacity",
    "outage_probability",
    "rayleigh_ergodic_capacity",
    "rician_ergodic_capacity",
]

LOG2E = 1.0 / math.log(2.0)


def _snr(snr_db) -> np.ndarray:
    return 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)


def _k(k_db: float) -> float:
    return 0.0 if k_db == -math.inf else 10.0 ** (float(k_db) / 10.0)


def _exp_e1(x: np.ndarray) -> np.ndarray:
    """exp(x) E1(x) without overflow: direct for x <= 600, asymptotic series beyond (error < 1e-13)."""
    x = np.asarray(x, dtype=np.float64)
    small = np.minimum(x, 600.0)
    direct = np.exp(small) * special.exp1(small)
    big = np.maximum(x, 600.0)
    series = sum((-1) ** k * math.factorial(k) / big ** (k + 1) for k in range(6))
    return np.where(x <= 600.0, direct, series)


def rayleigh_ergodic_capacity(snr_db) -> float | np.ndarray:
    """E[log2(1 + |h|^2 snr)], h ~ CN(0, 1): log2(e) exp(1/snr) E1(1/snr), bits per channel use."""
    out = LOG2E * _exp_e1(1.0 / _snr(snr_db))
    return float(out) if np.ndim(out) == 0 else out


def rician_gain_cdf(t, k_db: float) -> np.ndarray:
    """P[|h|^2 <= t] for Rician h with E|h|^2 = 1 and K factor ``k_db`` (dB; -inf = Rayleigh)."""
    k = _k(k_db)
    t = np.asarray(t, dtype=np.float64)
    if k == 0:
        return -np.expm1(-np.maximum(t, 0.0))
    return stats.ncx2.cdf(2.0 * (k + 1.0) * t, df=2, nc=2.0 * k)


def rician_gain_pdf(t, k_db: float) -> np.ndarray:
    """Density of |h|^2 for Rician h with E|h|^2 = 1 and K factor ``k_db`` (dB)."""
    k = _k(k_db)
    t = np.asarray(t, dtype=np.float64)
    if k == 0:
        return np.exp(-t) * (t >= 0)
    return 2.0 * (k + 1.0) * stats.ncx2.pdf(2.0 * (k + 1.0) * t, df=2, nc=2.0 * k)


def rician_ergodic_capacity(snr_db: float, k_db: float) -> float:
    """E[log2(1 + |h|^2 snr)] for Rician fading with K factor ``k_db`` (numerical integration)."""
    snr = float(_snr(snr_db))
    if _k(k_db) == 0:
        return rayleigh_ergodic_capacity(snr_db)
    k = _k(k_db)
    # |h|^2 concentrates around 1 with spread ~ 1/sqrt(K+1): integrate over a generous window
    hi = 1.0 + 40.0 / math.sqrt(k + 1.0) + 40.0 / (k + 1.0)
    val, _ = integrate.quad(lambda t: math.log2(1.0 + snr * t) * float(rician_gain_pdf(t, k_db)), 0.0, hi, limit=200, points=[1.0])
    return float(val)


def ergodic_capacity(snr_db: float, fading: str = "rayleigh", k_db: float | None = None) -> float:
    """Ergodic capacity, bits per channel use: ``fading`` = ``awgn`` | ``rayleigh`` | ``rician`` (needs ``k_db``)."""
    if fading == "awgn":
        return awgn_capacity(float(snr_db))
    if fading == "rayleigh":
        return rayleigh_ergodic_capacity(float(snr_db))
    if fading == "rician":
        if k_db is None:
            raise ValueError("rician fading needs k_db")
        return rician_ergodic_capacity(float(snr_db), float(k_db))
    raise ValueError(f"unknown fading {fading!r}: awgn, rayleigh or rician")


def outage_probability(rate, snr_db, fading: str = "rayleigh", k_db: float | None = None):
    """P[log2(1 + |h|^2 snr) < rate] for a rate in bits per channel use.

    ``fading``: ``rayleigh`` (1 - exp(-(2^R - 1)/snr)), ``rician`` (noncentral chi-square CDF,
    K factor ``k_db`` in dB), ``awgn`` (0 or 1).
    """
    threshold = np.expm1(np.asarray(rate, dtype=np.float64) * math.log(2.0)) / _snr(snr_db)
    if fading == "awgn":
        out = (threshold > 1.0).astype(np.float64)
    elif fading == "rayleigh":
        out = -np.expm1(-threshold)
    elif fading == "rician":
        if k_db is None:
            raise ValueError("rician fading needs k_db")
        out = rician_gain_cdf(threshold, float(k_db))
    else:
        raise ValueError(f"unknown fading {fading!r}: awgn, rayleigh or rician")
    return float(out) if np.ndim(out) == 0 else out


def outage_capacity(epsilon: float, snr_db: float, fading: str = "rayleigh", k_db: float | None = None) -> float:
    """Largest rate (bits per channel use) with outage probability ``epsilon`` (0 < epsilon < 1)."""
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"epsilon must be in (0, 1), got {epsilon}")
    snr = float(_snr(snr_db))
    if fading == "rayleigh":
        t = -math.log1p(-epsilon)
    elif fading == "rician":
        if k_db is None:
            raise ValueError("rician fading needs k_db")
        k = _k(k_db)
        t = -math.log1p(-epsilon) if k == 0 else float(stats.ncx2.ppf(epsilon, df=2, nc=2.0 * k)) / (2.0 * (k + 1.0))
    elif fading == "awgn":
        t = 1.0
    else:
        raise ValueError(f"unknown fading {fading!r}: awgn, rayleigh or rician")
    return math.log2(1.0 + snr * t)


def instantaneous_capacity_bits(h: torch.Tensor, snr_db: float | torch.Tensor) -> torch.Tensor:
    """Bits an ideal code carries over channel realisation ``h`` (N, L): sum_t log2(1 + |h_t|^2 snr), (N,) float64."""
    snr = 1.0 / snr_db_to_n0(torch.as_tensor(snr_db, dtype=torch.float64, device=h.device))
    return torch.log2(1.0 + h.abs().square().double() * snr.reshape(-1, 1)).sum(dim=1)
