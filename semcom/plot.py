"""Figures from result tables: ``python -m semcom.plot <results.parquet | run dir | multirun dir>``.

One figure per metric against SNR: one panel per channel, one line per pipeline (and ratio when
a table holds several), mean over images with a 95 % confidence band, capacity bounds dashed.
Each figure is written as PNG and vector PDF (fonts embedded as TrueType).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from semcom.errors import SemcomError  # noqa: E402
from semcom.results import load_results, metric_columns  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
plt.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7})

MARKERS = "osD^v<>pXh*"
LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "ms_ssim": "MS-SSIM", "lpips": "LPIPS (alex)", "lpips_vgg": "LPIPS (vgg)",
          "dists": "DISTS", "fid": "FID (biased at small n)", "kid": "KID", "is": "Inception Score"}


def _style(names: list[str]) -> dict[str, dict]:
    """A stable colour and marker per pipeline name, the same in every figure of a table."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {
        name: {"color": colours[i % len(colours)], "marker": MARKERS[i % len(MARKERS)], "linestyle": "--" if "capacity" in name else "-"}
        for i, name in enumerate(sorted(names))
    }


def plot_metrics_vs_snr(df: pd.DataFrame, out_dir: str | Path, metrics: list[str] | None = None) -> list[Path]:
    """Write ``<metric>_vs_snr.png`` and ``.pdf`` for every metric column; return the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = metrics or metric_columns(df)
    df = df.copy()
    several_ratios = df["ratio"].nunique() > 1
    df["_line"] = df["pipeline"] + (df["ratio"].map(lambda r: f" (rho={r:.4g})") if several_ratios else "")
    style = _style(sorted(df["pipeline"].unique()))
    channels = sorted(df["channel"].unique())
    written = []
    for metric in metrics:
        if metric not in df.columns or df[metric].notna().sum() == 0:
            continue
        fig, axes = plt.subplots(1, len(channels), figsize=(3.4 * len(channels), 2.6), squeeze=False, sharey=True)
        for ax, ch in zip(axes[0], channels):
            sub = df[df["channel"] == ch]
            for line, g in sub.groupby("_line"):
                stats = g.groupby("snr_db")[metric].agg(["mean", "std", "count"]).reset_index()
                half = 1.96 * stats["std"].fillna(0) / np.sqrt(stats["count"].clip(lower=1))
                st = style[g["pipeline"].iloc[0]]
                ax.plot(stats["snr_db"], stats["mean"], label=line, lw=1.2, ms=3.5, **st)
                ax.fill_between(stats["snr_db"], stats["mean"] - half, stats["mean"] + half, color=st["color"], alpha=0.15, lw=0)
            ax.set_title(ch)
            ax.set_xlabel("SNR (dB)")
            ax.grid(True, lw=0.3, alpha=0.5)
        axes[0][0].set_ylabel(LABELS.get(metric, metric))
        axes[0][-1].legend(loc="best", frameon=False)
        fig.tight_layout()
        for ext in ("png", "pdf"):
            path = out_dir / f"{metric}_vs_snr.{ext}"
            fig.savefig(path, dpi=200)
            written.append(path)
        plt.close(fig)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.plot", description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.parquet, a run folder or a multirun folder")
    parser.add_argument("--out", help="folder for the figures (default: <results folder>/figures)")
    parser.add_argument("--metrics", nargs="*", help="metrics to plot (default: all metric columns)")
    args = parser.parse_args(argv)
    try:
        df = load_results(args.results)
        src = Path(args.results)
        out = Path(args.out) if args.out else (src.parent if src.is_file() else src) / "figures"
        for p in plot_metrics_vs_snr(df, out, args.metrics):
            print(p)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
