"""Block error rate tables measured by semcom, and the link abstraction that samples from them.

A table file (JSON, ``semcom/fec/abstraction/tables/*.json``) holds BLER curves measured with exact
decoding by :mod:`semcom.fec.abstraction.measure`: for one code family (``ldpc``), decoder setting
(BP iterations), channel kind (``awgn``) and code block (k info bits with the CRC24A, n coded bits,
QAM order), the number of blocks decoded and the number of block errors at each SNR (Es/N0 per
complex symbol, dB) of a grid, with a 95 % Wilson interval. A block error is a CRC failure or
decoded bits that differ from those sent (undetected errors are counted too).

**Sampling (fast mode).** Given a code block's effective SNR (the receiver's post-equaliser
Es/N0 of that block, which is constant over the block for AWGN and for block fading with perfect
CSI), the block fails with probability BLER(SNR): the curve is interpolated linearly in
log10(BLER) between measured points with at least one error; beyond the last such point it
continues with the slope of the last two points (the waterfall goes on), never above the 95 %
Wilson upper bound of any error-free point at or below that SNR (0 errors in N blocks at s0
bounds BLER at every SNR >= s0); below the grid it is the first point's value (1 at the grid's
start). A curve whose last two error points do not fall (a step: BLER 1 up to a cliff) stays at
its last value up to its first error-free point and is 0 from there. This is sampling rule 2 (``RULE_VERSION``); rule 1 set the BLER to 0
from the first error-free point, which underestimates the tail (at 0.33 dB past a scheme's
BLER-1 % point 0/2000 blocks were seen in the table, 1 in 1728 in exact decoding of Kodak; rule 2
gives 6.5e-4 there). The rule is part of the table name in the pipeline parameters
(``ldpc_awgn.json@v1/rule2``), so rows sampled under different rules never share a store.

Rayleigh block fading with perfect CSI is exactly the AWGN case at the block's own SNR |h|^2 SNR
(the ZF output is x + n/h), so the AWGN table serves both.

Tables are read from ``$SEMCOM_BLER_TABLES`` (a folder, searched first) and the shipped folder.
Table keys are exact: ``(code, iterations, k, n, qam)``; a block size or MCS without a curve is
an error that names the command measuring it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from semcom.errors import SemcomError

#: Folder of the tables that ship with semcom.
TABLE_DIR = Path(__file__).with_name("tables")
#: Version of the table format (and of the measurement procedure); stored in every file.
TABLE_VERSION = 1
#: Version of the sampling rule (interpolation and tail) applied to the tables; see the module docstring.
RULE_VERSION = 2
BUILD_HINT = "python -m semcom.fec.abstraction.measure --mcs-table compact --codeword-bits 4096"


def wilson(errors: int, blocks: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``errors / blocks``."""
    if blocks <= 0:
        return 0.0, 1.0
    p = errors / blocks
    d = 1 + z * z / blocks
    c = (p + z * z / (2 * blocks)) / d
    h = z * math.sqrt(p * (1 - p) / blocks + z * z / (4 * blocks * blocks)) / d
    return max(0.0, c - h), min(1.0, c + h)


@dataclass
class BlerCurve:
    """Measured BLER of one code block over an SNR grid.

    ``snr_db`` (P,) ascending; ``blocks`` and ``errors`` (P,) counts at each point.
    """

    code: str
    iterations: int
    k: int
    n: int
    qam: int
    channel: str
    snr_db: np.ndarray
    blocks: np.ndarray
    errors: np.ndarray
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return (self.code, self.iterations, self.k, self.n, self.qam, self.channel)

    @property
    def bler_points(self) -> np.ndarray:
        return self.errors / np.maximum(self.blocks, 1)

    def bler(self, snr_db) -> np.ndarray:
        """Interpolated BLER at ``snr_db`` (array-like, dB); see the module docstring."""
        s = np.asarray(snr_db, dtype=np.float64)
        p = self.bler_points
        nz = np.flatnonzero(self.errors > 0)
        if nz.size == 0:
            return np.zeros_like(s)
        xs, ys = self.snr_db[nz], np.log10(p[nz])
        out = np.interp(s, xs, ys, left=ys[0])
        last = xs[-1]
        slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) if nz.size >= 2 else -np.inf
        step = not slope < 0  # flat last points (BLER 1 up to a cliff): no waterfall to continue
        beyond = s > last
        with np.errstate(invalid="ignore"):
            out = np.where(beyond, ys[-1] + (0.0 if step else slope) * (np.maximum(s, last) - last), out)
        res = np.power(10.0, out)
        for at in np.flatnonzero((self.snr_db > last) & (self.errors == 0)):
            bound = 0.0 if step else wilson(0, int(self.blocks[at]))[1]
            res = np.where(s >= self.snr_db[at], np.minimum(res, bound), res)
        return np.clip(np.nan_to_num(res, nan=0.0), 0.0, 1.0)

    def snr_at(self, bler: float) -> float:
        """SNR (dB) where the interpolated curve crosses ``bler`` (bisection on a 0.001 dB grid)."""
        grid = np.arange(self.snr_db[0] - 1, self.snr_db[-1] + 1, 0.001)
        vals = self.bler(grid)
        below = np.flatnonzero(vals <= bler)
        return float(grid[below[0]]) if below.size else float("nan")

    def to_json(self) -> dict:
        lo_hi = [wilson(int(e), int(b)) for e, b in zip(self.errors, self.blocks)]
        return {
            "code": self.code, "iterations": self.iterations, "k": self.k, "n": self.n, "qam": self.qam,
            "rate": self.k / self.n, "channel": self.channel, **self.extra,
            "points": [
                {"snr_db": round(float(s), 4), "blocks": int(b), "errors": int(e), "bler": float(e / max(b, 1)),
                 "ci95": [round(lo, 6), round(hi, 6)]}
                for s, b, e, (lo, hi) in zip(self.snr_db, self.blocks, self.errors, lo_hi)
            ],
        }

    @classmethod
    def from_json(cls, d: dict) -> "BlerCurve":
        pts = sorted(d["points"], key=lambda p: p["snr_db"])
        known = {"code", "iterations", "k", "n", "qam", "rate", "channel", "points"}
        return cls(d["code"], int(d["iterations"]), int(d["k"]), int(d["n"]), int(d["qam"]), d["channel"],
                   np.array([p["snr_db"] for p in pts], dtype=np.float64),
                   np.array([p["blocks"] for p in pts], dtype=np.int64),
                   np.array([p["errors"] for p in pts], dtype=np.int64),
                   {k: v for k, v in d.items() if k not in known})


def load_table_file(path: str | Path) -> tuple[dict, list[BlerCurve]]:
    """(metadata, curves) of one table file; raises SemcomError on a wrong version."""
    data = json.loads(Path(path).read_text())
    if data.get("version") != TABLE_VERSION:
        raise SemcomError(f"BLER table {path} has version {data.get('version')!r}, semcom reads version {TABLE_VERSION}: "
                          f"rebuild it with {BUILD_HINT}")
    return {k: v for k, v in data.items() if k != "curves"}, [BlerCurve.from_json(c) for c in data["curves"]]


@lru_cache(maxsize=None)
def _curves(folder: str) -> dict[tuple, tuple[BlerCurve, str]]:
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        meta, curves = load_table_file(path)
        for c in curves:
            out[c.key] = (c, f"{path.name}@v{meta['version']}/rule{RULE_VERSION}")
    return out


def table_folders() -> list[Path]:
    """Folders searched for tables, first match wins: ``$SEMCOM_BLER_TABLES`` (if set), then the shipped ones."""
    extra = os.environ.get("SEMCOM_BLER_TABLES")
    return ([Path(extra).expanduser()] if extra else []) + [TABLE_DIR]


def find_curve(code: str, iterations: int, k: int, n: int, qam: int, channel: str = "awgn") -> tuple[BlerCurve, str]:
    """The curve for one code block and the name of its table and sampling rule
    (``file@vN/ruleM``), or SemcomError."""
    key = (code, int(iterations), int(k), int(n), int(qam), channel)
    found = None
    for folder in table_folders():
        found = _curves(str(folder)).get(key)
        if found is not None:
            break
    if found is None:
        folder = " or ".join(str(f) for f in table_folders())
        raise SemcomError(
            f"no BLER table for {code} k={k} n={n} {qam}-QAM {iterations} iterations ({channel}) in {folder}: "
            f"measure it with {BUILD_HINT} (add --mcs/--codeword-bits for other schemes), or use pipeline.decoder=exact")
    return found


def block_snr_db(snr_eff: torch.Tensor, symbols_per_block: int, count: int, what: str) -> torch.Tensor:
    """Per code block effective SNR (dB) from per-symbol effective SNR (linear) of one image.

    ``snr_eff`` (L,) linear Es/N0 after equalisation; the first ``count * symbols_per_block``
    symbols carry the blocks in order. The abstraction needs the SNR constant over each block
    (AWGN, block fading whose coherence covers the block); otherwise SemcomError.
    """
    s = snr_eff[: count * symbols_per_block].reshape(count, symbols_per_block).double()
    lo, hi = s.min(1).values, s.max(1).values
    if bool(((hi - lo) > 1e-4 * hi.abs().clamp_min(1e-30)).any()):
        raise SemcomError(f"pipeline.decoder=abstraction needs the channel constant over each code block, which {what} is not "
                          "(fast fading, short coherence or OFDM): use pipeline.decoder=exact")
    # rounded to 1e-4 dB: float32 noise variances must not move a block across a grid point
    return torch.round(10.0 * torch.log10(s[:, 0].clamp_min(1e-30)) * 1e4) / 1e4


__all__ = ["BUILD_HINT", "TABLE_DIR", "table_folders", "TABLE_VERSION", "BlerCurve", "block_snr_db", "find_curve", "load_table_file", "wilson"]
