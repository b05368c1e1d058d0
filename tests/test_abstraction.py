"""LDPC link abstraction: BLER tables, interpolation, the chain's fast mode, the table builder."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from semcom.fec.abstraction.curves import TABLE_DIR, TABLE_VERSION, BlerCurve, block_snr_db, find_curve, load_table_file, wilson
from semcom.channels import AWGN, RayleighBlock, build_channel
from semcom.errors import SemcomError
from semcom.pipelines.base import build_pipeline
from semcom.randomness import generator

# k = round(2048 * 0.5) = 1024, n = 2048 for QPSK 1/2 at codeword_bits=2048
CFG = {"kind": "separate", "name": "jpeg_ldpc", "codec": "jpeg", "mcs": {"rate": 0.5, "qam": 4}, "codeword_bits": 2048,
       "decoder": "abstraction"}
RATIO = 1 / 4
CLIFF_DB = 2.9  # synthetic table: every block fails at and below 2.9 dB, none from 3.0 dB


def _curve(points, k=1024, n=2048, qam=4):
    return BlerCurve("ldpc", 20, k, n, qam, "awgn", np.array([p[0] for p in points], float),
                     np.array([p[1] for p in points]), np.array([p[2] for p in points]))


@pytest.fixture()
def step_table(tmp_path, monkeypatch):
    c = _curve([(0.0, 100, 100), (CLIFF_DB, 100, 100), (3.0, 100, 0)])
    (tmp_path / "step.json").write_text(json.dumps({"version": TABLE_VERSION, "curves": [c.to_json()]}))
    monkeypatch.setenv("SEMCOM_BLER_TABLES", str(tmp_path))
    return c


@pytest.fixture(scope="module")
def crops(astronaut):
    return torch.stack([astronaut[:, :128, :128], astronaut[:, 256:384, 256:384]])


def test_wilson_interval_closed_forms():
    lo, hi = wilson(0, 100)
    assert lo == 0.0 and hi == pytest.approx(1.96**2 / (100 + 1.96**2), rel=1e-9)
    lo, hi = wilson(50, 100)  # symmetric around 1/2: 0.5 +- 1.96 sqrt(0.25/100 + z^2/4e4) / (1 + z^2/100)
    half = 1.96 * math.sqrt(0.25 / 100 + 1.96**2 / 4e4) / (1 + 1.96**2 / 100)
    assert (lo, hi) == (pytest.approx(0.5 - half), pytest.approx(0.5 + half))


def test_bler_interpolation_log_linear_then_slope_capped_by_error_free_points():
    c = _curve([(0.0, 100, 100), (1.0, 100, 50), (2.0, 100, 5), (3.0, 1000, 0), (3.5, 100, 0)])
    assert c.bler([-5.0, 0.0])[0] == 1.0 and c.bler([0.0])[0] == 1.0
    assert c.bler([1.5])[0] == pytest.approx(math.sqrt(0.5 * 0.05))  # geometric mean between points
    assert c.bler([2.5])[0] == pytest.approx(0.05 * 10 ** (-0.5))  # slope of the last two points: a decade per dB
    # at 3 dB the slope gives 5e-3, but 0 errors in 1000 blocks there bound it by Wilson's 3.8e-3
    cap = 1.96**2 / (1000 + 1.96**2)
    assert c.bler([2.9])[0] == pytest.approx(0.05 * 10 ** (-0.9)) and c.bler([3.0])[0] == pytest.approx(cap)
    assert c.bler([3.1])[0] == pytest.approx(cap)  # slope 4.0e-3; 0/100 at 3.5 dB would be a looser bound
    assert c.bler([3.6])[0] == pytest.approx(0.05 * 10 ** (-1.6))  # below the bound again: the slope
    assert c.bler([7.0])[0] == pytest.approx(0.05 * 10 ** -5.0)  # the waterfall goes on below the bound
    step = _curve([(0.0, 100, 100), (2.9, 100, 100), (3.0, 100, 0)])
    assert step.bler([2.9, 2.95, 3.0, 9.0]).tolist() == [1.0, 1.0, 0.0, 0.0]  # no slope to continue: a step
    assert c.snr_at(0.5) == pytest.approx(1.0, abs=2e-3)
    back = BlerCurve.from_json(c.to_json())
    assert back.key == c.key and back.errors.tolist() == [100, 50, 5, 0, 0]


def test_block_snr_constant_and_varying():
    s = torch.tensor([2.0] * 6 + [4.0] * 6)
    assert block_snr_db(s, 6, 2, "x").tolist() == pytest.approx([10 * math.log10(2), 10 * math.log10(4)])
    with pytest.raises(SemcomError, match="constant over each code block"):
        block_snr_db(torch.arange(1.0, 13.0), 6, 2, "rayleigh_fast")


def test_shipped_table_is_versioned_measured_and_plausible():
    meta, curves = load_table_file(TABLE_DIR / "ldpc_awgn.json")
    assert meta["version"] == TABLE_VERSION and meta["settings"]["iterations"] == 20
    qpsk = find_curve("ldpc", 20, 2048, 4096, 4)[0]
    assert (qpsk.blocks > 0).all() and qpsk.bler_points[0] == 1.0
    # 5G LDPC r=1/2, n=4096, 20 BP iterations: the waterfall (BLER 10 %) lies 0.5-2.5 dB above
    # the Shannon limit of 0 dB Es/N0 for 1 information bit per symbol
    assert 0.5 < qpsk.snr_at(0.1) < 2.5
    for c in curves:
        shannon = 10 * math.log10(2 ** (c.k / c.n * (c.qam.bit_length() - 1)) - 1)
        assert c.snr_at(0.1) > shannon, c.key  # no code beats capacity
        p = c.bler_points
        lo_hi = [wilson(int(e), int(b)) for e, b in zip(c.errors, c.blocks)]
        for j in range(1, len(p)):  # non-increasing in SNR up to the measurement's 95 % intervals
            assert lo_hi[j][0] <= lo_hi[j - 1][1], (c.key, j)


def test_missing_table_names_the_builder(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMCOM_BLER_TABLES", str(tmp_path))
    with pytest.raises(SemcomError, match="semcom.fec.abstraction.measure"):
        find_curve("ldpc", 20, 1000, 2000, 4)
    with pytest.raises(SemcomError, match="semcom.fec.abstraction.measure"):
        build_pipeline({**CFG, "codeword_bits": 1000}, ratio=RATIO)


def test_fast_mode_rows_named_and_bits_exact_above_cliff(step_table, crops):
    exact = build_pipeline({**CFG, "decoder": "exact"}, ratio=RATIO)
    fast = build_pipeline(CFG, ratio=RATIO)
    assert fast.name == "jpeg_ldpc_abstraction" and exact.name == "jpeg_ldpc"
    assert fast.params()["decoder"] == "abstraction" and fast.params()["bler_table"] == "step.json@v1/rule2"
    assert "decoder" not in exact.params()  # exact rows keep their parameters (stores resume)
    hi = fast.transmit(crops[:1], 3.0, AWGN(), [generator(1)])
    ref = exact.transmit(crops[:1], 8.0, AWGN(), [generator(1)])
    assert not hi.failed.any() and hi.extras["decoder"] == ["abstraction"] and ref.extras["decoder"] == ["exact"]
    assert torch.equal(hi.reconstructions, ref.reconstructions) and torch.equal(hi.bits, ref.bits)
    assert torch.equal(hi.channel_uses, ref.channel_uses)
    lo = fast.transmit(crops, CLIFF_DB, AWGN(), [generator(1), generator(2)])
    assert lo.failed.all() and torch.all(lo.reconstructions == 0.5)
    assert lo.extras["block_errors"] == lo.extras["codewords"]


def test_fast_mode_block_error_frequency_follows_table(tmp_path, monkeypatch, crops):
    c = _curve([(0.0, 100, 100), (5.0, 1000, 300), (6.0, 100, 0)])
    (tmp_path / "t.json").write_text(json.dumps({"version": TABLE_VERSION, "curves": [c.to_json()]}))
    monkeypatch.setenv("SEMCOM_BLER_TABLES", str(tmp_path))
    fast = build_pipeline(CFG, ratio=RATIO)
    errors = blocks = 0
    for seed in range(40):
        tx = fast.transmit(crops, 5.0, AWGN(), [generator(seed), generator(1000 + seed)])
        errors += sum(tx.extras["block_errors"])
        blocks += sum(tx.extras["codewords"])
    # Binomial(blocks, 0.3): 4 standard deviations
    assert abs(errors / blocks - 0.3) < 4 * math.sqrt(0.3 * 0.7 / blocks), (errors, blocks)


def test_rayleigh_block_uses_the_blocks_own_snr(step_table, crops):
    fast = build_pipeline(CFG, ratio=RATIO)
    ch = RayleighBlock()
    checked = 0
    for seed in range(30):
        snr = 8.0
        tx = fast.transmit(crops[:1], snr, ch, [generator(seed)])
        # the fading exact decoding would see: the same generator, the same draw order
        h = ch(torch.ones(1, 16, dtype=torch.complex64), torch.tensor(snr), [generator(seed)]).h[0, 0]
        eff = snr + 10 * math.log10(float(h.abs() ** 2))
        assert bool(tx.failed[0]) == (eff <= CLIFF_DB + 0.05), (seed, eff)
        checked += eff <= CLIFF_DB
    assert checked > 0  # some images faded below the cliff


def test_fast_mode_refusals(step_table, crops):
    with pytest.raises(SemcomError, match="fallback=corrupt"):
        build_pipeline(CFG, ratio=RATIO, fallback="corrupt")
    with pytest.raises(SemcomError, match="code=ldpc only"):
        build_pipeline({**CFG, "code": "polar"}, ratio=RATIO)
    with pytest.raises(SemcomError, match="decoder='bp'"):
        build_pipeline({**CFG, "decoder": "bp"}, ratio=RATIO)
    fast = build_pipeline(CFG, ratio=RATIO)
    with pytest.raises(SemcomError, match="constant over each code block"):
        fast.transmit(crops[:1], 5.0, build_channel({"name": "rayleigh_fast"}), [generator(0)])
    with pytest.raises(SemcomError, match="perfect CSI"):
        fast.transmit(crops[:1], 5.0, build_channel({"name": "rayleigh_block", "csi": "noisy"}), [generator(0)])


def test_measure_point_extremes():
    from sionna.phy.mapping import Demapper, Mapper

    from semcom.fec.abstraction.measure import measure_point
    from semcom.fec.ldpc import LDPCBlockCode

    code = LDPCBlockCode(0.5, 2, 256, 20)
    lay = code.layout(256)
    args = (code, Mapper("qam", 2), Demapper("app", "qam", 2), lay)
    g = torch.Generator().manual_seed(0)
    assert measure_point(*args, 10.0, g, 8, 5, 16) == (16, 0)  # 10 dB above the cliff: no error in 16 blocks
    assert measure_point(*args, -8.0, g, 8, 5, 16) == (8, 8)  # far below: every block fails, stops at 5 errors


def test_table_refinement_sums_counts(tmp_path):
    from semcom.fec.abstraction.measure import write_table

    path = tmp_path / "t.json"
    write_table(path, [_curve([(1.0, 100, 50), (1.5, 200, 4)])], {"seed": 0})
    write_table(path, [_curve([(1.5, 300, 2), (1.75, 400, 0)])], {"seed": 1})
    write_table(path, [_curve([(2.0, 10, 10)], k=1365, n=4096)], {"seed": 2})  # another scheme: kept apart
    meta, curves = load_table_file(path)
    c = next(c for c in curves if c.k == 1024)
    assert c.snr_db.tolist() == [1.0, 1.5, 1.75] and c.blocks.tolist() == [100, 500, 400] and c.errors.tolist() == [50, 6, 0]
    assert c.bler([1.5])[0] == pytest.approx(6 / 500)
    assert [r["seed"] for r in c.extra["runs"]] == [0, 1] and len(curves) == 2


def test_fast_vs_exact_table_pairs_rows_by_point():
    """semcom.tools.fast_vs_exact: <name> and <name>_abstraction rows paired by (channel, ratio,
    SNR, image); means, fast-minus-exact difference, failure rates, chosen MCS; unpaired rows out."""
    import pandas as pd

    from semcom.tools.fast_vs_exact import compare

    rows = []
    for name, psnr in (("bpg_ldpc_best", {(1.0, "a"): 20.0, (1.0, "b"): 30.0, (7.0, "a"): 32.0, (7.0, "b"): 34.0}),
                       ("bpg_ldpc_best_abstraction", {(1.0, "a"): 12.0, (1.0, "b"): 30.0, (7.0, "a"): 32.0, (7.0, "b"): 34.0, (9.0, "a"): 1.0})):
        for (snr, img), v in psnr.items():
            rows.append({"pipeline": name, "channel": "awgn", "ratio": 1 / 16, "snr_db": snr, "image": img, "psnr": v,
                         "failed": v < 15, "qam": 4 if snr < 5 else 16, "code_rate": 1 / 3 if snr < 5 else 0.5, "codewords": 72})
    t = compare(pd.DataFrame(rows)).set_index("snr_db")
    assert list(t.index) == [1.0, 7.0]  # 9 dB has no exact rows
    assert t.loc[1.0, "psnr_exact"] == 25.0 and t.loc[1.0, "psnr_fast"] == 21.0 and t.loc[1.0, "diff"] == -4.0
    assert t.loc[1.0, "failed_fast"] == 0.5 and t.loc[1.0, "failed_exact"] == 0.0
    assert t.loc[7.0, "diff"] == 0.0 and t.loc[7.0, "mcs_exact"] == t.loc[7.0, "mcs_fast"] == "16-QAM r=0.5"
    # images the shipped table predicts lost at the exact rows' MCS: 16-QAM 1/2 at 7.0 dB (0.33 dB
    # past its BLER-1 % point, rule 2: BLER 6.5e-4), 72 blocks per image
    p = 1 - (1 - 6.5e-4) ** 72
    assert t.loc[7.0, "lost_expected"] == pytest.approx(2 * p, rel=0.01) and t.loc[7.0, "lost_exact"] == 0
    assert t.loc[7.0, "lost_sd"] == pytest.approx(math.sqrt(2 * p * (1 - p)), rel=0.01)
    assert t.loc[1.0, "lost_expected"] < 1e-2 and t.loc[1.0, "lost_fast"] == 1  # QPSK 1/3 at 1 dB: 1.8 dB past its 1 % point
    with pytest.raises(SemcomError, match="both modes"):
        compare(pd.DataFrame(rows[:4]))
