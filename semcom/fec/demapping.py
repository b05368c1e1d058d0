"""Soft QAM / PAM demapping (exact APP) on the CPU with numba, as Sionna's ``Demapper("app", ...)``.

For each received symbol ``y`` with noise variance ``N0`` (per symbol: the post-equaliser
``n0_eff`` of :meth:`semcom.channels.base.ChannelOutput.llr_inputs`) and each bit ``i`` of the
``m``-bit label, the logit

    LLR_i = log sum_{c : b_i(c) = 1} exp(-|y - c|^2 / N0) - log sum_{c : b_i(c) = 0} exp(-|y - c|^2 / N0)

(``log p(1)/p(0)``, no prior), over the points ``c`` of Sionna's constellation (its Gray labelling
and unit average energy), ``N0`` clamped below at the smallest positive float32 as Sionna does.
Output shape and order are Sionna's: ``(..., L)`` symbols -> ``(..., L * m)`` float32, the bits
of each symbol consecutive. Sums are taken in float64 (Sionna: float32), so values agree to
float32 rounding, not bit for bit.

Sionna's demapper forms a ``(..., L, 2^m)`` tensor of distances and gathers it twice per bit;
here each symbol is one loop over its ``2^m`` points with one exponential per point (parallel over
symbols): 49,152 symbols (one 512 x 512 image at rho = 1/16) in 37 ms for QPSK, 72 ms for 16-QAM and
0.42 s for 256-QAM on two CPU cores, 6 to 8 times Sionna's. On CUDA, Sionna's demapper is used.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange

_TINY = float(np.finfo(np.float32).tiny)


@njit(cache=True)
def _lse_bit(e, labels, b, value):
    """log sum exp of ``e[j]`` over the points whose bit ``b`` is ``value`` (stable: own maximum)."""
    top = -np.inf
    for j in range(e.shape[0]):
        if labels[j, b] == value and e[j] > top:
            top = e[j]
    acc = 0.0
    for j in range(e.shape[0]):
        if labels[j, b] == value:
            acc += np.exp(e[j] - top)
    return top + np.log(acc)


@njit(parallel=True, cache=True)
def _app_llrs(yr, yi, no, pr, pi, labels, out):
    """yr, yi, no (S,) float64; pr, pi (M,) float64 points; labels (M, m) uint8 -> out (S, m) float32.

    One exponential per point (relative to the symbol's nearest point); a bit whose every point
    of one value is so far that all of them underflow is summed again with its own maximum."""
    n_sym = yr.shape[0]
    n_pts, m = labels.shape
    for s in prange(n_sym):
        inv = 1.0 / max(no[s], _TINY)
        e = np.empty(n_pts)
        top = -np.inf
        for j in range(n_pts):
            dr = yr[s] - pr[j]
            di = yi[s] - pi[j]
            e[j] = -(dr * dr + di * di) * inv
            top = max(top, e[j])
        w = np.empty(n_pts)
        for j in range(n_pts):
            w[j] = np.exp(e[j] - top)
        for b in range(m):
            s0 = 0.0
            s1 = 0.0
            for j in range(n_pts):
                if labels[j, b]:
                    s1 += w[j]
                else:
                    s0 += w[j]
            l1 = top + np.log(s1) if s1 > 1e-280 else _lse_bit(e, labels, b, 1)
            l0 = top + np.log(s0) if s0 > 1e-280 else _lse_bit(e, labels, b, 0)
            out[s, b] = np.float32(l1 - l0)


class APPDemapper:
    """Exact APP demapper of Sionna's ``kind`` (``qam`` or ``pam``) constellation with ``m`` bits.

    ``demapper(y, no)``: ``y`` (..., L) complex, ``no`` broadcastable to ``y`` (per symbol or one
    value), float -> (..., L * m) float32 logits on ``y``'s device.
    """

    def __init__(self, kind: str, m: int, device: str | torch.device = "cpu"):
        from sionna.phy.mapping import Constellation, Demapper, _compute_binary_labels

        self.kind, self.m, self.device = kind, int(m), torch.device(device)
        points = Constellation(kind, self.m).points.detach().cpu().numpy().astype(np.complex128)
        self._pr, self._pi = np.ascontiguousarray(points.real), np.ascontiguousarray(points.imag)
        self._labels = np.ascontiguousarray(_compute_binary_labels(self.m).astype(np.uint8))
        self._sionna = Demapper("app", kind, self.m, device=str(self.device)) if self.device.type == "cuda" else None

    def __call__(self, y: torch.Tensor, no) -> torch.Tensor:
        if self._sionna is not None:
            return self._sionna(y, torch.as_tensor(no, device=y.device))
        no_t = torch.as_tensor(no, dtype=torch.float64).to("cpu")
        yc = y.detach().to("cpu", torch.complex128)
        no_b = torch.broadcast_to(no_t, yc.shape).reshape(-1).contiguous().numpy()
        flat = yc.reshape(-1)
        out = np.empty((flat.shape[0], self.m), dtype=np.float32)
        _app_llrs(np.ascontiguousarray(flat.real.numpy()), np.ascontiguousarray(flat.imag.numpy()), np.ascontiguousarray(no_b),
                  self._pr, self._pi, self._labels, out)
        return torch.from_numpy(out).reshape(*y.shape[:-1], y.shape[-1] * self.m).to(y.device)
