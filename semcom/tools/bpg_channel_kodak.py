"""BPG over the channel on Kodak: "BPG + capacity" and the "BPG + LDPC" best-MCS envelope.

``python -m semcom.tools.bpg_channel_kodak --out DIR [--limit N] [--parts capacity envelope]``

Jobs (each an ordinary :func:`semcom.runner.job.run_job`, resumable, in ``DIR/<job>/``):

* ``capacity``: ``pipeline=bpg_capacity channel=awgn dataset=kodak``, rho = 1/16 and 1/12,
  SNR 1..13 dB; a table (mean PSNR and bpp per rho and SNR) and a figure.
* ``envelope``: ``pipeline=bpg_ldpc_best`` (the compact 8-entry MCS table) over AWGN
  and Rayleigh block fading at rho = 1/16 and ``--envelope-snr`` points (``--decoder abstraction``:
  LDPC fast mode, rows ``bpg_ldpc_best_abstraction``, files ``bpg_envelope_abstraction.*``), plus
  ``bpg_capacity`` at the same points and channels; a table (chosen MCS, failure rate, mean PSNR
  beside the bound) and a figure; checks the envelope against the bound at every point.

Equivalent command lines (the same jobs through Hydra)::

    python -m semcom.run pipeline=bpg_capacity dataset=kodak ratio=1/16 snr_db=[1,2,...,13]
    python -m semcom.run pipeline=bpg_ldpc pipeline.mcs=best channel=rayleigh_block dataset=kodak ratio=1/16

Slow on a CPU (HEVC encodes and LDPC decoding): run it with ``nice`` and ``OMP_NUM_THREADS=1``
on a shared machine, and ``SEMCOM_ENCODING_CACHE`` set so that encodings are reused.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from semcom.runner.config import compose  # noqa: E402
from semcom.runner.job import run_job  # noqa: E402

CAPACITY_SNR = list(range(1, 14))
CAPACITY_RATIOS = ("1/16", "1/12")
ENVELOPE_SNR = [-3, -1, 1, 4, 7, 10, 13]
ENVELOPE_RATIO = "1/16"


def _job(out: Path, name: str, overrides: list[str], limit: int | None) -> pd.DataFrame:
    extra = [f"dataset.limit={limit}"] if limit else []
    cfg = compose(["dataset=kodak", "metrics=[psnr,ms_ssim]", "plots=false", *overrides, *extra])
    logging.getLogger(__name__).info("job %s: %s", name, " ".join(overrides + extra))
    return run_job(cfg, out / name, progress=True)


def capacity(out: Path, limit: int | None) -> pd.DataFrame:
    snr = "[" + ",".join(str(s) for s in CAPACITY_SNR) + "]"
    df = pd.concat([_job(out, f"bpg_capacity_awgn_r{r.replace('/', '_')}", ["pipeline=bpg_capacity", "channel=awgn", f"ratio={r}",
                                                                              f"snr_db={snr}"], limit) for r in CAPACITY_RATIOS])
    table = df.groupby(["ratio", "snr_db"]).agg(psnr=("psnr", "mean"), ms_ssim=("ms_ssim", "mean"), bpp=("bpp", "mean"),
                                                 capacity_bpp=("capacity_bits", "mean"), n=("image", "count"), codec=("codec", "first"))
    table["capacity_bpp"] /= 768 * 512
    table = table.reset_index()
    table.to_csv(out / "bpg_capacity_awgn.csv", index=False, float_format="%.4f")
    fig, ax = plt.subplots(figsize=(3.6, 2.7))
    for r, g in table.groupby("ratio"):
        ax.plot(g.snr_db, g.psnr, marker="o", ms=3, lw=1.2, label=f"rho = 1/{round(1 / r)}")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"BPG + capacity, Kodak ({table.n.iloc[0]} images), AWGN", fontsize=8)
    ax.grid(True, lw=0.3)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(out / f"bpg_capacity_awgn.{ext}", dpi=200)
    plt.close(fig)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return table


def envelope(out: Path, limit: int | None, snrs: list[float], decoder: str = "exact") -> pd.DataFrame:
    snr = "[" + ",".join(f"{s:g}" for s in snrs) + "]"
    name = "bpg_ldpc_best" if decoder == "exact" else f"bpg_ldpc_best_{decoder}"
    frames = []
    for ch in ("awgn", "rayleigh_block"):
        common = [f"channel={ch}", f"ratio={ENVELOPE_RATIO}", f"snr_db={snr}"]
        frames.append(_job(out, f"{name}_{ch}", ["pipeline=bpg_ldpc_best", f"pipeline.decoder={decoder}", *common], limit))
        frames.append(_job(out, f"bpg_capacity_{ch}", ["pipeline=bpg_capacity", *common], limit))
    df = pd.concat(frames, ignore_index=True)
    return summarize_envelope(df, out, name)


def summarize_envelope(df: pd.DataFrame, out: Path, name: str = "bpg_ldpc_best") -> pd.DataFrame:
    """Table (chosen MCS, failure rate, mean PSNR beside the bound per channel and SNR) and figure
    of the rows ``name`` (the envelope) and ``bpg_capacity`` of a result table ``df``, written as
    ``out/bpg_envelope[_abstraction].{parquet,csv,png,pdf}``."""
    decoder = "abstraction" if name.endswith("_abstraction") else "exact"
    df = df[df.pipeline.isin([name, "bpg_capacity"])]
    if not (df.pipeline == name).any() or not (df.pipeline == "bpg_capacity").any():
        raise SystemExit(f"need rows of {name} and bpg_capacity in the results")
    tag = "" if decoder == "exact" else f"_{decoder}"
    df.to_parquet(out / f"bpg_envelope{tag}.parquet", index=False)
    rows = []
    for (ch, s), g in df.groupby(["channel", "snr_db"]):
        env, cap = g[g.pipeline == name], g[g.pipeline == "bpg_capacity"]
        rows.append({
            "decoder": decoder,
            "channel": ch, "snr_db": s,
            "mcs": f"{int(env.qam.iloc[0])}-QAM r={env.code_rate.iloc[0]:.3g}",
            "mcs_decoded": int(env.mcs_decoded.iloc[0]),
            "failed_rate": env.failed.mean(),
            "bpp": env.bpp.mean(),
            "psnr_ldpc": env.psnr.mean(),
            "psnr_capacity": cap.psnr.mean(),
            "capacity_bpp": cap.bpp.mean(),
            "below_bound": env.psnr.mean() <= cap.psnr.mean() + 1e-9,
            "n": len(env),
        })
    table = pd.DataFrame(rows)
    table.to_csv(out / f"bpg_envelope{tag}.csv", index=False, float_format="%.4f")
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.7), sharey=True)
    for ax, (ch, g) in zip(axes, table.groupby("channel")):
        ax.plot(g.snr_db, g.psnr_capacity, "--", marker="s", ms=3, lw=1.2, label="BPG + capacity")
        ax.plot(g.snr_db, g.psnr_ldpc, "-", marker="o", ms=3, lw=1.2,
                label="BPG + LDPC (best MCS)" + ("" if decoder == "exact" else f", {decoder}"))
        ax.set_title(f"{ch}, rho = {ENVELOPE_RATIO}, Kodak ({g.n.iloc[0]} images)", fontsize=8)
        ax.set_xlabel("SNR (dB)")
        ax.grid(True, lw=0.3)
    axes[0].set_ylabel("PSNR (dB)")
    axes[0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(out / f"bpg_envelope{tag}.{ext}", dpi=200)
    plt.close(fig)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.tools.bpg_channel_kodak", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation/bpg_channel", help="output folder")
    parser.add_argument("--limit", type=int, default=None, help="first N Kodak images only")
    parser.add_argument("--parts", nargs="*", default=["capacity", "envelope"], choices=["capacity", "envelope"])
    parser.add_argument("--envelope-snr", nargs="*", type=float, default=ENVELOPE_SNR)
    parser.add_argument("--decoder", default="exact", choices=["exact", "abstraction"],
                        help="LDPC decoding of the envelope: exact BP, or the fast mode (BLER tables)")
    parser.add_argument("--from-results", default=None,
                        help="summarise the envelope rows of an existing run or sweep (e.g. the study deepjscc_vs_bpg_ldpc) instead of running jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.from_results:
        from semcom.report.outputs import collect

        name = "bpg_ldpc_best" if args.decoder == "exact" else f"bpg_ldpc_best_{args.decoder}"
        return 0 if bool(summarize_envelope(collect(Path(args.from_results)), out, name).below_bound.all()) else 1
    ok = True
    if "capacity" in args.parts:
        capacity(out, args.limit)
    if "envelope" in args.parts:
        ok = bool(envelope(out, args.limit, args.envelope_snr, args.decoder).below_bound.all())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
