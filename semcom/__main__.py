"""``python -m semcom``: the version, and the components available (built-in and from plugins).

    python -m semcom --version
    python -m semcom list [KIND ...]     # pipeline, model, codec, channel, metric, dataset, experiment
"""

from __future__ import annotations

import argparse
import sys

from semcom import __version__
from semcom.errors import SemcomError

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom", description="semcom: image semantic communication testbed.")
    parser.add_argument("--version", action="version", version=f"semcom {__version__}")
    sub = parser.add_subparsers(dest="command")
    ls = sub.add_parser("list", help="every registered component: built-ins and installed plugins")
    ls.add_argument("kinds", nargs="*", help="pipeline, model, codec, channel, metric, dataset, experiment (default: all)")
    args = parser.parse_args(argv)
    if args.command != "list":
        parser.print_help()
        return 0
    from semcom.registry import listing

    kinds = [k for k in args.kinds if k not in ("experiment", "experiments")]
    try:
        entries = listing(kinds or None) if kinds or not args.kinds else []
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    width = max(len(e.name) for e in entries) if entries else 4
    kind = None
    for e in entries:
        if e.kind != kind:
            kind = e.kind
            print(f"{kind}s:")
        params = ", ".join(f"{k}={v}" for k, v in e.params.items())
        print(f"  {e.name:<{width}}  {e.source:<22}  {e.target}{f' ({params})' if params else ''}")
    if not args.kinds or "pipeline" in args.kinds:
        from semcom.runner.config import pipeline_configs

        print("pipeline configs (python -m semcom.run pipeline=NAME; the kinds above build them):")
        for name, line in pipeline_configs():
            print(f"  {name:<34}  {line}")
    if not args.kinds or len(kinds) < len(args.kinds):
        print("experiments (python -m semcom.run experiment=NAME):")
        from semcom.runner.config import experiments

        for name, line in experiments():
            print(f"  {name:<34}  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
