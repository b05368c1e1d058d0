"""semcom.tools.bench: the per-stage harness runs, its batched and reference paths agree, its arithmetic holds."""

from __future__ import annotations

import pytest
import torch

from semcom.tools.bench import bench_chain, bench_learned, bench_metrics, format_table, sweep_estimate


def test_bench_chain_rows_and_ratios(astronaut):
    imgs = torch.stack([astronaut[:, :96, :96], astronaut[:, 128:224, 128:224]])
    rows = bench_chain(imgs, codec="jpeg", rate=0.5, qam=4, codeword_bits=1024, iterations=2, ratio=1 / 2, snr_db=8.0,
                       device=torch.device("cpu"), repeats=1, per_codeword_blocks=2)
    by = {r["stage"]: r for r in rows}
    # bench_chain asserts internally that batched and per-image encoding/decoding give the same bits
    assert set(by) >= {"source_encode", "channel_encode", "modulation_channel", "llr_ldpc_decode",
                       "llr_ldpc_decode_per_codeword", "source_decode", "ldpc_abstraction"}
    assert "skipped" in by["ldpc_abstraction"] and "semcom.fec.abstraction.measure" in by["ldpc_abstraction"]["skipped"]
    dec = by["llr_ldpc_decode"]
    blocks = 2 * (96 * 96 * 3 // 2 * 2 // 1024)  # the blocks that fit; each JPEG takes those it needs
    assert dec["images"] == 2 and 0 < dec["note"].count("block errors")
    k = 512  # round(1024 * 0.5)
    n_blocks = int(dec["note"].split("/")[-1])
    assert n_blocks <= blocks
    assert dec["semcom_info_bits_per_s"] == pytest.approx(n_blocks * k / dec["semcom_s"])
    assert dec["speedup"] == pytest.approx(dec["reference_s"] / dec["semcom_s"])
    assert "block errors 0/" in dec["note"]  # 8 dB is far above the r=1/2 QPSK cliff
    assert "llr_ldpc_decode" in format_table(rows)


def test_bench_metrics_agree_with_reference(astronaut):
    imgs = torch.stack([astronaut[:, :64, :64], astronaut[:, 200:264, 200:264]])
    rows = {r["stage"]: r for r in bench_metrics(imgs, ["psnr"], torch.device("cpu"), 1)}
    assert rows["metric:psnr"]["max_abs_diff"] < 1e-4  # dB, semcom batched vs torchmetrics per image
    assert rows["metric:psnr"]["images"] == 2 and rows["metric:psnr"]["reference_s"] > 0


def test_bench_learned_batched_equals_per_image(astronaut):
    """The learned row: the shipped DeepJSCC on two crops in one call and per image, the same
    noise (one generator per image), so the reconstructions agree up to float rounding."""
    imgs = torch.stack([astronaut[:, :64, :96], astronaut[:, 200:264, 200:296]])
    rows = bench_learned(imgs, "deepjscc-awgn-r1_16", 10.0, torch.device("cpu"), 1)
    row = rows[0]
    assert row["stage"] == "learned:deepjscc-awgn-r1_16" and row["images"] == 2 and "rho=0.0625" in row["note"]
    assert row["max_abs_diff"] < 1e-4 and row["semcom_s"] > 0 and row["reference_s"] > 0
    assert "skipped" in bench_learned(imgs, "nope-r1_16", 10.0, torch.device("cpu"), 1)[0]


def test_sweep_estimate_arithmetic():
    rows = [
        {"stage": "source_encode", "images": 2, "semcom_s": 0.1, "reference_s": 2.0},
        {"stage": "channel_encode", "images": 2, "semcom_s": 0.2},
        {"stage": "modulation_channel", "images": 2, "semcom_s": 0.2},
        {"stage": "llr_ldpc_decode", "images": 2, "semcom_s": 20.0},
        {"stage": "ldpc_abstraction", "images": 2, "semcom_s": 0.02},
        {"stage": "source_decode", "images": 2, "semcom_s": 0.04},
        {"stage": "metric:psnr", "images": 2, "semcom_s": 0.06},
        {"stage": "metric:fid", "skipped": "no weights"},
    ]
    exact = sweep_estimate(rows, 24, 7, 2, 2, "llr_ldpc_decode")
    fast = sweep_estimate(rows, 24, 7, 2, 2, "ldpc_abstraction")
    assert exact["cells"] == 672 and exact["encode_once_s"] == pytest.approx(48 * 1.0)
    assert exact["per_cell_s"] == pytest.approx(0.1 + 0.1 + 10.0 + 0.02 + 0.03)
    assert fast["per_cell_s"] == pytest.approx(0.01 + 0.02 + 0.03)
    assert fast["total_s"] == pytest.approx(48 + 672 * 0.06)
