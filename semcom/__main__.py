"""``python -m semcom``: the version, and the components available (built-in and from plugins).

    python -m semcom --version
    python -m semcom list [KIND ...]     # pipeline, model, codec, channel, metric, dataset, experiment
"""

from __future__ import annotations

import argparse
import sys

from pathlib import Path

from semcom import __version__
from semcom.errors import SemcomError

EXPERIMENTS = Path(__file__).parent / "conf" / "experiment"


def experiments() -> list[tuple[str, str]]:
    """``[(study/form, first description line)]`` of the shipped studies (``experiment=<study>/<form>``)."""
    out = []
    for f in sorted(EXPERIMENTS.glob("*/*.yaml")):
        lines = [ln.lstrip("# ").strip() for ln in f.read_text().splitlines()[1:4] if ln.startswith("#")]
        out.append((f"{f.parent.name}/{f.stem}", lines[0] if lines else ""))
    return out


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
    if not args.kinds or len(kinds) < len(args.kinds):
        print("experiments (python -m semcom.run experiment=NAME):")
        for name, line in experiments():
            print(f"  {name:<34}  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
