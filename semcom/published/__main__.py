"""``python -m semcom.published``: the published reference curves.

    python -m semcom.published [list] [--dataset kodak] [--channel awgn] [--ratio 1/16] [--snr 10] [--metric psnr] [--x snr_db]
    python -m semcom.published show NAME [NAME ...]     # points, citation, provenance, precision, notes
    python -m semcom.published check FILE [FILE ...]    # validate curve files (e.g. a new one)
"""

from __future__ import annotations

import argparse
import sys

from semcom.errors import SemcomError
from semcom.published import curves_for, load_file, ratio_text, select


def _short_precision(c) -> str:
    return "exact" if c.tolerance == 0 else f"+-{c.tolerance:g}"


def _list(args) -> int:
    curves = curves_for(dataset=args.dataset, channel=args.channel, ratio=args.ratio, metric=args.metric, x=args.x, snr_db=args.snr)
    if not curves:
        print("no published curve matches", file=sys.stderr)
        return 1
    rows = [("name", "kind", "dataset", "channel", "x", "at", "metric", "n", "precision")]
    for c in curves:
        rows.append((c.name, c.kind, c.dataset, c.channel, c.x, c.at, c.metric, str(len(c.points)), _short_precision(c)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    print()
    for key in dict.fromkeys(c.source for c in curves):
        c = next(c for c in curves if c.source == key)
        print(f"{key}: {c.citation.text()}")
    print("\nprecision: +-T = read from a figure to T (metric units); exact = from a table or a result file. "
          "Details: python -m semcom.published show NAME")
    return 0


def _show(args) -> int:
    for c in select(args.names):
        print(f"{c.name}  ({c.label}; {c.method})")
        print(f"  source     {c.citation.text()}")
        print(f"  kind       {c.kind}: " + ", ".join(f"{k}={v}" for k, v in c.provenance.items()))
        print(f"  precision  {c.precision}")
        fixed = f", ratio {ratio_text(c.ratio)}" if c.ratio is not None else (f", {c.snr_db:g} dB" if c.snr_db is not None else "")
        print(f"  curve      {c.dataset}, {c.channel}{fixed}: {c.metric} against {c.x}")
        print("  points     " + ", ".join(f"({x:g}, {y:g})" for x, y in c.points))
        if c.notes:
            print(f"  notes      {c.notes}")
        print(f"  file       {c.file}")
    return 0


def _check(args) -> int:
    for f in args.files:
        curves = load_file(f)
        print(f"{f}: {len(curves)} curves, valid")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m semcom.published", description="Published reference curves (numbers from papers and repositories).")
    sub = parser.add_subparsers(dest="command")
    ls = sub.add_parser("list", help="list the curves (the default)")
    for p in (parser, ls):
        p.add_argument("--dataset")
        p.add_argument("--channel")
        p.add_argument("--ratio", help="e.g. 1/16")
        p.add_argument("--snr", type=float, help="the SNR of curves against the ratio, dB")
        p.add_argument("--metric")
        p.add_argument("--x", choices=("snr_db", "ratio", "bpp"))
    show = sub.add_parser("show", help="points and provenance of curves (names or source keys)")
    show.add_argument("names", nargs="+")
    check = sub.add_parser("check", help="validate curve files")
    check.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            return _show(args)
        if args.command == "check":
            return _check(args)
        return _list(args)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
