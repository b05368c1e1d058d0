"""End-to-end chains: JPEG + LDPC + QAM, and JPEG at capacity."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import AWGN, RayleighBlock
from semcom.codecs import JPEG
from semcom.codecs.cache import ENCODINGS
from semcom.conventions import awgn_capacity, channel_uses
from semcom.pipelines.base import Transmission, build_pipeline, from_uint8, to_uint8
from semcom.randomness import generator

LDPC_CFG = {"kind": "separate", "name": "jpeg_ldpc", "codec": "jpeg", "code_rate": 0.5, "qam": 4, "codeword_bits": 2048}


@pytest.fixture(scope="module")
def crops(astronaut):
    return torch.stack([astronaut[:, :192, :192], astronaut[:, 256:448, 256:448]])


def test_ldpc_chain_error_free_at_high_snr(crops):
    pipe = build_pipeline(LDPC_CFG, ratio=1 / 6)
    tx = pipe.transmit(crops, 12.0, AWGN(), [generator(1), generator(2)])
    assert isinstance(tx, Transmission) and not tx.failed.any()
    n_cu = channel_uses(1 / 6, 192, 192)
    assert (tx.channel_uses <= n_cu).all() and (tx.channel_uses > 0.5 * n_cu).all()
    # the receiver shows exactly the JPEG the transmitter chose
    for i in range(2):
        q = tx.extras["quality"][i]
        data = JPEG().encode(to_uint8(crops[i : i + 1])[0], q)
        assert tx.bits[i] == 8 * len(data)
        expect = from_uint8(JPEG().decode(data, (192, 192)))
        assert torch.equal(tx.reconstructions[i], expect)
        # payload capacity of the blocks that fit bounds the file size: ~ n_cu * 2 bits * 1/2
        assert tx.bits[i] <= n_cu * 2 * 0.5


def test_ldpc_chain_fails_to_grey_at_low_snr(crops):
    pipe = build_pipeline(LDPC_CFG, ratio=1 / 6)
    tx = pipe.transmit(crops, -3.0, AWGN(), [generator(1), generator(2)])
    assert tx.failed.all()
    assert torch.all(tx.reconstructions == 0.5)
    assert all(e > 0 for e in tx.extras["block_errors"])
    black = build_pipeline(LDPC_CFG, ratio=1 / 6, fallback="black").transmit(crops, -3.0, AWGN(), [generator(1), generator(2)])
    assert torch.all(black.reconstructions == 0.0)


def test_ldpc_chain_nothing_fits_is_failed(crops):
    pipe = build_pipeline(LDPC_CFG, ratio=0.002)
    tx = pipe.transmit(crops, 20.0, AWGN(), [generator(1), generator(2)])
    assert tx.failed.all() and (tx.bits == 0).all() and (tx.channel_uses == 0).all()


def test_capacity_bound_awgn_budget(crops):
    ENCODINGS.clear()
    pipe = build_pipeline({"kind": "capacity", "name": "jpeg_capacity", "codec": "jpeg"}, ratio=1 / 16)
    tx = pipe.transmit(crops, 10.0, AWGN(), [generator(1), generator(2)])
    budget = channel_uses(1 / 16, 192, 192) * awgn_capacity(10.0)
    assert tx.extras["capacity_bits"][0] == pytest.approx(budget, rel=1e-9)
    for i in range(2):
        assert tx.bits[i] <= budget
        bigger = JPEG().encode(to_uint8(crops[i : i + 1])[0], tx.extras["quality"][i] + 1)
        assert 8 * len(bigger) > budget
    # more SNR, more bits, better quality
    hi = pipe.transmit(crops, 20.0, AWGN(), [generator(1), generator(2)])
    assert (hi.bits > tx.bits).all()


def test_capacity_bound_rayleigh_uses_the_channels_own_gain(crops):
    pipe = build_pipeline({"kind": "capacity", "name": "jpeg_capacity", "codec": "jpeg"}, ratio=1 / 16)
    chan = RayleighBlock()
    tx = pipe.transmit(crops[:1], 10.0, chan, [generator(7)])
    h = chan.gains((1, 1), [generator(7)], "cpu")[0, 0]
    n_cu = channel_uses(1 / 16, 192, 192)
    expect = n_cu * math.log2(1 + abs(complex(h)) ** 2 * 10.0)
    assert tx.extras["capacity_bits"][0] == pytest.approx(expect, rel=1e-6)


def test_same_seed_same_result_different_seed_differs(crops):
    pipe = build_pipeline(LDPC_CFG, ratio=1 / 6)
    a = pipe.transmit(crops, 1.5, RayleighBlock(), [generator(5), generator(6)])
    b = pipe.transmit(crops, 1.5, RayleighBlock(), [generator(5), generator(6)])
    assert torch.equal(a.reconstructions, b.reconstructions) and a.extras == b.extras
    outcomes = set()
    for s in range(8):
        c = pipe.transmit(crops[:1], 1.5, RayleighBlock(), [generator(100 + s)])
        outcomes.add(c.extras["block_errors"][0])
    assert len(outcomes) > 1
