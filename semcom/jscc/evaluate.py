"""Evaluate a JSCC model on an image set at several SNRs: mean RGB PSNR (8-bit) per SNR.

Seeding is the runner's (:func:`semcom.randomness.cell_seed` of seed, image, channel family,
realization 0), so ``python -m semcom.run dataset=kodak pipeline=deepjscc ratio=1/16`` gives the same
per-image numbers::

    python -m semcom.jscc.evaluate deepjscc-awgn-r1_16              # Kodak, AWGN, SNR 1..13
    python -m semcom.jscc.evaluate deepjscc-rayleigh_block-r1_16 --store
    python -m semcom.jscc.evaluate deepjscc-awgn-r1_16 --channel rayleigh_block

The channel defaults to the one the checkpoint was trained on. ``--store`` writes the table into
the shipped checkpoint (its model card shows the table of its own channel).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from semcom.channels import build_channel
from semcom.datasets import load_dataset
from semcom.conventions import quantize
from semcom.jscc.base import JSCCModel, as_snr_tensor, side_snr_db
from semcom.metrics import get_metric
from semcom.randomness import cell_seed, generator

#: The SNR points of the published curves (WITT's figures), dB.
SNR_POINTS = (1.0, 4.0, 7.0, 10.0, 13.0)
#: The published curves printed beside a Kodak / AWGN / rho = 1/16 evaluation (semcom.published:
#: WITT's repository figure, +-0.05 dB; ``python -m semcom.published show NAME`` for the provenance).
PUBLISHED_CURVES = {
    "DeepJSCC": "witt_yang2023/deepjscc_awgn_r1_16_psnr",
    "WITT": "witt_yang2023/witt_awgn_r1_16_psnr",
}


def published_psnr() -> dict[str, tuple[float, ...]]:
    """{label: published Kodak PSNR at :data:`SNR_POINTS`} for the curves of :data:`PUBLISHED_CURVES`."""
    from semcom.published import load_curve

    return {label: tuple(load_curve(name).y_at(s) for s in SNR_POINTS) for label, name in PUBLISHED_CURVES.items()}


@torch.no_grad()
def evaluate(model: JSCCModel, items, snrs, channel, ratio: float | None = None, seed: int = 0, device="cpu") -> dict:
    """{snr: mean PSNR over ``items``} (and per-image lists under "per_image").

    ``items``: objects with ``.name`` and ``.image`` (3, H, W), or (name, image) pairs. Images are
    sent one at a time (sizes may differ); reconstructions are rounded to 8 bits before scoring.
    """
    psnr = get_metric("psnr")
    model.eval()
    out = {"per_image": {}}
    for snr in snrs:
        values = []
        for it in items:
            name, img = (it.name, it.image) if hasattr(it, "name") else it
            x_img = img.unsqueeze(0).to(device)
            rng = [generator(cell_seed(seed, name, channel.name), device)]
            snr_t = as_snr_tensor(float(snr), 1, device)
            x, layout = model.encode(x_img, snr_t, ratio)
            ch = channel(x, snr_t, rng)
            x_hat, _ = ch.equalize("zf")
            rec = quantize(model.decode(x_hat, layout, side_snr_db(ch)))
            values.append(float(psnr(x_img, rec)[0]))
        out[float(snr)] = sum(values) / len(values)
        out["per_image"][float(snr)] = values
    return out


def main(argv: list[str] | None = None) -> int:
    from semcom.errors import SemcomError
    from semcom.jscc.checkpoints import load_checkpoint, set_evaluation, shipped, trained_channel

    parser = argparse.ArgumentParser(prog="python -m semcom.jscc.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="shipped name or .pt file (training run or exported)")
    parser.add_argument("--channel", default=None, help="channel config name; default: the one the checkpoint was trained on")
    parser.add_argument("--snr", type=float, nargs="+", default=list(SNR_POINTS))
    parser.add_argument("--dataset", default="kodak")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--ratio", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--store", action="store_true", help="write the table into the shipped checkpoint")
    parser.add_argument("--json", default=None, help="also write the table to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        model, meta = load_checkpoint(args.checkpoint)
        ds = load_dataset(args.dataset, limit=args.limit, convert=True)
        args.channel = args.channel or trained_channel(meta.get("train_config"))
        channel = build_channel(args.channel)
        t0 = time.time()
        res = evaluate(model, ds.items, args.snr, channel, args.ratio, args.seed)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = {
        "dataset": ds.name,
        "images": len(ds),
        "channel": args.channel,
        "seed": args.seed,
        "ratio": args.ratio or model.ratios[-1],
        "psnr": {f"{s:g}": round(res[float(s)], 3) for s in args.snr},
        "eval_s": round(time.time() - t0, 1),
    }
    print(f"{args.checkpoint}: {ds.name} ({len(ds)} images), {args.channel}, ratio {table['ratio']:g}")
    print("SNR dB   " + "  ".join(f"{s:>6g}" for s in args.snr))
    print("PSNR dB  " + "  ".join(f"{res[float(s)]:6.2f}" for s in args.snr))
    if args.dataset == "kodak" and table["ratio"] == 1 / 16 and args.channel == "awgn" and list(args.snr) == list(SNR_POINTS):
        for label, vals in published_psnr().items():
            print(f"{label:<9}" + "  ".join(f"{v:6.2f}" for v in vals))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=2)
    if args.store:
        if args.checkpoint not in shipped():
            print(f"error: --store needs a shipped checkpoint name, not {args.checkpoint}", file=sys.stderr)
            return 2
        evaluation = dict(meta.get("evaluation") or {})
        evaluation[f"{ds.name}/{args.channel}"] = table
        set_evaluation(args.checkpoint, evaluation)
        print(f"stored in {args.checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
