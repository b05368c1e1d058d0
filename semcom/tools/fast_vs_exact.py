"""LDPC fast mode against exact decoding on the same sweep: ``python -m semcom.tools.fast_vs_exact <results>...``.

``<results>``: run or sweep folders (or ``results.parquet`` files, rows pooled) that hold rows of a digital chain
with exact BP decoding (``decoder=exact``, e.g. ``bpg_ldpc_best``) and of the same chain in fast
mode (``<name>_abstraction``), on the same images, channels and SNR points: e.g. ::

    python -m semcom.run experiment=deepjscc_vs_bpg_ldpc/full dataset.limit=6 \\
        hydra.sweeper.params.pipeline=bpg_ldpc_best,bpg_ldpc_best_abstraction hydra.sweep.dir=DIR
    python -m semcom.tools.fast_vs_exact DIR

Per (pipeline, channel, ratio, SNR): the mean of ``--metric`` (default PSNR) over the images with
exact and with fast decoding, their difference (fast minus exact), the image failure rates and
the MCS each chose. With common random numbers (fading from the same generators) and perfect CSI
the two differ only through block errors: the abstraction samples them from BLER tables measured
with the same decoder. Prints the table and writes ``fast_vs_exact.csv`` beside the results.

Near a scheme's cliff both modes are samples: one image lost of 24 moves a point's mean by the
image's drop over 24 (about 0.8 dB on Kodak at 16-QAM 1/2). So each AWGN point also gets
``lost_expected``, the number of images the BLER table predicts lost at the exact rows' MCS,
sum over images of 1 - (1 - BLER(SNR))^(code blocks), with its Poisson-binomial standard
deviation ``lost_sd``: exact decoding's ``lost_exact`` should fall within a few ``lost_sd`` of it
(that checks the table and its sampling rule against decoding that never saw the table).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from semcom.errors import SemcomError
from semcom.report.outputs import collect

SUFFIX = "_abstraction"


def compare(df: pd.DataFrame, metric: str = "psnr") -> pd.DataFrame:
    """One row per (pipeline, channel, ratio, snr_db) present in both modes; see the module docstring."""
    if metric not in df.columns:
        raise SemcomError(f"no column {metric!r} in the results: choose one of the metric columns")
    fast_names = sorted(p for p in df.pipeline.unique() if p.endswith(SUFFIX) and p[: -len(SUFFIX)] in set(df.pipeline))
    if not fast_names:
        raise SemcomError("no pipeline is there in both modes: run <name> (decoder=exact) and <name>_abstraction on the same points")
    keys = ["channel", "ratio", "snr_db"]
    rows = []
    for fast_name in fast_names:
        exact_name = fast_name[: -len(SUFFIX)]
        e = df[df.pipeline == exact_name].set_index([*keys, "image"])
        f = df[df.pipeline == fast_name].set_index([*keys, "image"])
        both = e.index.intersection(f.index)
        if not len(both):
            continue
        e, f = e.loc[both], f.loc[both]
        for point, eg in e.groupby(level=keys):
            fg = f.loc[eg.index]
            expected, sd = expected_losses(eg, point[0], point[2])
            rows.append({
                "pipeline": exact_name,
                **dict(zip(keys, point)),
                "images": len(eg),
                f"{metric}_exact": eg[metric].mean(),
                f"{metric}_fast": fg[metric].mean(),
                "diff": fg[metric].mean() - eg[metric].mean(),
                "failed_exact": eg.failed.mean(),
                "failed_fast": fg.failed.mean(),
                "lost_exact": int(eg.failed.sum()),
                "lost_fast": int(fg.failed.sum()),
                "lost_expected": expected,
                "lost_sd": sd,
                "mcs_exact": _mcs(eg),
                "mcs_fast": _mcs(fg),
            })
    if not rows:
        raise SemcomError("the exact and fast rows share no (image, channel, ratio, SNR) point")
    return pd.DataFrame(rows)


def expected_losses(rows: pd.DataFrame, channel: str, snr_db: float) -> tuple[float, float]:
    """(mean, sd) of the number of ``rows`` (images sent over AWGN at ``snr_db``) that the shipped
    BLER tables predict lost at each row's MCS and code-block count; NaN for other channels (their
    block SNRs are not in the rows) or rows without an MCS."""
    if channel != "awgn" or "qam" not in rows.columns or rows.qam.isna().any():
        return math.nan, math.nan
    probs = []
    for qam, rate, blocks in zip(rows.qam, rows.code_rate, rows.codewords):
        curve = _curve_for(int(qam), float(rate))
        bler = float(curve.bler([snr_db])[0])
        probs.append(1.0 - (1.0 - bler) ** int(blocks))
    return float(sum(probs)), math.sqrt(sum(p * (1 - p) for p in probs))


def _curve_for(qam: int, rate: float):
    """The shipped LDPC AWGN curve of this QAM order whose k/n is nearest ``rate``."""
    from semcom.fec.abstraction.curves import TABLE_DIR, _curves

    curves = [c for c, _ in _curves(str(TABLE_DIR)).values() if c.qam == qam and c.channel == "awgn"]
    if not curves:
        raise SemcomError(f"no shipped BLER curve for {qam}-QAM")
    return min(curves, key=lambda c: abs(c.k / c.n - rate))


def _mcs(g: pd.DataFrame) -> str:
    if "qam" not in g.columns or g.qam.isna().all():
        return ""
    pairs = sorted({(int(q), float(r)) for q, r in zip(g.qam, g.code_rate) if pd.notna(q)})
    return "; ".join(f"{q}-QAM r={r:.3g}" for q, r in pairs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m semcom.tools.fast_vs_exact", description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", help="run or sweep folders, or results.parquet files (their rows are pooled: "
                                              "exact rows may come from one sweep and fast rows from another)")
    p.add_argument("--metric", default="psnr")
    a = p.parse_args(argv)
    sources = [Path(r) for r in a.results]
    try:
        df = pd.concat([pd.read_parquet(s) if s.suffix == ".parquet" else collect(s) for s in sources], ignore_index=True)
        table = compare(df, a.metric)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    src = sources[0]
    out = (src.parent if src.suffix == ".parquet" else src) / "fast_vs_exact.csv"
    table.to_csv(out, index=False, float_format="%.4f")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nlargest |diff| of {a.metric}: {table['diff'].abs().max():.3f}; written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
