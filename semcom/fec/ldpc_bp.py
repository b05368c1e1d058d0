"""Belief-propagation decoding of the 5G NR LDPC codes on the CPU (numba), as the chain uses them.

:class:`NumbaLDPC5GDecoder` decodes exactly what Sionna's ``LDPC5GDecoder`` decodes for a given
``LDPC5GEncoder``: the same lifted parity-check matrix (base graph and lifting ``z`` from the
encoder), pruned of the same punctured degree-1 variable nodes and their check nodes, the same
rate recovery (the first ``2z`` systematic bits punctured: LLR 0; the ``k_ldpc - k`` filler bits
known zero: LLR ``llr_max``; the circular buffer after the ``n`` sent bits punctured: LLR 0), the
same 5G output de-interleaver for the QAM order, the same input convention (logit LLRs
``log p(1)/p(0)`` as Sionna's demapper produces, clipped to ``+-llr_max`` = 20 and negated), the
same flooding schedule, the same node rules and message clipping (check-to-variable and
variable-to-check messages clipped to ``+-20``), and the same hard decision (bit 1 where the
a-posteriori LLR is <= 0). It returns the ``k`` information bits.

Check-node rules (``cn_update``):

* ``boxplus-phi`` (default, Sionna's default): exact boxplus with
  ``phi(x) = -log tanh(x/2) = log(e^x + 1) - log(e^x - 1)``, arguments clamped to
  ``[8.5e-8, 16.635532]`` as Sionna does in float32;
* ``minsum``: sign product times the smallest other magnitude;
* ``offset-minsum``: min-sum with the magnitude reduced by an offset ``beta = 0.5``
  (``max(min - 0.5, 0)``, Sionna's ``offset-minsum``; an offset, not a normalising factor).

Early termination (``early_stop``, on by default): after each iteration the syndrome of the hard
decisions is checked and a block whose decisions satisfy every parity check stops iterating (its
output is that codeword). Sionna has no early termination; with ``early_stop=False`` every block
runs ``num_iter`` iterations like Sionna's decoder.

Arithmetic is float32 like Sionna's default precision; sums are accumulated in a different order,
so a few blocks in many thousands on the edge of decodability can end differently (measured in
``docs/ldpc_decoder.md``). Blocks are decoded in parallel (numba ``prange``, ``numba.set_num_threads``);
each block's result does not depend on the batch it is in or on the thread count.

The graph (compact edge lists: edges in check-node order with their variable node) is built once
per (k, n) and cached; the rate-recovery map once per (k, n, QAM order).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange

#: Check-node rules of :class:`NumbaLDPC5GDecoder` (Sionna's names).
CN_UPDATES = ("boxplus-phi", "minsum", "offset-minsum", "boxplus")
#: Offset beta of ``offset-minsum`` (as Sionna).
MINSUM_OFFSET = 0.5
#: Clipping of channel LLRs and messages (Sionna's ``llr_max``); also the filler bits' LLR.
LLR_MAX = 20.0

_PHI_MIN = np.float32(8.5e-8)
_PHI_MAX = np.float32(16.635532)


@njit(cache=True, inline="always")
def _phi(x):
    x = min(max(x, _PHI_MIN), _PHI_MAX)
    e = np.exp(x)
    return np.log(e + np.float32(1.0)) - np.log(e - np.float32(1.0))


@njit(cache=True)
def _decode_block(llr, src, cn_ptr, ev, num_iter, mode, offset, early_stop, k, out, llr_v, tot, new, c2v, mag, sgn, pre_buf):
    """Decode one block: ``llr`` (n,) logits -> ``out`` (k,) hard bits; returns iterations run."""
    n_vn = src.shape[0]
    n_cn = cn_ptr.shape[0] - 1
    lmax = np.float32(LLR_MAX)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for v in range(n_vn):
        s = src[v]
        if s >= 0:
            x = llr[s]
            x = min(max(x, -lmax), lmax)
            llr_v[v] = -x  # logit -> LLR log p(0)/p(1)
        elif s == -1:
            llr_v[v] = zero  # punctured
        else:
            llr_v[v] = lmax  # filler bit, known 0
        tot[v] = llr_v[v]
    for e in range(c2v.shape[0]):
        c2v[e] = zero
    used = 0
    for it in range(num_iter):
        for v in range(n_vn):
            new[v] = llr_v[v]
        for c in range(n_cn):
            p0 = cn_ptr[c]
            p1 = cn_ptr[c + 1]
            sprod = one
            if mode == 0:
                acc = zero
                for j in range(p1 - p0):
                    e = p0 + j
                    x = tot[ev[e]] - c2v[e]
                    x = min(max(x, -lmax), lmax)
                    if x < zero:
                        sgn[j] = -one
                        sprod = -sprod
                        a = _phi(-x)
                    else:
                        sgn[j] = one
                        a = _phi(x)
                    mag[j] = a
                    acc += a
                for j in range(p1 - p0):
                    e = p0 + j
                    m = _phi(np.float32(acc - mag[j])) * (sprod * sgn[j])
                    m = min(max(m, -lmax), lmax)
                    c2v[e] = m
                    new[ev[e]] += m
            elif mode == 3:
                # exact boxplus in the tanh domain: t = tanh(|x|/2), extrinsic products by prefix/suffix
                pre = 1.0
                for j in range(p1 - p0):
                    e = p0 + j
                    x = tot[ev[e]] - c2v[e]
                    x = min(max(x, -lmax), lmax)
                    if x < zero:
                        sgn[j] = -one
                        sprod = -sprod
                        a = -x
                    else:
                        sgn[j] = one
                        a = x
                    a = max(a, _PHI_MIN)
                    q = math.exp(-np.float64(a))
                    t = (1.0 - q) / (1.0 + q)
                    mag[j] = t
                    pre_buf[j] = pre
                    pre *= t
                suf = 1.0
                for j in range(p1 - p0 - 1, -1, -1):
                    e = p0 + j
                    pe = pre_buf[j] * suf
                    suf *= mag[j]
                    pe = min(pe, 1.0 - 1e-15)
                    m = np.float32(math.log((1.0 + pe) / (1.0 - pe)))
                    m = min(max(m, _PHI_MIN), _PHI_MAX) * (sprod * sgn[j])
                    m = min(max(m, -lmax), lmax)
                    c2v[e] = m
                    new[ev[e]] += m
            else:
                min1 = np.float32(1e30)
                min2 = np.float32(1e30)
                for j in range(p1 - p0):
                    e = p0 + j
                    x = tot[ev[e]] - c2v[e]
                    x = min(max(x, -lmax), lmax)
                    if x < zero:
                        sgn[j] = -one
                        sprod = -sprod
                        a = -x
                    else:
                        sgn[j] = one
                        a = x
                    mag[j] = a
                    if a < min1:
                        min2 = min1
                        min1 = a
                    elif a < min2:
                        min2 = a
                for j in range(p1 - p0):
                    e = p0 + j
                    a = min2 if np.float32(mag[j]) == min1 else min1
                    a = max(a - offset, zero)
                    m = a * (sprod * sgn[j])
                    m = min(max(m, -lmax), lmax)
                    c2v[e] = m
                    new[ev[e]] += m
        tmp = tot
        tot = new
        new = tmp
        used = it + 1
        if early_stop:
            ok = True
            for c in range(n_cn):
                par = 0
                for e in range(cn_ptr[c], cn_ptr[c + 1]):
                    if tot[ev[e]] <= zero:
                        par ^= 1
                if par:
                    ok = False
                    break
            if ok:
                break
    for i in range(k):
        out[i] = 1 if tot[i] <= zero else 0
    return used


@njit(parallel=True, cache=True)
def _decode_batch(llrs, src, cn_ptr, ev, max_deg, num_iter, mode, offset, early_stop, k, out, iters, chunk):
    """Decode ``llrs`` (B, n) float32 into ``out`` (B, k) uint8; ``iters`` (B,) iterations run.

    Blocks are processed in chunks of ``chunk`` blocks (one set of work buffers per chunk)."""
    n_blocks = llrs.shape[0]
    n_vn = src.shape[0]
    n_edges = ev.shape[0]
    n_chunks = (n_blocks + chunk - 1) // chunk
    for ci in prange(n_chunks):
        llr_v = np.empty(n_vn, np.float32)
        tot = np.empty(n_vn, np.float32)
        new = np.empty(n_vn, np.float32)
        c2v = np.empty(n_edges, np.float32)
        mag = np.empty(max_deg, np.float64)
        pre_buf = np.empty(max_deg, np.float64)
        sgn = np.empty(max_deg, np.float32)
        for b in range(ci * chunk, min(n_blocks, (ci + 1) * chunk)):
            iters[b] = _decode_block(llrs[b], src, cn_ptr, ev, num_iter, mode, offset, early_stop, k, out[b],
                                     llr_v, tot, new, c2v, mag, sgn, pre_buf)


# --------------------------------------------------------------------------- graph construction
_GRAPHS: dict[tuple[int, int], tuple] = {}
_MAPS: dict[tuple[int, int, int | None], np.ndarray] = {}


def pruned_length(encoder) -> int:
    """Variable nodes kept after pruning the punctured degree-1 nodes at the end of the graph
    (the check nodes of the removed ones go with them), as Sionna's ``LDPC5GDecoder(prune_pcm=True)``."""
    pcm = encoder.pcm
    dv = np.asarray(pcm.sum(axis=0)).reshape(-1)
    n_ldpc = encoder.n_ldpc
    last_pos = n_ldpc
    for idx in range(n_ldpc - 1, 0, -1):
        if dv[idx] != 1:
            break
        last_pos = idx
    punctured_tail = (n_ldpc - encoder.k_filler) - encoder.n - 2 * encoder.z
    return int(max(last_pos, n_ldpc - punctured_tail))


def graph(encoder) -> tuple[np.ndarray, np.ndarray, int]:
    """(cn_ptr, ev, max check degree) of the pruned parity-check matrix: the edges of check node c
    are ``cn_ptr[c]:cn_ptr[c+1]``, ``ev[e]`` the variable node of edge e. Cached per (k, n)."""
    key = (encoder.k, encoder.n)
    if key not in _GRAPHS:
        n_keep = pruned_length(encoder)
        n_drop = encoder.n_ldpc - n_keep
        pcm = encoder.pcm.tocsr()
        if n_drop > 0:
            pcm = pcm[: pcm.shape[0] - n_drop, :n_keep]
        pcm = pcm.tocsr()
        pcm.sort_indices()
        cn_ptr = pcm.indptr.astype(np.int32)
        ev = pcm.indices.astype(np.int32)
        _GRAPHS[key] = (cn_ptr, ev, int(np.diff(cn_ptr).max()), n_keep)
    cn_ptr, ev, max_deg, _ = _GRAPHS[key]
    return cn_ptr, ev, max_deg


def source_map(encoder) -> np.ndarray:
    """For each kept variable node: the received position (0..n-1) whose LLR it takes, -1 when
    punctured (LLR 0), -2 for a filler bit (known 0). Inverts the encoder's rate matching and
    output interleaver. Cached per (k, n, bits per symbol)."""
    m = encoder.num_bits_per_symbol
    key = (encoder.k, encoder.n, m)
    if key not in _MAPS:
        graph(encoder)
        n_keep = _GRAPHS[(encoder.k, encoder.n)][3]
        k, n, z, k_ldpc = encoder.k, encoder.n, encoder.z, encoder.k_ldpc
        src = np.full(n_keep, -1, dtype=np.int32)
        # buffer position p (0..n-1, before the output interleaver) -> variable node
        p = np.arange(n)
        vn = np.where(p < k - 2 * z, p + 2 * z, p - (k - 2 * z) + k_ldpc)
        # received position of buffer position p: the interleaver sends c_rm[out_int[j]] to j
        if m is not None:
            recv = np.asarray(encoder.out_int_inv.cpu().numpy(), dtype=np.int64)
        else:
            recv = p
        src[vn] = recv
        src[k:k_ldpc] = -2
        _MAPS[key] = src
    return _MAPS[key]


class NumbaLDPC5GDecoder:
    """5G LDPC belief-propagation decoder on the CPU for the codewords of ``encoder``
    (a Sionna ``LDPC5GEncoder``): logit LLRs (..., n) -> hard information bits (..., k) float32.

    Args:
        encoder: the ``LDPC5GEncoder`` whose code, rate matching and interleaver are decoded.
        num_iter: maximum BP iterations (flooding schedule).
        cn_update: ``boxplus-phi`` | ``minsum`` | ``offset-minsum`` (offset 0.5).
        early_stop: stop a block once its hard decisions satisfy every parity check.
        chunk: blocks per work-buffer set (per parallel task).

    After each call ``last_iterations`` holds the iterations each block ran (numpy int32).
    """

    def __init__(self, encoder, num_iter: int = 20, cn_update: str = "boxplus-phi", early_stop: bool = True,
                 chunk: int = 4):
        if cn_update not in CN_UPDATES:
            raise ValueError(f"cn_update={cn_update!r} is unknown: choose one of {', '.join(CN_UPDATES)}")
        self.encoder = encoder
        self.k, self.n = int(encoder.k), int(encoder.n)
        self.num_iter = int(num_iter)
        self.cn_update = cn_update
        self.early_stop = bool(early_stop)
        self.chunk = int(chunk)
        self._mode = CN_UPDATES.index(cn_update)
        self._offset = np.float32(MINSUM_OFFSET if cn_update == "offset-minsum" else 0.0)
        self._cn_ptr, self._ev, self._max_deg = graph(encoder)
        self._src = source_map(encoder)
        self.last_iterations = np.zeros(0, dtype=np.int32)

    def decode_numpy(self, llrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """LLRs (B, n) -> hard bits (B, k) uint8, iterations run (B,) int32."""
        llrs = np.ascontiguousarray(llrs, dtype=np.float32)
        if llrs.ndim != 2 or llrs.shape[1] != self.n:
            raise ValueError(f"expected LLRs of shape (blocks, {self.n}), got {llrs.shape}")
        out = np.empty((llrs.shape[0], self.k), dtype=np.uint8)
        iters = np.zeros(llrs.shape[0], dtype=np.int32)
        if llrs.shape[0]:
            _decode_batch(llrs, self._src, self._cn_ptr, self._ev, self._max_deg, self.num_iter, self._mode,
                          self._offset, self.early_stop, self.k, out, iters, self.chunk)
        return out, iters

    def __call__(self, llrs: torch.Tensor) -> torch.Tensor:
        shape = llrs.shape
        arr = llrs.detach().to("cpu", torch.float32).reshape(-1, self.n).numpy()
        out, iters = self.decode_numpy(arr)
        self.last_iterations = iters
        return torch.from_numpy(out).to(device=llrs.device, dtype=torch.float32).reshape(*shape[:-1], self.k)


__all__ = ["CN_UPDATES", "LLR_MAX", "MINSUM_OFFSET", "NumbaLDPC5GDecoder", "graph", "pruned_length", "source_map"]
