"""semcom's numba 5G LDPC decoder (semcom.fec.ldpc_bp) against Sionna's LDPC5GDecoder.

Same LLRs (AWGN in each code's waterfall, Sionna's app demapper), codes from the MCS tables with
filler bits, puncturing and every QAM order's output interleaver; early termination off for bit
equality. Kept small: n = 1200, 64 blocks per code.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from semcom.errors import SemcomError
from semcom.fec.ldpc import LDPCBlockCode, resolve_decoder
from semcom.fec.ldpc_bp import NumbaLDPC5GDecoder
from semcom.randomness import generator

# (k, n, bits per symbol, Es/N0 dB in the waterfall): QPSK 1/2, 16-QAM 1/2, 64-QAM 2/3 (base graph 2,
# filler bits in the first two), 256-QAM 3/4 (base graph 1, filler bits)
CODES = [(600, 1200, 2, 1.0), (600, 1200, 4, 6.5), (800, 1200, 6, 14.0), (900, 1200, 8, 20.5)]
BLOCKS = 64


def _llrs(enc: LDPC5GEncoder, m: int, es_n0_db: float, blocks: int, seed: int):
    g = generator(seed)
    u = torch.randint(0, 2, (blocks, enc.k), generator=g).float()
    x = Mapper("qam", m)(enc(u))
    n0 = 10 ** (-es_n0_db / 10)
    noise = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)) * math.sqrt(n0 / 2)
    return u, Demapper("app", "qam", m)(x + noise, torch.tensor(n0))


@pytest.fixture(scope="module", params=CODES, ids=lambda c: f"k{c[0]}_n{c[1]}_m{c[2]}")
def case(request):
    k, n, m, snr = request.param
    enc = LDPC5GEncoder(k, n, num_bits_per_symbol=m)
    u, llr = _llrs(enc, m, snr, BLOCKS, seed=k + m)
    ref = LDPC5GDecoder(enc, num_iter=20, hard_out=True, return_infobits=True)(llr)
    return enc, u, llr, ref


@pytest.mark.parametrize("rule", ["boxplus", "boxplus-phi"])
def test_bits_equal_sionna_without_early_stop(case, rule):
    enc, u, llr, ref = case
    got = NumbaLDPC5GDecoder(enc, num_iter=20, cn_update=rule, early_stop=False)(llr)
    assert got.shape == ref.shape and got.dtype == torch.float32
    same = (got == ref).all(dim=1)
    # float32 sums in another order and a more accurate phi: a block on the edge of decodability may
    # end differently (measured: about 1 in 1000 blocks, docs/ldpc_decoder.md)
    assert int((~same).sum()) <= 1, f"{int((~same).sum())} of {len(same)} blocks differ from Sionna"
    errors = int((ref != u).any(dim=1).sum())
    assert 0 < errors < BLOCKS, "the SNR should be in the waterfall"


def test_early_stop_same_block_errors_fewer_iterations(case):
    enc, u, llr, ref = case
    dec = NumbaLDPC5GDecoder(enc, num_iter=20, early_stop=True)
    got = dec(llr)
    err_ref = (ref != u).any(dim=1)
    err_got = (got != u).any(dim=1)
    # the same blocks fail, up to one in the batch
    assert int((err_ref != err_got).sum()) <= 1
    its = dec.last_iterations
    assert its.max() <= 20 and its.mean() < 20
    assert (its[~err_got.numpy()] < 20).mean() > 0.5  # decoded blocks mostly stop early


def test_minsum_variants_decode_and_are_no_better_than_bp(case):
    enc, u, llr, ref = case
    bp_err = int((ref != u).any(dim=1).sum())
    for rule in ("minsum", "offset-minsum"):
        got = NumbaLDPC5GDecoder(enc, num_iter=20, cn_update=rule)(llr)
        err = int((got != u).any(dim=1).sum())
        assert bp_err - 3 <= err < BLOCKS, (rule, err, bp_err)


def test_batch_size_and_thread_count_independence():
    enc = LDPC5GEncoder(600, 1200, num_bits_per_symbol=4)
    _, llr = _llrs(enc, 4, 6.5, 37, seed=5)
    dec = NumbaLDPC5GDecoder(enc, num_iter=20)
    whole = dec(llr)
    its = dec.last_iterations.copy()
    parts = torch.cat([dec(llr[i : i + 5]) for i in range(0, 37, 5)])
    assert torch.equal(whole, parts)
    assert torch.equal(whole[3:4], dec(llr[3:4]))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = dec(llr)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = dec(llr)
    finally:
        numba.set_num_threads(before)
    assert torch.equal(one, whole) and torch.equal(two, whole)
    assert np.array_equal(dec.last_iterations, its)


def test_block_code_decoders_roundtrip_and_describe():
    payload = torch.randint(0, 2, (3000,), generator=generator(3)).float()
    for name in ("bp", "minsum", "offset_minsum", "sionna"):
        code = LDPCBlockCode(2 / 3, 6, codeword_bits=1200, decoder=name)
        layout = code.layout(4 * 1200, payload_bits=3000)
        llr = (2 * code.encode(payload, layout) - 1) * 4.0
        bits, ok = code.decode_batch(llr, layout.k, layout.n)
        assert ok.all() and torch.equal(bits.reshape(-1)[:3000], payload), name
        assert code.describe()["ldpc_decoder"] == name
        assert code.mean_iterations <= 20
    assert LDPCBlockCode(0.5, 2).describe()["ldpc_decoder"] == "bp"  # auto on the CPU
    assert resolve_decoder("auto", "cuda") == "sionna"
    assert LDPCBlockCode(0.5, 2, early_stop=False).describe()["ldpc_early_stop"] is False


def test_bad_decoder_is_one_line_error():
    with pytest.raises(SemcomError, match="choose one of auto, bp, minsum, offset_minsum, sionna") as exc:
        LDPCBlockCode(0.5, 2, decoder="belief")
    assert "\n" not in str(exc.value)
    with pytest.raises(ValueError, match="cn_update"):
        NumbaLDPC5GDecoder(LDPC5GEncoder(600, 1200), cn_update="tanh")


def test_pipeline_keys_reach_the_code_and_the_row_parameters():
    from semcom.pipelines.separate import SeparateChain

    chain = SeparateChain("jpeg_ldpc", codec="jpeg", mcs={"rate": 0.5, "qam": 16}, ratio=1 / 16,
                          ldpc_decoder="minsum", ldpc_early_stop=False)
    params = chain.params()
    assert params["ldpc_decoder"] == "minsum" and params["ldpc_early_stop"] is False
    code = chain._link(chain.mcs).code
    assert code.decoder == "minsum" and code.early_stop is False
    default = SeparateChain("jpeg_ldpc", codec="jpeg", mcs={"rate": 0.5, "qam": 16}, ratio=1 / 16).params()
    assert default["ldpc_decoder"] == "bp" and default != params
    with pytest.raises(SemcomError, match="pipeline.ldpc_decoder='x' is unknown"):
        SeparateChain("jpeg_ldpc", codec="jpeg", mcs={"rate": 0.5, "qam": 16}, ratio=1 / 16, ldpc_decoder="x")


def test_validation_and_bench_helpers():
    from semcom.tools.bench import bench_ldpc_decoders
    from semcom.tools.ldpc_decoder import compare, snr_at_bler, wilson

    lo, hi = wilson(10, 100)
    assert 0.05 < lo < 0.1 < hi < 0.18 and wilson(0, 50)[0] == 0.0
    assert snr_at_bler([1.0, 2.0], [1.0, 0.01]) == pytest.approx(1.5)
    r = compare(0.5, 4, 1.0, batch=8, max_blocks=8, errors=100, seed=1, codeword_bits=1200)
    assert r["blocks"] == 8 and r["bit_equal_blocks"] >= 7 and r["ci_sionna"][0] <= r["bler_sionna"] <= r["ci_sionna"][1]
    (row,) = bench_ldpc_decoders(4, 1, codeword_bits=1200, points=(("qpsk", 0.5, 4, 3.0),))
    assert row["semcom_block_errors"] == row["reference_block_errors"] == 0 and row["speedup"] > 0
