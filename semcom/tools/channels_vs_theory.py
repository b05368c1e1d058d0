"""Validation and speed of the channels: uncoded BER against theory, LS-CSI penalty, capacity, throughput.

    python -m semcom.tools.channels_vs_theory [--quick]

Prints Markdown tables (quoted in docs/validation/channels.md). Uncoded BPSK with ZF/MMSE-unbiased decisions;
theory: AWGN Q(sqrt(2 snr)), Rayleigh (1 - sqrt(snr / (1 + snr))) / 2 (also per subcarrier of the
NLOS TDL channel), Rician by numerical integration, imperfect CSI (1 - 1/sqrt((1 + N0)(1 + var))) / 2.
Throughput: forward passes of an (8, 196608) batch (eight 512 x 768 images at rho = 1/6) with
one generator per row, as the experiment runner calls them, on this machine's CPU threads.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from scipy import integrate
from scipy.special import erfc

from semcom.channels.capacity import outage_probability, rayleigh_ergodic_capacity, rician_ergodic_capacity, rician_gain_pdf
from semcom.channels import build_channel
from semcom.conventions import awgn_capacity
from semcom.randomness import generator


def q(x: float) -> float:
    return 0.5 * erfc(x / math.sqrt(2))


def theory(name: str, snr: float, k_db: float | None = None) -> float:
    if name == "awgn":
        return q(math.sqrt(2 * snr))
    if name == "rician":
        val, _ = integrate.quad(lambda t: q(math.sqrt(2 * snr * t)) * float(rician_gain_pdf(t, k_db)), 0, 60, limit=400, points=[1.0])
        return val
    return 0.5 * (1 - math.sqrt(snr / (1 + snr)))


def bpsk_ber(cfg: dict, snr_db: float, rows: int, length: int, seed: int) -> float:
    chan = build_channel(cfg)
    rng = generator(seed)
    s = (torch.randint(0, 2, (rows, length), generator=rng) * 2 - 1).to(torch.complex64)
    x_hat = chan(s, snr_db, rng).llr_inputs()[0]
    return ((x_hat.real > 0).to(torch.int64) * 2 - 1 != s.real.to(torch.int64)).double().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    torch.set_num_threads(min(2, torch.get_num_threads()))

    print("## Uncoded BPSK, perfect CSI: measured BER / theory\n")
    cases = [
        ("awgn", {"name": "awgn"}, None, 20, 10**5),
        ("rayleigh_fast", {"name": "rayleigh_fast"}, None, 20, 10**5),
        ("rayleigh_block (coherence 8)", {"name": "rayleigh_block", "coherence": 8}, None, 100, 4 * 10**4),
        ("rician K=10 dB (fast)", {"name": "rician", "k_db": 10.0, "coherence": 1}, 10.0, 20, 10**5),
        ("tdl_ofdm C 1000 ns (per subcarrier)", {"name": "tdl_ofdm", "model": "C", "delay_spread_ns": 1000.0, "cyclic_prefix_length": 36,
                                                  "num_ofdm_symbols": 1, "speed_kmh": 0.0}, None, 20000, 128),
    ]
    snrs = (0.0, 5.0, 10.0, 15.0)
    print("| channel | " + " | ".join(f"{s:g} dB" for s in snrs) + " |")
    print("|---|" + "---|" * len(snrs))
    for label, cfg, k_db, rows, length in cases:
        cells = []
        for i, snr_db in enumerate(snrs):
            fam = "rician" if cfg["name"] == "rician" else ("awgn" if cfg["name"] == "awgn" else "rayleigh")
            th = theory(fam, 10 ** (snr_db / 10), k_db)
            if th * rows * length * scale < 300:
                cells.append(f"- / {th:.2e}")
                continue
            ber = bpsk_ber(cfg, snr_db, max(1, int(rows * scale)), length, seed=100 + i)
            cells.append(f"{ber:.3e} / {th:.3e} ({ber / th - 1:+.1%})")
        print(f"| {label} | " + " | ".join(cells) + " |")

    print("\n## LS pilots (Rayleigh block, coherence 4 data symbols + 1 pilot), SNR 10 dB: BER / theory\n")
    n0 = 0.1
    print("| pilot power | BER | theory | perfect-CSI BER |")
    print("|---|---|---|---|")
    perfect = theory("rayleigh", 10.0)
    for pilot_db in (-5.0, 0.0, 5.0, 10.0, 20.0):
        cfg = {"name": "rayleigh_block", "coherence": 4, "csi": "ls", "pilot_power_db": pilot_db}
        ber = bpsk_ber(cfg, 10.0, max(1, int(100 * scale)), 4000, seed=7)
        var = n0 / 10 ** (pilot_db / 10)
        th = 0.5 * (1 - 1 / math.sqrt((1 + n0) * (1 + var)))
        print(f"| {pilot_db:+g} dB | {ber:.4f} | {th:.4f} | {perfect:.4f} |")

    print("\n## Capacity, bits per channel use\n")
    print("| SNR | AWGN | ergodic Rayleigh | ergodic Rician K=10 dB | Rayleigh outage at 1 bit | Rician K=10 dB outage at 1 bit |")
    print("|---|---|---|---|---|---|")
    for snr_db in (0.0, 10.0, 20.0):
        print(f"| {snr_db:g} dB | {awgn_capacity(snr_db):.4f} | {rayleigh_ergodic_capacity(snr_db):.4f} | "
              f"{rician_ergodic_capacity(snr_db, 10.0):.4f} | {outage_probability(1.0, snr_db):.4g} | "
              f"{outage_probability(1.0, snr_db, 'rician', 10.0):.4g} |")

    print(f"\n## Throughput, CPU ({torch.get_num_threads()} threads): batch (8, 196608), one generator per row\n")
    print("| channel | csi | ms per batch | Msymbols/s |")
    print("|---|---|---|---|")
    x = torch.randn(8, 196608, dtype=torch.complex64)
    for name in ("awgn", "rayleigh_block", "rayleigh_fast", "rician", "tdl_ofdm"):
        for csi in ("perfect", "ls"):
            chan = build_channel({"name": name, "csi": csi})
            chan(x[:, :1000], 10.0, [generator(i) for i in range(8)])  # build Sionna objects
            reps = 3
            t0 = time.perf_counter()
            for r in range(reps):
                out = chan(x, 10.0, [generator(100 * r + i) for i in range(8)])
                out.equalize()
            dt = (time.perf_counter() - t0) / reps
            print(f"| {name} | {csi} | {dt * 1e3:.0f} | {x.numel() / dt / 1e6:.1f} |")


if __name__ == "__main__":
    main()
