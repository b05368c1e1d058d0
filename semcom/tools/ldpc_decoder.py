"""Validation of semcom's numba LDPC decoder against Sionna's LDPC5GDecoder.

``python -m semcom.tools.ldpc_decoder [--quick] [--blocks N] [--max-blocks N] [--errors E] [--threads T] [--json out.json]``

1. Block errors of both decoders on the same LLR blocks (n = 4096, AWGN, Sionna's app demapper) at
   3 MCS (QPSK 1/2, 16-QAM 1/2, 64-QAM 2/3) x 3 Es/N0 points across each waterfall, with Wilson
   95 % intervals; blocks are added in batches until both decoders have ``--errors`` block errors
   (100) or ``--max-blocks`` is reached. semcom's decoder runs as the chain runs it (``bp``, early
   termination on).
2. Bit equality: on the same blocks, the share of blocks whose decoded bits equal Sionna's with
   early termination off.
3. Min-sum loss: Es/N0 at BLER 0.1 of ``bp``, ``minsum`` and ``offset_minsum`` (numba decoders,
   QPSK 1/2, an Es/N0 grid of 0.1 dB, log-BLER interpolated); the loss in dB against ``bp``.

``--quick``: 128 blocks per point, 200 blocks per grid point of the min-sum sweep.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from semcom.fec.abstraction.curves import wilson

#: (label, code rate, QAM order, Es/N0 dB points across the waterfall) for n = 4096 (4092 for 64-QAM).
POINTS = (("QPSK 1/2", 0.5, 4, (1.0, 1.2, 1.4)), ("16-QAM 1/2", 0.5, 16, (6.0, 6.2, 6.4)),
          ("64-QAM 2/3", 2 / 3, 64, (13.6, 13.8, 14.0)))


def _llrs(enc, m: int, es_n0: float, blocks: int, g: torch.Generator):
    from sionna.phy.mapping import Demapper, Mapper

    u = torch.randint(0, 2, (blocks, enc.k), generator=g).float()
    x = Mapper("qam", m)(enc(u))
    n0 = 10 ** (-es_n0 / 10)
    noise = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)) * math.sqrt(n0 / 2)
    return u, Demapper("app", "qam", m)(x + noise, torch.tensor(n0))


def compare(rate: float, qam: int, es_n0: float, *, batch: int, max_blocks: int, errors: int, seed: int,
            iterations: int = 20, codeword_bits: int = 4096) -> dict:
    """Block errors of semcom's decoder (bp, early stop) and Sionna's on the same blocks, and bit equality with ET off."""
    from semcom.fec.ldpc import LDPCBlockCode
    from semcom.fec.ldpc_bp import NumbaLDPC5GDecoder
    from semcom.randomness import generator

    m = int(qam).bit_length() - 1
    code = LDPCBlockCode(rate, m, codeword_bits, iterations, decoder="bp")
    lay = code.layout(codeword_bits)
    enc, dec = code._code(lay.k, lay.n)
    ref = LDPCBlockCode(rate, m, codeword_bits, iterations, decoder="sionna")._code(lay.k, lay.n)[1]
    no_et = NumbaLDPC5GDecoder(enc, iterations, early_stop=False)
    g = generator(seed)
    blocks = e_new = e_ref = same = its = 0
    t_new = t_ref = 0.0
    while blocks < max_blocks and min(e_new, e_ref) < errors:
        nb = min(batch, max_blocks - blocks)
        u, llr = _llrs(enc, m, es_n0, nb, g)
        t = time.perf_counter()
        got = dec(llr)
        t_new += time.perf_counter() - t
        its += int(dec.last_iterations.sum())
        t = time.perf_counter()
        want = ref(llr)
        t_ref += time.perf_counter() - t
        e_new += int((got != u).any(dim=1).sum())
        e_ref += int((want != u).any(dim=1).sum())
        same += int((no_et(llr) == want).all(dim=1).sum())
        blocks += nb
    return {"k": lay.k, "n": lay.n, "qam": qam, "rate": rate, "es_n0_db": es_n0, "blocks": blocks,
            "errors_semcom": e_new, "errors_sionna": e_ref, "bler_semcom": e_new / blocks, "bler_sionna": e_ref / blocks,
            "ci_semcom": wilson(e_new, blocks), "ci_sionna": wilson(e_ref, blocks), "bit_equal_blocks": same,
            "mean_iterations": its / blocks, "ms_per_block_semcom": 1e3 * t_new / blocks, "ms_per_block_sionna": 1e3 * t_ref / blocks}


def snr_at_bler(snrs: list[float], blers: list[float], target: float = 0.1) -> float | None:
    """Es/N0 where the BLER curve crosses ``target`` (log-BLER interpolated between grid points)."""
    for (s0, b0), (s1, b1) in zip(zip(snrs, blers), zip(snrs[1:], blers[1:])):
        if b0 >= target > b1:
            if b1 <= 0:
                return s1
            return s0 + (math.log(b0) - math.log(target)) / (math.log(b0) - math.log(b1)) * (s1 - s0)
    return None


def minsum_loss(blocks: int, seed: int, iterations: int = 20, grid=None) -> dict:
    """Es/N0 at BLER 0.1 of bp, minsum, offset_minsum (QPSK 1/2, n = 4096) and the min-sum losses in dB."""
    from semcom.fec.ldpc import LDPCBlockCode
    from semcom.fec.ldpc_bp import NumbaLDPC5GDecoder
    from semcom.randomness import generator

    grid = list(np.round(np.arange(0.8, 2.61, 0.1), 2)) if grid is None else grid
    code = LDPCBlockCode(0.5, 2, 4096, iterations, decoder="bp")
    enc = code._code(2048, 4096)[0]
    decs = {name: NumbaLDPC5GDecoder(enc, iterations, cn_update=rule)
            for name, rule in (("bp", "boxplus"), ("minsum", "minsum"), ("offset_minsum", "offset-minsum"))}
    curves = {name: [] for name in decs}
    for i, s in enumerate(grid):
        u, llr = _llrs(enc, 2, float(s), blocks, generator(seed + i))
        for name, d in decs.items():
            curves[name].append(float((d(llr) != u).any(dim=1).float().mean()))
    at = {name: snr_at_bler(grid, c) for name, c in curves.items()}
    loss = {name: (None if at[name] is None or at["bp"] is None else at[name] - at["bp"]) for name in decs}
    return {"grid_db": [float(s) for s in grid], "bler": curves, "es_n0_at_bler_0.1": at, "loss_db": loss, "blocks_per_point": blocks}


def markdown(results: list[dict], ms: dict | None) -> str:
    lines = ["| MCS | k, n | Es/N0 (dB) | blocks | errors Sionna | BLER Sionna [95 % CI] | errors semcom | BLER semcom [95 % CI] | bits equal, ET off | mean iterations |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ci_r, ci_n = r["ci_sionna"], r["ci_semcom"]
        lines.append(f"| {r['label']} | {r['k']}, {r['n']} | {r['es_n0_db']:g} | {r['blocks']} | {r['errors_sionna']} | "
                     f"{r['bler_sionna']:.3g} [{ci_r[0]:.3g}, {ci_r[1]:.3g}] | {r['errors_semcom']} | "
                     f"{r['bler_semcom']:.3g} [{ci_n[0]:.3g}, {ci_n[1]:.3g}] | {r['bit_equal_blocks']}/{r['blocks']} | {r['mean_iterations']:.1f} |")
    tot = sum(r["blocks"] for r in results)
    eq = sum(r["bit_equal_blocks"] for r in results)
    lines.append("")
    lines.append(f"Bit equality with early termination off: {eq}/{tot} blocks ({100 * eq / max(tot, 1):.2f} %).")
    if ms:
        lines.append("")
        lines.append("| decoder | Es/N0 at BLER 0.1 (dB) | loss vs bp (dB) |")
        lines.append("|---|---|---|")
        for name, at in ms["es_n0_at_bler_0.1"].items():
            loss = ms["loss_db"][name]
            lines.append(f"| {name} | {'-' if at is None else f'{at:.2f}'} | {'-' if loss is None else f'{loss:.2f}'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m semcom.tools.ldpc_decoder", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="128 blocks per point, 200 per min-sum grid point")
    p.add_argument("--batch", type=int, default=128, help="blocks per decoding call")
    p.add_argument("--max-blocks", type=int, default=4096, help="most blocks per point")
    p.add_argument("--errors", type=int, default=100, help="stop a point once both decoders have this many block errors")
    p.add_argument("--minsum-blocks", type=int, default=1000, help="blocks per Es/N0 of the min-sum sweep (0 skips it)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if a.quick:
        a.max_blocks, a.minsum_blocks = min(a.max_blocks, 128), min(a.minsum_blocks, 200)
    import numba

    torch.set_num_threads(a.threads)
    numba.set_num_threads(min(a.threads, numba.config.NUMBA_NUM_THREADS))
    t0 = time.perf_counter()
    results = []
    for label, rate, qam, snrs in POINTS:
        for i, s in enumerate(snrs):
            r = compare(rate, qam, s, batch=a.batch, max_blocks=a.max_blocks, errors=a.errors, seed=a.seed + 100 * i + qam)
            r["label"] = label
            results.append(r)
            print(f"{label} Es/N0 {s:g} dB: {r['blocks']} blocks, errors Sionna {r['errors_sionna']} semcom {r['errors_semcom']}, "
                  f"bits equal (ET off) {r['bit_equal_blocks']}/{r['blocks']}, iterations {r['mean_iterations']:.1f}, "
                  f"ms/block {r['ms_per_block_semcom']:.2f} vs {r['ms_per_block_sionna']:.1f}", flush=True)
    ms = minsum_loss(a.minsum_blocks, a.seed + 7) if a.minsum_blocks else None
    print()
    print(markdown(results, ms))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s, threads {a.threads}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({"settings": vars(a), "points": results, "minsum": ms,
                                            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
