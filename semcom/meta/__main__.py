"""``python -m semcom.meta`` : evaluate metrics.

    python -m semcom.meta correlate --ratings ratings.csv [--metrics psnr,ms_ssim,lpips] [--out DIR]
                                    [--n-boot 1000] [--param sess_lite=fitted.yaml]
    python -m semcom.meta fit sess_lite --ratings ratings.csv [--out fitted.yaml] [--train-fraction 0.7]
                                    [--maxiter 30] [--cache DIR]
    python -m semcom.meta separation multirun/metric_validation/ci      # AUC table + figures of a transform sweep
    python -m semcom.meta agree multirun/metric_agreement/ci [--metrics psnr,ms_ssim,lpips]   # rank agreement between metrics

Errors in the input end with ``error: <what and how to fix>`` and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semcom.errors import SemcomError


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise SemcomError(f"{message} (see python -m semcom.meta --help)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m semcom.meta", description="Evaluate metrics: human-rating agreement, fitted SeSS constants, transform separation.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("correlate", help="SROCC / PLCC (4-parameter logistic) / KROCC with bootstrap CIs against human ratings")
    c.add_argument("--ratings", required=True, help="CSV with columns reference,distorted,score (paths relative to the CSV)")
    c.add_argument("--metrics", default="psnr,ssim,ms_ssim,lpips", help="comma-separated metric names (default: %(default)s)")
    c.add_argument("--out", default=None, help="output folder (default: correlate-<ratings name> in the current folder)")
    c.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default: %(default)s)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--param", action="append", default=[], metavar="METRIC=YAML",
                   help="constants file for a metric, e.g. sess_lite=fitted.yaml (repeatable)")
    c.add_argument("--device", default="cpu")
    c.add_argument("--no-plots", action="store_true")
    f = sub.add_parser("fit", help="fit SeSS's constants (theta, alpha, beta, k1..k3, graph weight) to human ratings")
    f.add_argument("metric", help="sess_lite (or sess where its weights resolve)")
    f.add_argument("--ratings", required=True)
    f.add_argument("--out", default="fitted.yaml", help="YAML to write (default: %(default)s)")
    f.add_argument("--train-fraction", type=float, default=0.7)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--maxiter", type=int, default=30, help="differential-evolution generations (default: %(default)s)")
    f.add_argument("--popsize", type=int, default=8, help="population per parameter (default: %(default)s)")
    f.add_argument("--cache", default=None, help="graph cache folder (default: ~/.cache/semcom/sess_graphs)")
    s = sub.add_parser("separation", help="AUC of preserving vs changing transformations per metric, and figures")
    s.add_argument("folder", help="a pipeline=transform run or sweep folder")
    s.add_argument("--out", default=None, help="output folder (default: the folder itself)")
    s.add_argument("--n-boot", type=int, default=1000)
    a = sub.add_parser("agree", help="rank agreement between the metric columns of a run or sweep (Kendall, Spearman, pipeline order)")
    a.add_argument("folder", help="a run or sweep folder (its results), or a results.parquet")
    a.add_argument("--metrics", default=None, help="comma-separated metric columns (default: every metric column)")
    a.add_argument("--out", default=None, help="output folder (default: the folder itself)")
    a.add_argument("--no-plots", action="store_true")
    return p


def _params(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SemcomError(f"--param {item!r} is not METRIC=FILE: e.g. --param sess_lite=fitted.yaml")
        out[name] = {"params": path}
    return out


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "correlate":
        from semcom.meta.correlate import correlate, format_correlation

        names = [m.strip() for m in args.metrics.split(",") if m.strip()]
        if not names:
            raise SemcomError("--metrics is empty: e.g. --metrics psnr,ms_ssim,lpips")
        out = Path(args.out or f"correlate-{Path(args.ratings).stem}")
        written = correlate(args.ratings, names, out, n_boot=args.n_boot, seed=args.seed, metric_params=_params(args.param),
                            device=args.device, plots=not args.no_plots, progress=True)
        import pandas as pd

        print(format_correlation(pd.read_csv(written["correlation"])))
        print(f"scores: {written['scores']}\ncorrelation: {written['correlation']}\nfigures: {out / 'figures'}/scatter_*")
    elif args.command == "fit":
        from semcom.meta.fit import FITTABLE, fit_metric
        from semcom.metrics import get_metric

        if args.metric not in FITTABLE:
            raise SemcomError(f"cannot fit {args.metric!r}: choose one of {', '.join(FITTABLE)}")
        report = fit_metric(get_metric(args.metric), args.ratings, args.out, train_fraction=args.train_fraction, seed=args.seed,
                            maxiter=args.maxiter, popsize=args.popsize, cache_dir=args.cache, progress=True)
        fit = report["fit"]
        print(f"SROCC train {fit['srocc_train_default']:+.4f} -> {fit['srocc_train_fitted']:+.4f} ({fit['train_pairs']} pairs); "
              f"held-out {fit['srocc_heldout_default']:+.4f} -> {fit['srocc_heldout_fitted']:+.4f} ({fit['heldout_pairs']} pairs)")
        print("params: " + ", ".join(f"{k}={v:g}" for k, v in report["params"].items()))
        print(f"written: {args.out} (use: metric_params.{args.metric}.params={args.out})")
    elif args.command == "agree":
        import pandas as pd

        from semcom.meta.agreement import format_agreement, write_agreement
        from semcom.report.outputs import collect

        src = Path(args.folder)
        df = pd.read_parquet(src) if src.suffix == ".parquet" else collect(src)
        names = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
        out = args.out or (src.parent if src.suffix == ".parquet" else src)
        written = write_agreement(df, out, names, plots=not args.no_plots)
        print(format_agreement(pd.read_csv(written["agreement"])))
        print(f"agreement: {written['agreement']}")
    else:
        from semcom.report.outputs import collect
        from semcom.transforms.separation import format_table, write_separation

        written = write_separation(collect(args.folder), args.out or args.folder, n_boot=args.n_boot)
        import pandas as pd

        print(format_table(pd.read_csv(written["separation"])))
        print(f"separation: {written['separation']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
