"""Fast mode vs exact LDPC decoding on Kodak images at the cliff: ``python -m semcom.tools.abstraction_vs_exact``.

For each chain (``jpeg_ldpc`` at rho 1/6, ``bpg_ldpc`` at rho 1/16; QPSK r=1/2, n=4096, 20 BP
iterations) and each SNR of a fine grid across the cliff, the first ``--images`` Kodak images are
sent ``--seeds`` times over AWGN with ``decoder=exact`` and with ``decoder=abstraction``, each
image with the runner's own generator (semcom.randomness). Reported per SNR and mode: block
error rate over all code blocks, image failure rate, mean PSNR. The shift between the two curves is
the SNR distance (dB) between the points where the image failure rate crosses 1/2 (linear
interpolation on the grid), and the same for the mean PSNR crossing halfway between its lowest
and highest value. Writes ``--json``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from semcom.channels import build_channel
from semcom.datasets import load_dataset
from semcom.metrics import get_metric
from semcom.pipelines.base import build_pipeline
from semcom.randomness import cell_seed, generator

CHAINS = {"jpeg_ldpc": ("jpeg", 1 / 6), "bpg_ldpc": ("bpg", 1 / 16)}


def crossing(snrs, values, level) -> float:
    """SNR where a (decreasing or increasing) curve first crosses ``level``, linear on the grid."""
    v = np.asarray(values, float)
    for j in range(1, len(v)):
        a, b = v[j - 1] - level, v[j] - level
        if a == 0:
            return float(snrs[j - 1])
        if a * b < 0 or b == 0:
            return float(snrs[j - 1] + (snrs[j] - snrs[j - 1]) * a / (a - b))
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", nargs="*", default=list(CHAINS))
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--snr", nargs="*", type=float, default=[1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7])
    ap.add_argument("--json", default="validate_abstraction.json")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--fast-seeds", type=int, default=None, help="seeds for the fast side (default --seeds; it is cheap)")
    ap.add_argument("--exact-from", default=None, help="reuse the exact rows of an earlier --json (same settings)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    ds = load_dataset("kodak", limit=a.images)
    psnr = get_metric("psnr")
    channel = build_channel({"name": "awgn"})
    out = {"settings": vars(a), "chains": {}}
    from semcom.fec.abstraction.curves import find_curve

    out["bler_table"] = find_curve("ldpc", 20, 2048, 4096, 4)[1]
    for chain in a.chains:
        codec, ratio = CHAINS[chain]
        res = {}
        if a.exact_from:
            prev = json.load(open(a.exact_from))["chains"].get(chain, {}).get("exact")
            if prev is not None and [r["snr_db"] for r in prev["rows"]] == list(a.snr):
                res["exact"] = prev
                for r in prev["rows"]:
                    print(f"{chain:<10} exact (reused) {r['snr_db']:5.2f} dB  BLER {r['bler']:.3e} ({r['block_errors']}/{r['blocks']})  "
                          f"failed {round(r['image_fail_rate'] * r['images'])}/{r['images']}  PSNR {r['mean_psnr']:.2f} dB")
        for mode in ("exact", "abstraction"):
            if mode in res:
                continue
            pipe = build_pipeline({"kind": "separate", "name": chain, "codec": codec, "mcs": {"rate": 0.5, "qam": 4},
                                   "codeword_bits": 4096, "decoder": mode}, ratio=ratio)
            t0 = time.perf_counter()
            rows = []
            for snr in a.snr:
                blocks = errors = fails = 0
                ps = []
                for seed in range(a.seeds if mode == "exact" or a.fast_seeds is None else a.fast_seeds):
                    for it in ds.items:
                        g = generator(cell_seed(seed, it.name, channel.name))
                        with torch.no_grad():
                            tx = pipe.transmit(it.image[None], snr, channel, [g])
                        blocks += tx.extras["codewords"][0]
                        errors += tx.extras["block_errors"][0] or 0
                        fails += int(tx.failed[0])
                        rec = (tx.reconstructions.clamp(0, 1) * 255).round() / 255
                        ps.append(float(psnr(it.image[None], rec)[0]))
                n = len(ps)
                rows.append({"snr_db": snr, "blocks": blocks, "block_errors": errors, "bler": errors / max(blocks, 1),
                             "image_fail_rate": fails / n, "mean_psnr": float(np.mean(ps)), "images": n})
                print(f"{chain:<10} {mode:<12} {snr:5.2f} dB  BLER {errors / max(blocks, 1):.3e} ({errors}/{blocks})  "
                      f"failed {fails}/{n}  PSNR {np.mean(ps):.2f} dB", flush=True)
            res[mode] = {"rows": rows, "seconds": time.perf_counter() - t0}
        snrs = a.snr
        f50 = {m: crossing(snrs, [r["image_fail_rate"] for r in res[m]["rows"]], 0.5) for m in res}
        allp = [r["mean_psnr"] for m in res for r in res[m]["rows"]]
        mid = (min(allp) + max(allp)) / 2
        p50 = {m: crossing(snrs, [r["mean_psnr"] for r in res[m]["rows"]], mid) for m in res}
        res["shift_db_fail50"] = f50["abstraction"] - f50["exact"]
        res["shift_db_psnr_mid"] = p50["abstraction"] - p50["exact"]
        res["fail50_db"], res["psnr_mid_db"], res["psnr_mid_level"] = f50, p50, mid
        print(f"{chain}: image failure 50 % at {f50['exact']:.3f} dB exact, {f50['abstraction']:.3f} dB abstraction "
              f"(shift {res['shift_db_fail50']:+.3f} dB); mean PSNR {mid:.2f} dB at {p50['exact']:.3f} / {p50['abstraction']:.3f} dB "
              f"(shift {res['shift_db_psnr_mid']:+.3f} dB); time exact {res['exact']['seconds']:.0f} s, "
              f"abstraction {res['abstraction']['seconds']:.1f} s", flush=True)
        # BLER shift: where the table reaches each BLER measured in the exact chain, minus that SNR
        curve = find_curve("ldpc", 20, 2048, 4096, 4)[0]
        shifts = [(r["snr_db"], curve.snr_at(r["bler"]) - r["snr_db"], r["block_errors"]) for r in res["exact"]["rows"] if r["block_errors"] > 0]
        res["bler_shift_db"] = shifts
        print(f"{chain}: table SNR minus chain SNR at the chain's measured BLER: "
              + ", ".join(f"{s:.2f} dB ({e} errors): {d:+.3f} dB" for s, d, e in shifts), flush=True)
        out["chains"][chain] = res
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
