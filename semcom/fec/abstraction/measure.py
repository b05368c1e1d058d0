"""Measure BLER tables with exact decoding: ``python -m semcom.fec.abstraction.measure [options]``.

For each MCS of ``--mcs-table`` (or ``--mcs rate,qam`` given one or more times) and the code block
that :class:`semcom.fec.ldpc.LDPCBlockCode` uses for ``--codeword-bits`` (n = the largest
multiple of the QAM bits per symbol m not above it, k = round(n r) with the CRC24A), blocks of
random payload go through the same transmitter and receiver as the chain: CRC24A, Sionna
``LDPC5GEncoder`` (with its 5G interleaver for m), Sionna Gray QAM mapper (unit energy), AWGN at
Es/N0 = SNR (complex noise of variance N0 = 10^(-SNR/10)), Sionna "app" demapper given N0,
``LDPC5GDecoder`` (``--iterations`` BP iterations), CRC check. A block error is a CRC failure or
decoded payload bits that differ from those sent.

SNR grid: from the Shannon limit of the scheme (10 log10(2^(r m) - 1), rounded down to the step)
upwards in ``--step`` dB (twice that while every block fails) until a point shows BLER <= ``--min-bler`` or no error at all. At each
point blocks are decoded in batches of ``--batch`` until ``--target-errors`` errors or
``--max-blocks`` blocks. The output (``--out``, default the shipped table under
``semcom/fec/abstraction/tables/``) records every point's blocks, errors and 95 % Wilson interval,
the seed and the settings; curves already in the file for other schemes are kept, and a scheme
measured again adds to its curve (counts at the same SNR are summed: use another ``--seed``).
``--snr 1.375 1.5`` measures exactly those points (to refine the waterfall where it matters).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import time
from pathlib import Path

import torch
from sionna.phy.mapping import Demapper, Mapper

from semcom.fec.abstraction.curves import TABLE_DIR, TABLE_VERSION, BlerCurve
from semcom.fec.mcs import MCS, mcs_table, parse_rate, qam_bits
from semcom.fec.blockcode import BlockLayout
from semcom.fec.ldpc import LDPCBlockCode

import numpy as np


def measure_point(code: LDPCBlockCode, mapper, demapper, layout: BlockLayout, snr_db: float, gen: torch.Generator,
                  batch: int, target_errors: int, max_blocks: int) -> tuple[int, int]:
    """(blocks, errors) at one SNR: batches of ``batch`` blocks until ``target_errors`` or ``max_blocks``."""
    n0 = 10.0 ** (-snr_db / 10.0)
    blocks = errors = 0
    k_pay = layout.k - 24
    while errors < target_errors and blocks < max_blocks:
        b = min(batch, max_blocks - blocks)
        payload = torch.randint(0, 2, (b, k_pay), generator=gen).float()
        lay = BlockLayout(layout.k, layout.n, b)
        coded = code.encode(payload.reshape(-1), lay)
        x = mapper(coded.reshape(b, -1))
        noise = torch.complex(torch.randn(x.shape, generator=gen), torch.randn(x.shape, generator=gen)) * math.sqrt(n0 / 2)
        llr = demapper(x + noise, torch.tensor(n0))
        got, ok = code.decode_batch(llr.reshape(b, layout.n), layout.k, layout.n)
        bad = (~ok) | (got != payload).any(1)
        blocks += b
        errors += int(bad.sum())
    return blocks, errors


def measure_curve(mcs: MCS, codeword_bits: int, iterations: int, step: float, batch: int, target_errors: int,
                  max_blocks: int, min_bler: float, seed: int, start_db: float | None = None, log=print,
                  snr_points: list[float] | None = None) -> BlerCurve:
    m = mcs.bits_per_symbol
    code = LDPCBlockCode(mcs.rate, m, codeword_bits, iterations)
    layout = code.layout(codeword_bits)
    kind = "pam" if m == 1 else "qam"
    mapper, demapper = Mapper(kind, m), Demapper("app", kind, m)
    gen = torch.Generator().manual_seed(seed)
    shannon = 10 * math.log10(2 ** (layout.k / layout.n * m) - 1)
    snr = math.floor(shannon / step) * step if start_db is None else start_db
    pts = []
    todo = list(snr_points or [])
    if todo:
        snr = todo.pop(0)
    while True:
        t = time.perf_counter()
        blocks, errors = measure_point(code, mapper, demapper, layout, snr, gen, batch, target_errors, max_blocks)
        pts.append((snr, blocks, errors))
        log(f"  {mcs.label} k={layout.k} n={layout.n}: {snr:6.2f} dB  {errors:5d}/{blocks:5d}  BLER {errors / blocks:.2e}  ({time.perf_counter() - t:.1f} s)")
        if snr_points:
            if not todo:
                break
            snr = todo.pop(0)
            continue
        if errors == 0 or errors / blocks <= min_bler or snr > shannon + 15:
            break
        snr = round(snr + (2 * step if errors == blocks else step), 6)  # coarser above the cliff
    return BlerCurve("ldpc", iterations, layout.k, layout.n, mcs.qam, "awgn",
                     np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), np.array([p[2] for p in pts]),
                     {"shannon_limit_db": round(shannon, 4), "seed": seed})


def write_table(path: Path, curves: list[BlerCurve], settings: dict) -> None:
    """Merge ``curves`` into the table file at ``path`` (same key: replaced)."""
    old = {}
    if path.is_file():
        data = json.loads(path.read_text())
        if data.get("version") == TABLE_VERSION:
            old = {BlerCurve.from_json(c).key: c for c in data["curves"]}
    for c in curves:
        if c.key in old:  # add to what is there: counts at the same SNR are summed (independent seeds)
            prev = BlerCurve.from_json(old[c.key])
            pts = {round(float(s), 4): [int(b), int(e)] for s, b, e in zip(prev.snr_db, prev.blocks, prev.errors)}
            for s_, b, e in zip(c.snr_db, c.blocks, c.errors):
                cur = pts.setdefault(round(float(s_), 4), [0, 0])
                cur[0] += int(b)
                cur[1] += int(e)
            grid = sorted(pts)
            c = BlerCurve(c.code, c.iterations, c.k, c.n, c.qam, c.channel, np.array(grid), np.array([pts[g][0] for g in grid]),
                          np.array([pts[g][1] for g in grid]), {**prev.extra, **c.extra})
            runs = list(prev.extra.get("runs", [prev.extra.get("settings")] if prev.extra.get("settings") else [])) + [settings]
            old[c.key] = {**c.to_json(), "settings": settings, "runs": runs}
        else:
            old[c.key] = {**c.to_json(), "settings": settings}  # each curve keeps the settings it was measured with
    out = {
        "version": TABLE_VERSION,
        "what": "block error rate of 5G LDPC + CRC24A code blocks with exact BP decoding (semcom.fec.abstraction.measure)",
        "snr": "Es/N0 per complex symbol, dB",
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": settings,
        "curves": sorted(old.values(), key=lambda c: (c["qam"], c["rate"], c["n"])),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m semcom.fec.abstraction.measure", description=__doc__.splitlines()[0])
    p.add_argument("--mcs-table", default="compact", help="compact | nr_table1 | nr_table2 (ignored with --mcs)")
    p.add_argument("--mcs", action="append", default=[], help="rate,qam (e.g. 1/2,4); repeatable")
    p.add_argument("--codeword-bits", type=int, default=4096)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--step", type=float, default=0.25, help="SNR grid step, dB")
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--target-errors", type=int, default=100)
    p.add_argument("--max-blocks", type=int, default=4000)
    p.add_argument("--min-bler", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snr", type=float, nargs="*", default=None, help="measure exactly these SNR points (dB) instead of the scan")
    p.add_argument("--out", default=None, help="table file (default: semcom/fec/abstraction/tables/ldpc_awgn.json)")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    schemes = [MCS(parse_rate(s.split(",")[0]), int(s.split(",")[1])) for s in a.mcs] or mcs_table(a.mcs_table)
    for s in schemes:
        qam_bits(s.qam)
    out = Path(a.out) if a.out else TABLE_DIR / "ldpc_awgn.json"
    settings = {k: getattr(a, k) for k in ("codeword_bits", "iterations", "step", "batch", "target_errors", "max_blocks", "min_bler", "seed")}
    settings["torch"] = torch.__version__
    try:
        import sionna

        settings["sionna"] = sionna.__version__
    except Exception:  # pragma: no cover
        pass
    for i, mcs in enumerate(schemes):
        t = time.perf_counter()
        curve = measure_curve(mcs, a.codeword_bits, a.iterations, a.step, a.batch, a.target_errors, a.max_blocks,
                              a.min_bler, a.seed + i, snr_points=a.snr)
        write_table(out, [curve], settings)  # after every scheme, so an interrupted run keeps what it measured
        print(f"{mcs.label}: {len(curve.snr_db)} points in {time.perf_counter() - t:.0f} s -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
