"""Command line over result stores: merge the jobs of a sweep, print a summary.

    python -m semcom.results merge <multirun dir> [--out DIR] [--no-plots]
    python -m semcom.results summary <results.parquet | run dir | multirun dir> [--metrics ...] [--csv FILE]

The store is :mod:`semcom.store` (rows, keys, features, reconstructions); merging, summaries and
figures are :mod:`semcom.report`. Result table schema (one row per image x pipeline x channel x
SNR x ratio x seed x realization):

    dataset, image, pipeline, checkpoint, channel, snr_db, ratio, seed, realization   (human key)
    row_id, key_version, dataset_id, image_id, pipeline_id, channel_id, setup_id      (identity)
    bits          source bits sent (codec file size; 0 for analog JSCC or a lost image)
    channel_uses  complex channel uses spent
    bpp           bits / (H * W)
    ratio_used    channel_uses / (3 * H * W)
    failed        the image was lost; the reconstruction is the fallback
    height, width
    <metric>      one column per metric value (and companions such as vitscore_p)
    extras        per pipeline (its ``extra_columns``): quality, codec, code, code_rate, qam, ...
    pilot_uses    channel uses spent on pilots (csi=ls), not counted in channel_uses / ratio_used;
                  OFDM channels add padding_uses and cp_uses
    pipeline_label, bound                       how figures draw the pipeline
    pipeline_params, channel_params, config     JSON of the settings that produced the row
    metric_ids, metric_info                     JSON: each metric's identity, and its declaration
    device        the torch device that computed the row (cpu, cuda:2, ...)
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from semcom.errors import SemcomError
from semcom.report.outputs import load_results, merge, write_table
from semcom.report.summary import CONFIDENCE, format_summary, summarize


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``error: ...``, exit status 2)."""

    def error(self, message):  # noqa: D102
        self.exit(2, f"error: {message}: see python -m semcom.results --help\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m semcom.results", description="Merge and summarise semcom result stores.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    m = sub.add_parser("merge", help="merge the jobs of a multirun folder into one table, summary and figures")
    m.add_argument("folder", help="multirun folder (hydra.sweep.dir) or run folder")
    m.add_argument("--out", help="write into this folder instead of FOLDER")
    m.add_argument("--no-plots", action="store_true", help="write the table and summary only")
    s = sub.add_parser("summary", help=f"mean and {CONFIDENCE * 100:.0f} %% Student-t confidence interval per point")
    s.add_argument("results", help="results.parquet, a run folder or a multirun folder")
    s.add_argument("--metrics", nargs="+", help="metrics to show (default: all)")
    s.add_argument("--csv", help="also write the full summary table to this CSV file")
    args = parser.parse_args(argv)
    try:
        if args.command == "merge":
            written = merge(args.folder, args.out, plots=not args.no_plots)
            n = len(pd.read_parquet(written["results"]))
            print(f"{n} rows\nresults: {written['results']}\nsummary: {written['summary']}")
        else:
            df = load_results(args.results)
            summary = summarize(df)
            print(format_summary(summary, args.metrics))
            if args.csv:
                print(f"summary: {write_table(summary, args.csv)}")
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
