"""5G LDPC through Sionna: BLER against the published reference, segmentation and CRC."""

from __future__ import annotations

import math

import pytest
import torch
from sionna.phy.mapping import Demapper, Mapper

from semcom.channels import AWGN
from semcom.fec.ldpc import LDPCBlockCode
from semcom.randomness import generator


def test_ldpc_rate_half_n1000_qpsk_bler_at_2db():
    """Rate 1/2, n = 1000, QPSK, AWGN, 20 BP iterations: BLER at Eb/N0 = 2 dB in [1e-3, 1e-2].

    (Sionna's own tutorial reports 2.8e-3.) 4000 blocks: about 11 block errors expected.
    """
    code = LDPCBlockCode(0.5, 2, codeword_bits=1000, num_iter=20)
    k, n = 500, 1000
    assert code.layout(1000).k == k + 0 and code.layout(1000).n == n
    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2)
    enc, dec = code._code(k, n)
    g = generator(2024)
    snr = 2.0 + 10 * math.log10(2 * 0.5)
    errors = blocks = 0
    for _ in range(4):
        u = torch.randint(0, 2, (1000, k), generator=g).float()
        out = AWGN()(mapper(enc(u)), snr, g)
        x_hat, n0 = out.equalize()
        u_hat = dec(demapper(x_hat, n0))
        errors += int((u_hat != u).any(dim=1).sum())
        blocks += u.shape[0]
    bler = errors / blocks
    assert 1e-3 <= bler <= 1e-2, bler


def test_segmentation_crc_roundtrip_and_detection():
    code = LDPCBlockCode(0.5, 4, codeword_bits=2048)
    layout = code.layout(10 * 2048, payload_bits=5000)
    assert layout.count == math.ceil(5000 / (1024 - 24)) and layout.coded_bits <= 10 * 2048
    payload = torch.randint(0, 2, (5000,), generator=generator(1)).float()
    coded = code.encode(payload, layout)
    assert coded.shape == (layout.count, 2048)
    llr = (2 * coded - 1) * 10.0  # noiseless logit LLRs
    bits, ok = code.decode_batch(llr, layout.k, layout.n)
    assert ok.all() and torch.equal(bits.reshape(-1)[:5000], payload)
    # garbage LLRs: every block fails its CRC
    _, ok = code.decode_batch(torch.randn(layout.count, 2048, generator=generator(2)), layout.k, layout.n)
    assert not ok.any()


def test_layout_small_budget_and_limits():
    code = LDPCBlockCode(0.5, 2, codeword_bits=4096)
    small = code.layout(1000)
    assert small.n == 1000 and small.k == 500 and small.count == 1
    assert code.layout(40) is None  # k = 20 < 12 + CRC
    assert code.layout(4096 * 3, payload_bits=10**6) is None  # does not fit
    with pytest.raises(ValueError):
        LDPCBlockCode(0.1, 2)
