"""MCS tables, the best-MCS envelope (exact against brute force), polar codes, config composition."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image
from sionna.phy.mapping import Demapper, Mapper

from semcom.fec.mcs import MCS, mcs_table, parse_mcs
from semcom.channels import AWGN, RayleighBlock
from semcom.fec.polar import PolarBlockCode
from semcom.runner.config import compose, preflight
from semcom.errors import SemcomError
from semcom.runner.job import run_job
from semcom.metrics import get_metric
from semcom.pipelines.base import build_pipeline, to_uint8
from semcom.randomness import generator

TABLE = [[1 / 3, 4], [0.5, 4], [0.5, 16], [0.75, 16]]


@pytest.fixture(scope="module")
def tiny(astronaut):
    """Two 64x64 crops."""
    return torch.stack([astronaut[:, 100:164, 200:264], astronaut[:, 300:364, 300:364]])


def test_nr_tables_are_38214_at_or_above_one_fifth():
    t1, t2 = mcs_table("nr_table1"), mcs_table("nr_table2")
    assert len(t1) == 26 and len(t2) == 26
    assert min(m.rate for m in t1 + t2) >= 0.2
    # 38.214 Table 5.1.3.1-1: index 3 QPSK 251/1024, index 28 64-QAM 948/1024
    assert t1[0] == MCS(251 / 1024, 4) and t1[-1] == MCS(948 / 1024, 64)
    # Table 5.1.3.1-2: index 27 256-QAM 948/1024; index 20 256-QAM 682.5/1024
    assert t2[-1] == MCS(948 / 1024, 256) and MCS(682.5 / 1024, 256) in t2
    assert [m.qam for m in mcs_table("compact")] == [4, 4, 4, 16, 16, 64, 64, 256]
    assert mcs_table([[0.75, 16], ["1/2", 4]]) == [MCS(0.5, 4), MCS(0.75, 16)]


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        ("worst", {}, "pipeline.mcs='worst' is unknown"),
        ({"rate": 0.5}, {}, "needs exactly 'rate' and 'qam'"),
        ({"rate": 0.5, "qam": 8}, {}, "qam=8 is not supported"),
        ({"rate": 1.5, "qam": 4}, {}, "out of range"),
        ({"rate": 0.5, "qam": 4}, {"qam": 16}, "not both"),
    ],
)
def test_bad_mcs_values_are_one_line_errors(value, kwargs, message):
    with pytest.raises(SemcomError, match=message):
        parse_mcs(value, **kwargs)


def test_mcs_command_lines_compose():
    best = compose(["pipeline=bpg_ldpc", "pipeline.mcs=best"])
    assert best.pipeline.mcs == "best"
    fixed = compose(["pipeline=bpg_ldpc", "pipeline.mcs.rate=0.5", "pipeline.mcs.qam=16"])
    assert dict(fixed.pipeline.mcs) == {"rate": 0.5, "qam": 16}
    preflight(["pipeline=jpeg2000_ldpc", "pipeline.mcs=best", "channel=rayleigh_block"])
    for name in ("bpg_capacity", "jpeg2000_capacity", "webp_capacity", "jpeg_capacity", "webp_ldpc", "jpeg_ldpc", "bpg_polar"):
        cfg = compose([f"pipeline={name}"])
        pipe = build_pipeline(cfg.pipeline, ratio=1 / 16)
        assert pipe.name == name
    assert build_pipeline(best.pipeline, ratio=1 / 16).name == "bpg_ldpc_best"
    assert build_pipeline({**fixed.pipeline, "name": "x_{mcs}"}, ratio=1 / 16).name == "x_16qam_r0.5"
    with pytest.raises(SemcomError, match="pipeline.mcs='fast' is unknown"):
        build_pipeline({**best.pipeline, "mcs": "fast"}, ratio=1 / 16)


def _psnr_mean(images, rec):
    q = (rec.clamp(0, 1) * 255).round() / 255
    return float(get_metric("psnr")(images, q).mean())


@pytest.mark.parametrize("channel, snr", [(AWGN(), 5.0), (RayleighBlock(), 9.0)], ids=["awgn", "rayleigh"])
def test_best_mcs_equals_brute_force_over_the_table(tiny, channel, snr):
    """The pruned search picks the scheme a full decode of every scheme picks, with the same images."""
    cfg = {"kind": "separate", "name": "webp_ldpc", "codec": "webp", "codeword_bits": 1024}
    best = build_pipeline({**cfg, "mcs": "best", "mcs_table": TABLE}, ratio=1 / 4)
    seeds = [11, 12]
    tx = best.transmit(tiny, snr, channel, [generator(s) for s in seeds])
    means = {}
    for rate, qam in TABLE:
        fixed = build_pipeline({**cfg, "mcs": {"rate": rate, "qam": qam}}, ratio=1 / 4)
        ftx = fixed.transmit(tiny, snr, channel, [generator(s) for s in seeds])
        means[(rate, qam)] = (_psnr_mean(tiny, ftx.reconstructions), ftx)
    winner = max(means, key=lambda k: means[k][0])
    chosen = (tx.extras["code_rate"][0], tx.extras["qam"][0])
    assert means[chosen][0] == pytest.approx(means[winner][0])
    ref = means[chosen][1]
    assert torch.equal(tx.reconstructions, ref.reconstructions) and torch.equal(tx.failed, ref.failed)
    assert torch.equal(tx.channel_uses, ref.channel_uses) and torch.equal(tx.bits, ref.bits)
    assert set(tx.extras["mcs_policy"]) == {"best"} and 1 <= tx.extras["mcs_decoded"][0] <= len(TABLE)


def test_best_mcs_in_a_job_chooses_per_snr_on_all_images_and_shows_the_cliff(tmp_path, tiny):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(to_uint8(tiny)):
        Image.fromarray(img).save(folder / f"{i}.png")
    cfg = compose(["pipeline=webp_ldpc", "pipeline.mcs=best", f"pipeline.mcs_table={TABLE}".replace(" ", ""),
                   "pipeline.codeword_bits=1024", "dataset=folder", f"dataset.path={folder}", "snr_db=[-6,12]",
                   "ratio=1/4", "metrics=[psnr]", "plots=false", "batch_size=1"])
    df = run_job(cfg, tmp_path / "job", progress=False)
    assert set(df.pipeline) == {"webp_ldpc_best"} and len(df) == 4
    per_snr = df.groupby("snr_db")
    # one scheme per SNR for every image (chosen on the mean over both images, batches of one)
    assert (per_snr["code_rate"].nunique() == 1).all() and (per_snr["qam"].nunique() == 1).all()
    lo, hi = df[df.snr_db == -6], df[df.snr_db == 12]
    assert lo.failed.all()  # below the cliff: every scheme loses every image
    # 12 dB (capacity 4.07 bit/use) carries the table's top scheme, 16-QAM 3/4, without a loss
    assert not hi.failed.any() and (hi.psnr > lo.psnr.max() + 10).all()
    assert (hi.code_rate == 0.75).all() and (hi.qam == 16).all() and (hi.mcs_decoded == 1).all()


def test_polar_segmentation_crc_and_waterfall():
    code = PolarBlockCode(0.5, 2, codeword_bits=256)
    layout = code.layout(256 * 40, payload_bits=3000)
    assert (layout.k, layout.n, layout.count) == (128, 256, math.ceil(3000 / 104))
    g = generator(3)
    payload = torch.randint(0, 2, (3000,), generator=g).float()
    coded = code.encode(payload, layout)
    bits, ok = code.decode_batch((2 * coded - 1) * 10.0, layout.k, layout.n)
    assert ok.all() and torch.equal(bits.reshape(-1)[:3000], payload)
    # AWGN, QPSK, Eb/N0 per bit of k: 0 dB loses most blocks, 3 dB almost none; CRC24A sees every loss
    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2)
    full = code.layout(256 * 60)
    rates = {}
    for ebn0 in (0.0, 3.0):
        u = torch.randint(0, 2, (full.payload_capacity,), generator=g).float()
        out = AWGN()(mapper(code.encode(u, full).reshape(1, -1)), ebn0 + 10 * math.log10(2 * 0.5), g)
        x_hat, n0 = out.equalize()
        bits, ok = code.decode_batch(demapper(x_hat, n0).reshape(full.count, full.n), full.k, full.n)
        wrong = (bits.reshape(full.count, -1) != u.reshape(full.count, -1)).any(dim=1)
        assert not (ok & wrong).any()
        rates[ebn0] = 1 - ok.float().mean().item()
    assert rates[0.0] > 0.5 and rates[3.0] < 0.05
    with pytest.raises(ValueError, match="1088"):
        PolarBlockCode(0.5, 2, codeword_bits=2048)


def test_polar_chain_end_to_end(tiny):
    pipe = build_pipeline({"kind": "separate", "name": "webp_polar", "codec": "webp", "code": "polar",
                           "mcs": {"rate": 0.5, "qam": 16}}, ratio=1 / 4)
    tx = pipe.transmit(tiny[:1], 14.0, AWGN(), [generator(1)])
    assert not tx.failed.any() and tx.extras["code"] == ["polar"] and tx.extras["codewords"][0] > 1
    assert float(get_metric("psnr")(tiny[:1], tx.reconstructions)[0]) > 25


def test_cli_accepts_mcs_best_over_the_dict_node(tmp_path):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "semcom.run", "--cfg", "job", "pipeline=bpg_ldpc", "pipeline.mcs=best",
                        "pipeline.mcs_table=nr_table2", "channel=rayleigh_block"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "mcs: best" in p.stdout and "mcs_table: nr_table2" in p.stdout
