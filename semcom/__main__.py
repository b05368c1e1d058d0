"""``python -m semcom``: the version, and the components available (built-in and from plugins).

    python -m semcom --version
    python -m semcom list [KIND ...]     # pipeline, model, codec, channel, metric, dataset
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
    ls.add_argument("kinds", nargs="*", help="pipeline, model, codec, channel, metric, dataset (default: all)")
    args = parser.parse_args(argv)
    if args.command != "list":
        parser.print_help()
        return 0
    from semcom.registry import listing

    try:
        entries = listing(args.kinds or None)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
