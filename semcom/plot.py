"""Command line for figures: curves from a results table, and the grid of saved reconstructions.

    python -m semcom.plot <results.parquet | run dir | multirun dir> [--out DIR] [--metrics psnr ssim]
                          [--ci auto|t|bootstrap|none] [--names bpg_ldpc_best='BPG + LDPC' ...]
                          [--pipelines a b] [--channels awgn] [--ylim psnr=20,40] [--reference auto | NAME ... | none]
    python -m semcom.plot grid <run dir | multirun dir> --image kodim23 [--snr 1 7 13] [--channel awgn]
                          [--ratio 1/16] [--pipelines a b] [--names a='A'] [--out DIR]

A redraw takes the figure options the run was configured with (its ``plot`` section, stored in
every row's config); flags given here win. The figures: :mod:`semcom.report.figures` (curves),
:mod:`semcom.report.grid` (reconstructions), :mod:`semcom.report.style` (names, colours, sizes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semcom.errors import SemcomError
from semcom.report.figures import plot_results, references_in_table  # noqa: F401  (the public figure API)
from semcom.report.grid import plot_reconstruction_grid
from semcom.report.outputs import load_results, options_in_table
from semcom.report.style import save_figure
from semcom.report.summary import CI_METHODS


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SemcomError(f"{flag} {item!r}: write NAME=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip().strip("'\"")
    return out


def _limits(text: str) -> list[float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise SemcomError(f"--ylim value {text!r}: write METRIC=LOW,HIGH, e.g. psnr=20,40") from None
    return [lo, hi]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # noqa: D102
        self.exit(2, f"error: {message}: see python -m semcom.plot --help\n")


def _main_grid(argv: list[str]) -> int:
    p = _Parser(prog="python -m semcom.plot grid", description="Grid of saved reconstructions (reference, pipelines x SNRs).")
    p.add_argument("folder", help="run or multirun folder (where save_reconstructions wrote reconstructions/)")
    p.add_argument("--image", help="image name (default: the only one saved)")
    p.add_argument("--snr", type=float, nargs="+", help="SNR columns, dB (default: up to 5 saved SNRs)")
    p.add_argument("--channel", help="channel (default: the only one saved)")
    p.add_argument("--ratio", help="bandwidth ratio, e.g. 1/16 (default: the only one saved)")
    p.add_argument("--seed", type=int, help="seed (default: the only one saved)")
    p.add_argument("--pipelines", nargs="+", help="rows, in this order (default: all saved)")
    p.add_argument("--metric", default="psnr", help="metric in the captions (default psnr)")
    p.add_argument("--names", nargs="+", metavar="PIPELINE=LABEL", help="row labels, e.g. bpg_ldpc_best='BPG + LDPC'")
    p.add_argument("--out", help="folder for the figure (default: FOLDER/figures)")
    args = p.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        raise SemcomError(f"{folder} is not a folder: give the run or multirun folder that holds reconstructions/")
    fig, choice = plot_reconstruction_grid(folder, args.image, args.snr, args.channel, args.ratio, args.pipelines, args.seed, args.metric,
                                           _pairs(args.names, "--names"))
    out = Path(args.out) if args.out else folder / "figures"
    stem = str(choice["image"]).rsplit(".", 1)[0].replace("/", "-")
    for path in save_figure(fig, out / f"reconstructions_{stem}_{choice['channel']}_rho{choice['ratio']:.6g}"):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] == "grid":
            return _main_grid(argv[1:])
        parser = _Parser(prog="python -m semcom.plot", description="Curve figures from a results table (see also: grid).")
        parser.add_argument("results", help="results.parquet, a run folder or a multirun folder")
        parser.add_argument("--out", help="folder for the figures (default: <results folder>/figures)")
        parser.add_argument("--metrics", nargs="+", help="metrics to plot (default: all metric columns)")
        parser.add_argument("--reference", nargs="+", metavar="NAME",
                            help="published curves to overlay: curve names or source keys (python -m semcom.published), "
                                 "'auto' (every curve that fits a panel), or 'none' (default: the run's plot.references)")
        parser.add_argument("--ci", choices=CI_METHODS, help="confidence band: auto (t from 5 images on), t, bootstrap, none "
                                                            "(default: the run's plot.ci)")
        parser.add_argument("--names", nargs="+", metavar="PIPELINE=LABEL", help="legend labels, e.g. bpg_ldpc_best='BPG + LDPC'")
        parser.add_argument("--pipelines", nargs="+", help="pipelines to draw, in legend order (default: all)")
        parser.add_argument("--channels", nargs="+", help="channels (panels) to draw, in order (default: all)")
        parser.add_argument("--ylim", nargs="+", metavar="METRIC=LOW,HIGH", help="y range per metric, e.g. psnr=20,40")
        args = parser.parse_args(argv)
        df = load_results(args.results)
        src = Path(args.results)
        out = Path(args.out) if args.out else (src.parent if src.is_file() else src) / "figures"
        stored = options_in_table(df)
        references = args.reference if args.reference is not None else stored.pop("references", None)
        stored.pop("references", None)
        given = {"ci": args.ci, "names": _pairs(args.names, "--names"), "pipelines": args.pipelines, "channels": args.channels,
                 "ylim": {k: _limits(v) for k, v in _pairs(args.ylim, "--ylim").items()}}
        options = {**stored, **{k: v for k, v in given.items() if v}}
        for p in plot_results(df, out, args.metrics, references, **options):
            print(p)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
