"""Command line: export a training run into the package, or list the shipped checkpoints.

    python -m semcom.jscc.export runs/train/deepjscc-awgn-r1_16/last.pt deepjscc-awgn-r1_16
    python -m semcom.jscc.export --list

Export writes ``semcom/jscc/checkpoints/<name>.pt`` (float32 weights, model config, the full
training config, steps, wall time, device) and its entry in ``checkpoints/index.json``; then
``python -m semcom.jscc.evaluate <name> --store`` adds the Kodak table to it.
"""

from __future__ import annotations

import argparse
import sys

from semcom.jscc.checkpoints import export, shipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.jscc.export", description="Export a JSCC training run into the package, or list shipped checkpoints.")
    parser.add_argument("run_checkpoint", nargs="?", help="a training run's last.pt")
    parser.add_argument("name", nargs="?", help="checkpoint name, e.g. deepjscc-awgn-r1_16")
    parser.add_argument("--list", action="store_true", help="list the shipped checkpoints")
    args = parser.parse_args(argv)
    if args.list or not args.run_checkpoint:
        total = 0.0
        for name, e in shipped().items():
            size = e.path.stat().st_size / 1e6 if e.path.is_file() else float("nan")
            total += size
            print(f"{name:<28} {e.model:<9} {e.channel:<15} ratios={list(e.ratios)}  {size:.2f} MB")
        print(f"total {total:.2f} MB")
        return 0
    if not args.name:
        parser.error("give the run checkpoint and a name")
    out = export(args.run_checkpoint, args.name)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
