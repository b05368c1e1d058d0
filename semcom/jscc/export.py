"""Command line: export a training run's checkpoint, or list the shipped checkpoints.

    python -m semcom.jscc.export runs/train/mymodel-awgn-r1_16/last.pt mymodel-r1_16 --out checkpoints/
    python -m semcom.jscc.export runs/train/deepjscc-awgn-r1_16/last.pt deepjscc-awgn-r1_16 --ship
    python -m semcom.jscc.export --list

Export writes ``<out>/<name>.pt`` (float32 weights, the model's class and arguments, the full
training config, steps, wall time, device) and its entry in ``<out>/index.json``; the file is
then a ``pipeline.checkpoint`` (``pipeline=learned pipeline.checkpoint=checkpoints/mymodel-r1_16.pt``).
``--ship`` writes into the package's own folder of shipped checkpoints (semcom's maintainers);
``python -m semcom.jscc.evaluate <name> --store`` then adds the Kodak table to it.
"""

from __future__ import annotations

import argparse
import sys

from pathlib import Path

from semcom.errors import SemcomError
from semcom.jscc.checkpoints import SHIPPED_DIR, export, shipped


def model_cards() -> str:
    """Markdown table, one row per shipped checkpoint: data, steps, time, device, Kodak PSNR per SNR."""
    import torch

    from semcom.jscc.evaluate import SNR_POINTS

    head = "| checkpoint | model (parameters) | trained on | SNR range (dB) | steps x batch | wall time | device | " + " | ".join(f"{s:g} dB" for s in SNR_POINTS) + " | size |"
    lines = [head, "|" + "---|" * (8 + len(SNR_POINTS))]
    for name, e in shipped().items():
        ck = torch.load(e.path, map_location="cpu", weights_only=False)
        cfg, tr = ck["train_config"], ck["training"]
        params = sum(v.numel() for k, v in ck["state_dict"].items() if not k.endswith(("pedestal", ".bound")))
        data = " + ".join(f.split("/")[-1] for f in cfg["data"]["train"]) + f" ({tr.get('train_images')} images), {cfg['crop']} px crops"
        ev = (ck.get("evaluation") or {}).get(f"kodak/{e.channel}", {}).get("psnr", {})
        psnr = " | ".join(f"{ev[f'{s:g}']:.2f}" if f"{s:g}" in ev else "-" for s in SNR_POINTS)
        lo, hi = cfg["snr_db_train"]
        start = f", from {cfg['init_from'].split('/')[-2] if '/' in str(cfg['init_from']) else cfg['init_from']}" if cfg.get("init_from") else ""
        lines.append(
            f"| `{name}` | {e.model} ({params / 1e3:.0f} k) | {data}{start} | {lo:g}..{hi:g} | {tr['steps']} x {cfg['batch_size']} | "
            f"{tr['wall_s'] / 3600:.1f} h | {tr['device']} | {psnr} | {e.path.stat().st_size / 1e6:.2f} MB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.jscc.export", description="Export a JSCC training run into the package, or list shipped checkpoints.")
    parser.add_argument("run_checkpoint", nargs="?", help="a training run's last.pt")
    parser.add_argument("name", nargs="?", help="checkpoint name, e.g. deepjscc-awgn-r1_16")
    parser.add_argument("--out", help="folder to write <name>.pt and index.json into")
    parser.add_argument("--ship", action="store_true", help="write into the package's shipped checkpoints (maintainers)")
    parser.add_argument("--list", action="store_true", help="list the shipped checkpoints")
    parser.add_argument("--cards", action="store_true", help="print the model cards (Markdown, as in docs/reference/models.md) of the shipped checkpoints")
    args = parser.parse_args(argv)
    if args.cards:
        print(model_cards())
        return 0
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
    if bool(args.out) == bool(args.ship):
        parser.error("give --out DIR (a folder of your own) or --ship (the package's shipped checkpoints)")
    try:
        out = export(args.run_checkpoint, args.name, dest_dir=SHIPPED_DIR if args.ship else Path(args.out))
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
