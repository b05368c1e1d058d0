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

* ``boxplus`` (default): the exact boxplus that Sionna's default ``boxplus-phi`` computes,
  ``y_j = sign * 2 atanh(prod_{i != j} tanh(|x_i|/2))`` = ``sign * phi(sum_{i != j} phi(|x_i|))``
  with ``phi(x) = -log tanh(x/2)``, with Sionna's clamps (input magnitudes to
  ``[8.5e-8, 16.635532]``, outputs to ``[phi(16.635532), 16.635532]``), evaluated in the tanh
  domain: per edge one exp and one log1p instead of two of each. ``tanh(a/2)`` and
  ``1 - tanh(a/2)`` are both carried (prefix/suffix products over the check node's edges, the
  latter by ``D + d (1 - D)``), so ``2 atanh(p) = log1p(2p / (1 - p))`` keeps float32 precision
  near p = 1;
* ``boxplus-phi``: the same rule in the phi domain as Sionna evaluates it (about 1.5x slower);
* ``minsum``: sign product times the smallest other magnitude;
* ``offset-minsum``: min-sum with the magnitude reduced by an offset ``beta = 0.5``
  (``max(min - 0.5, 0)``, Sionna's ``offset-minsum``; an offset, not a normalising factor).

exp and log1p are branch-free float32 polynomials after range reduction (relative error below
3e-7), so LLVM vectorises them; more accurate than ``log(e^x + 1) - log(e^x - 1)`` in float32.

Early termination (``early_stop``, on by default): after each iteration the syndrome of the hard
decisions is checked and a block whose decisions satisfy every parity check stops iterating (its
output is that codeword). Sionna has no early termination; with ``early_stop=False`` every block
runs ``num_iter`` iterations like Sionna's decoder.

Speed: up to ``LANES`` (64) blocks per thread are decoded side by side in SIMD lanes (messages stored edge-major,
lane-minor; LLVM vectorises the loops over lanes; ``error_model="numpy"`` keeps divisions
branch-free); a lane whose block stops (early termination or ``num_iter``) takes the next block,
so early termination saves time. Blocks are split over threads (numba ``prange``;
``numba.set_num_threads``). Lane arithmetic is IEEE float32 without fast-math, so a block's result
does not depend on its lane, its batch or the thread count. Sums are accumulated in a different
order than Sionna's, so a few blocks in a thousand on the edge of decodability can end differently
(measured in ``docs/ldpc_decoder.md``).

The graph (compact edge lists: edges in check-node order with their variable node, CSR by check
node) is built once per (k, n) and cached; the rate-recovery map once per (k, n, QAM order).
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import njit, prange

#: Check-node rules of :class:`NumbaLDPC5GDecoder` (Sionna's names).
CN_UPDATES = ("boxplus", "boxplus-phi", "minsum", "offset-minsum")
_MODES = {"boxplus-phi": 0, "minsum": 1, "offset-minsum": 2, "boxplus": 3}
#: Offset beta of ``offset-minsum`` (as Sionna).
MINSUM_OFFSET = 0.5
#: Clipping of channel LLRs and messages (Sionna's ``llr_max``); also the filler bits' LLR.
LLR_MAX = 20.0

_PHI_MIN = np.float32(8.5e-8)
_PHI_MAX = np.float32(16.635532)
_PHI_OUT_MIN = np.float32(1.19e-7)  # phi(_PHI_MAX): the smallest check-node output magnitude
#: Most blocks decoded side by side in SIMD lanes by one task (each lane runs its own block; a lane
#: whose block stops takes the next one; a task of fewer blocks uses fewer lanes). Lane arithmetic is plain IEEE float32 (no fast-math), so a
#: block's result does not depend on its lane, its batch or the thread count.
LANES = 64

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_F2 = np.float32(2.0)
_LN2 = np.float32(0.6931471805599453)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_INV_LN2 = np.float32(1.4426950408889634)
_C3 = np.float32(1.0 / 3.0)
_C5 = np.float32(1.0 / 5.0)
_C7 = np.float32(1.0 / 7.0)
_C9 = np.float32(1.0 / 9.0)
_E2 = np.float32(1.0 / 2.0)
_E3 = np.float32(1.0 / 6.0)
_E4 = np.float32(1.0 / 24.0)
_E5 = np.float32(1.0 / 120.0)
_E6 = np.float32(1.0 / 720.0)
_E7 = np.float32(1.0 / 5040.0)
_SQRT2 = np.float32(1.4142135623730951)


@njit(cache=True, inline="always", error_model="numpy")
def _expm1_neg(a):
    """(exp(-a) - 1, exp(-a)) for 0 <= a <= 17 in float32, the first accurate for small a, the
    second for large a (branch-free: vectorises)."""
    x = -a
    nf = np.floor(x * _INV_LN2 + np.float32(0.5))  # in [-25, 0]
    r = (x - nf * _LN2_HI) - nf * _LN2_LO  # |r| <= ln2/2
    pm1 = r + r * r * (_E2 + r * (_E3 + r * (_E4 + r * (_E5 + r * (_E6 + r * _E7)))))
    kk = -nf
    sc = _F1
    f = np.float32(kk >= np.float32(16.0))
    sc = sc * (_F1 + f * (np.float32(2.0**-16) - _F1))
    kk = kk - f * np.float32(16.0)
    f = np.float32(kk >= np.float32(8.0))
    sc = sc * (_F1 + f * (np.float32(2.0**-8) - _F1))
    kk = kk - f * np.float32(8.0)
    f = np.float32(kk >= np.float32(4.0))
    sc = sc * (_F1 + f * (np.float32(2.0**-4) - _F1))
    kk = kk - f * np.float32(4.0)
    f = np.float32(kk >= np.float32(2.0))
    sc = sc * (_F1 + f * (np.float32(0.25) - _F1))
    kk = kk - f * np.float32(2.0)
    f = np.float32(kk >= _F1)
    sc = sc * (_F1 + f * (np.float32(0.5) - _F1))
    return sc * pm1 + (sc - _F1), sc * (_F1 + pm1)


@njit(cache=True, inline="always", error_model="numpy")
def _log1p_pos(w):
    """log(1 + w) for 0 <= w < 2^30 in float32, accurate for small w (branch-free: vectorises)."""
    y = _F1 + w
    kk = _F0
    f = np.float32(y >= np.float32(65536.0))
    y = y * (_F1 + f * (np.float32(2.0**-16) - _F1))
    kk = kk + f * np.float32(16.0)
    f = np.float32(y >= np.float32(256.0))
    y = y * (_F1 + f * (np.float32(2.0**-8) - _F1))
    kk = kk + f * np.float32(8.0)
    f = np.float32(y >= np.float32(16.0))
    y = y * (_F1 + f * (np.float32(2.0**-4) - _F1))
    kk = kk + f * np.float32(4.0)
    f = np.float32(y >= np.float32(4.0))
    y = y * (_F1 + f * (np.float32(0.25) - _F1))
    kk = kk + f * np.float32(2.0)
    f = np.float32(y >= _F2)
    y = y * (_F1 + f * (np.float32(0.5) - _F1))
    kk = kk + f * _F1
    f = np.float32(y >= _SQRT2)
    y = y * (_F1 + f * (np.float32(0.5) - _F1))
    kk = kk + f * _F1
    f = np.float32(kk == _F0)
    f = f * w + (_F1 - f) * (y - _F1)  # y - 1 is exact on [1/sqrt2, sqrt2)
    sv = f / (_F2 + f)
    z = sv * sv
    return kk * _LN2 + (_F2 * sv + _F2 * sv * z * (_C3 + z * (_C5 + z * (_C7 + z * _C9))))


@njit(cache=True, inline="always", error_model="numpy")
def _phi(a):
    """phi(a) = -log tanh(a/2) = log(1 + 2 e^-a / (1 - e^-a)), a clamped to [8.5e-8, 16.635532] as
    Sionna's float32 boxplus-phi."""
    a = min(max(a, _PHI_MIN), _PHI_MAX)
    em, q = _expm1_neg(a)
    return _log1p_pos(_F2 * q / (-em))


@njit(cache=True, error_model="numpy")
def _load_lane(llr, src, lane, llr_v, tot, c2v):
    """Put one block's channel LLRs (logits, clipped, negated; punctured 0; filler +llr_max) in ``lane``."""
    lmax = np.float32(LLR_MAX)
    for v in range(src.shape[0]):
        s = src[v]
        if s >= 0:
            x = llr[s]
            x = lmax if x > lmax else x
            x = -lmax if x < -lmax else x
            val = -x
        elif s == -1:
            val = _F0
        else:
            val = lmax
        llr_v[v, lane] = val
        tot[v, lane] = val
    for e in range(c2v.shape[0]):
        c2v[e, lane] = _F0


@njit(cache=True, error_model="numpy")
def _decode_range(llrs, b0, b1, src, cn_ptr, ev, max_deg, num_iter, mode, offset, early_stop, k, out, iters, lanes):
    """Decode blocks b0..b1-1 of ``llrs`` into ``out`` / ``iters``, ``lanes`` blocks at a time."""
    L = lanes
    n_vn = src.shape[0]
    n_cn = cn_ptr.shape[0] - 1
    n_edges = ev.shape[0]
    lmax = np.float32(LLR_MAX)
    llr_v = np.zeros((n_vn, L), np.float32)
    tot = np.zeros((n_vn, L), np.float32)
    new = np.zeros((n_vn, L), np.float32)
    c2v = np.zeros((n_edges, L), np.float32)
    mag = np.zeros((max_deg, L), np.float32)
    xw = np.zeros((max_deg, L), np.float32)
    tw = np.zeros((max_deg, L), np.float32)
    dw = np.zeros((max_deg, L), np.float32)
    pre_t = np.zeros((max_deg, L), np.float32)
    pre_d = np.zeros((max_deg, L), np.float32)
    sprod = np.zeros(L, np.float32)
    acc = np.zeros(L, np.float32)
    min1 = np.zeros(L, np.float32)
    min2 = np.zeros(L, np.float32)
    par = np.zeros(L, np.float32)
    bad = np.zeros(L, np.float32)
    blk = np.full(L, -1, np.int64)
    its = np.zeros(L, np.int64)
    nxt = b0
    active = 0
    for lane in range(L):
        if nxt < b1:
            _load_lane(llrs[nxt], src, lane, llr_v, tot, c2v)
            blk[lane] = nxt
            nxt += 1
            active += 1
    while active > 0:
        for v in range(n_vn):
            for l in range(L):
                new[v, l] = llr_v[v, l]
        for c in range(n_cn):
            p0 = cn_ptr[c]
            deg = cn_ptr[c + 1] - p0
            for l in range(L):
                sprod[l] = _F1
                acc[l] = _F1 if mode == 3 else _F0
                min1[l] = _F0 if mode == 3 else np.float32(1e30)
                min2[l] = np.float32(1e30)
            # (simple loops over the lanes, few arrays each: LLVM vectorises them)
            for j in range(deg):
                e = p0 + j
                v = ev[e]
                for l in range(L):
                    x = tot[v, l] - c2v[e, l]
                    x = lmax if x > lmax else x
                    x = -lmax if x < -lmax else x
                    xw[j, l] = x
                for l in range(L):
                    sprod[l] = -sprod[l] if xw[j, l] < _F0 else sprod[l]
                if mode == 3:
                    for l in range(L):
                        x = xw[j, l]
                        a = min(max(-x if x < _F0 else x, _PHI_MIN), _PHI_MAX)
                        em, q = _expm1_neg(a)
                        r = _F1 / (_F1 + q)
                        tw[j, l] = -em * r  # tanh(a/2)
                        dw[j, l] = _F2 * q * r  # 1 - tanh(a/2)
                    for l in range(L):  # exclusive prefix products of t and 1 - t
                        pre_t[j, l] = acc[l]
                        pre_d[j, l] = min1[l]
                        acc[l] = acc[l] * tw[j, l]
                        min1[l] = min1[l] + dw[j, l] * (_F1 - min1[l])
                elif mode == 0:
                    for l in range(L):
                        x = xw[j, l]
                        mag[j, l] = _phi(-x if x < _F0 else x)
                    for l in range(L):
                        acc[l] = acc[l] + mag[j, l]
                else:
                    for l in range(L):
                        x = xw[j, l]
                        mag[j, l] = -x if x < _F0 else x
                    for l in range(L):
                        a = mag[j, l]
                        m1 = min1[l]
                        m2 = min2[l]
                        lt1 = a < m1
                        min2[l] = m1 if lt1 else (a if a < m2 else m2)
                        min1[l] = a if lt1 else m1
            if mode == 3:
                for l in range(L):
                    acc[l] = _F1  # suffix product of t
                    min1[l] = _F0  # its 1 - product
            for jj in range(deg):
                j = deg - 1 - jj if mode == 3 else jj
                e = p0 + j
                v = ev[e]
                if mode == 3:
                    for l in range(L):
                        pt = pre_t[j, l] * acc[l]
                        pd = pre_d[j, l] + min1[l] * (_F1 - pre_d[j, l])
                        m = _log1p_pos(_F2 * pt / pd)  # 2 atanh(pt), pd = 1 - pt
                        m = min(max(m, _PHI_OUT_MIN), _PHI_MAX)
                        sg = -sprod[l] if xw[j, l] < _F0 else sprod[l]
                        c2v[e, l] = m * sg
                    for l in range(L):
                        acc[l] = acc[l] * tw[j, l]
                        min1[l] = min1[l] + dw[j, l] * (_F1 - min1[l])
                elif mode == 0:
                    for l in range(L):
                        m = _phi(acc[l] - mag[j, l])
                        sg = -sprod[l] if xw[j, l] < _F0 else sprod[l]
                        m = m * sg
                        m = lmax if m > lmax else m
                        m = -lmax if m < -lmax else m
                        c2v[e, l] = m
                else:
                    for l in range(L):
                        a = min2[l] if mag[j, l] == min1[l] else min1[l]
                        a = a - offset
                        a = _F0 if a < _F0 else a
                        sg = -sprod[l] if xw[j, l] < _F0 else sprod[l]
                        m = a * sg
                        m = lmax if m > lmax else m
                        m = -lmax if m < -lmax else m
                        c2v[e, l] = m
                for l in range(L):
                    new[v, l] = new[v, l] + c2v[e, l]
        tmp = tot
        tot = new
        new = tmp
        # syndrome of each lane's hard decisions (bit 1 where the LLR <= 0)
        for l in range(L):
            bad[l] = _F0
        if early_stop:
            for c in range(n_cn):
                for l in range(L):
                    par[l] = _F1
                for e in range(cn_ptr[c], cn_ptr[c + 1]):
                    v = ev[e]
                    for l in range(L):
                        par[l] = -par[l] if tot[v, l] <= _F0 else par[l]
                nbad = 0
                for l in range(L):
                    bad[l] = _F1 if par[l] < _F0 else bad[l]
                    nbad += 1 if (bad[l] > _F0 or blk[l] < 0) else 0
                if nbad == L:
                    break
        for lane in range(L):
            b = blk[lane]
            if b < 0:
                continue
            its[lane] += 1
            if its[lane] >= num_iter or (early_stop and bad[lane] == _F0):
                for i in range(k):
                    out[b, i] = 1 if tot[i, lane] <= _F0 else 0
                iters[b] = its[lane]
                its[lane] = 0
                if nxt < b1:
                    _load_lane(llrs[nxt], src, lane, llr_v, tot, c2v)
                    blk[lane] = nxt
                    nxt += 1
                else:
                    blk[lane] = -1
                    active -= 1


@njit(parallel=True, cache=True, error_model="numpy")
def _decode_batch(llrs, src, cn_ptr, ev, max_deg, num_iter, mode, offset, early_stop, k, out, iters, tasks):
    """Decode ``llrs`` (B, n) float32 into ``out`` (B, k) uint8 and ``iters`` (B,): ``tasks`` ranges of
    blocks in parallel, each decoded LANES blocks at a time."""
    n_blocks = llrs.shape[0]
    if num_iter <= 0:
        for b in range(n_blocks):
            for i in range(k):
                s = src[i]
                x = -llrs[b, s] if s >= 0 else (_F0 if s == -1 else np.float32(LLR_MAX))
                out[b, i] = 1 if x <= _F0 else 0
            iters[b] = 0
        return
    per = (n_blocks + tasks - 1) // tasks
    for t in prange(tasks):
        b0 = t * per
        b1 = min(n_blocks, b0 + per)
        if b0 < b1:
            _decode_range(llrs, b0, b1, src, cn_ptr, ev, max_deg, num_iter, mode, offset, early_stop, k, out, iters,
                          min(LANES, b1 - b0))


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
        cn_update: ``boxplus`` (exact, tanh domain; default) | ``boxplus-phi`` (exact, phi domain) |
            ``minsum`` | ``offset-minsum`` (offset 0.5).
        early_stop: stop a block once its hard decisions satisfy every parity check.

    After each call ``last_iterations`` holds the iterations each block ran (numpy int32).
    """

    def __init__(self, encoder, num_iter: int = 20, cn_update: str = "boxplus", early_stop: bool = True):
        if cn_update not in CN_UPDATES:
            raise ValueError(f"cn_update={cn_update!r} is unknown: choose one of {', '.join(CN_UPDATES)}")
        self.encoder = encoder
        self.k, self.n = int(encoder.k), int(encoder.n)
        self.num_iter = int(num_iter)
        self.cn_update = cn_update
        self.early_stop = bool(early_stop)
        self._mode = _MODES[cn_update]
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
            # one range of blocks per thread, at most LANES blocks side by side in each (a small
            # batch gets fewer lanes, not empty ones)
            tasks = max(1, min(numba.get_num_threads(), llrs.shape[0]))
            _decode_batch(llrs, self._src, self._cn_ptr, self._ev, self._max_deg, self.num_iter, self._mode,
                          self._offset, self.early_stop, self.k, out, iters, tasks)
        return out, iters

    def __call__(self, llrs: torch.Tensor) -> torch.Tensor:
        shape = llrs.shape
        arr = llrs.detach().to("cpu", torch.float32).reshape(-1, self.n).numpy()
        out, iters = self.decode_numpy(arr)
        self.last_iterations = iters
        return torch.from_numpy(out).to(device=llrs.device, dtype=torch.float32).reshape(*shape[:-1], self.k)


__all__ = ["CN_UPDATES", "LLR_MAX", "MINSUM_OFFSET", "NumbaLDPC5GDecoder", "graph", "pruned_length", "source_map"]
