"""The one convention: SNR, noise variance, power, bandwidth ratio; BER against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import erfc
from sionna.phy.mapping import Demapper, Mapper

from semcom.channels import AWGN, RayleighBlock
from semcom.conventions import (
    awgn_capacity,
    capacity_bits,
    channel_uses,
    check_snr_list,
    ebn0_db,
    measured_snr_db,
    normalize_power,
    parse_ratio,
    snr_db_to_n0,
)
from semcom.errors import SemcomError
from semcom.randomness import generator


def qfunc(x):
    return 0.5 * erfc(x / math.sqrt(2))


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 7.0, 20.0])
def test_measured_snr_matches_requested(snr_db):
    g = generator(1)
    x = torch.complex(torch.randn(1, 10**6, generator=g), torch.randn(1, 10**6, generator=g))
    x = normalize_power(x)
    out = AWGN()(x, snr_db, g)
    assert abs(measured_snr_db(x, out.y) - snr_db) < 0.1
    # noise is circular: variance N0/2 per real dimension
    n = out.y - x
    n0 = snr_db_to_n0(snr_db)
    assert n.real.var().item() == pytest.approx(n0 / 2, rel=0.01)
    assert n.imag.var().item() == pytest.approx(n0 / 2, rel=0.01)


def test_normalize_power_per_row():
    x = torch.complex(torch.randn(4, 1000), torch.randn(4, 1000)) * torch.tensor([[0.1], [1.0], [5.0], [30.0]])
    p = normalize_power(x).abs().square().mean(1)
    assert torch.allclose(p, torch.ones(4), atol=1e-5)


def _qpsk_ber(channel, ebn0, n_sym, seed):
    """Uncoded Gray QPSK with Sionna's mapper and APP demapper (hard decisions from LLR signs)."""
    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2)
    snr = ebn0 + 10 * math.log10(2)  # Es/N0 = Eb/N0 * 2 bits
    g = generator(seed)
    errors = total = 0
    for _ in range(max(1, n_sym // 10**6)):
        bits = torch.randint(0, 2, (1000, 2 * min(n_sym, 10**6) // 1000), generator=g).float()
        x = mapper(bits)
        out = channel(x, snr, g)
        x_hat, n0 = out.equalize("zf")
        llr = demapper(x_hat, n0)
        errors += int(((llr > 0).float() != bits).sum())
        total += bits.numel()
    return errors / total


@pytest.mark.parametrize("ebn0", [0, 2, 4, 6, 8])
def test_qpsk_awgn_ber_matches_q_function(ebn0):
    g = 10 ** (ebn0 / 10)
    expected = qfunc(math.sqrt(2 * g))
    n_sym = 10**6 if ebn0 < 6 else 10**7  # >= ~2000 errors at every point
    ber = _qpsk_ber(AWGN(), ebn0, n_sym, seed=ebn0)
    assert ber == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("ebn0", [0, 4, 8, 12])
def test_qpsk_rayleigh_ber_matches_closed_form(ebn0):
    # Block fading, one gain per row of 50 symbols; 20,000 independent fades per chunk.
    g = 10 ** (ebn0 / 10)
    expected = 0.5 * (1 - math.sqrt(g / (1 + g)))
    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2)
    chan = RayleighBlock()
    rng = generator(100 + ebn0)
    errors = total = 0
    for _ in range(10):
        bits = torch.randint(0, 2, (20000, 100), generator=rng).float()
        out = chan(mapper(bits), ebn0 + 10 * math.log10(2), rng)
        x_hat, n0 = out.equalize("zf")
        errors += int(((demapper(x_hat, n0) > 0).float() != bits).sum())
        total += bits.numel()
    assert errors / total == pytest.approx(expected, rel=0.05)


def test_rayleigh_gain_is_cn01_and_constant_per_block():
    chan = RayleighBlock(coherence=10)
    h = chan.gains((2000, 40), generator(3), "cpu")
    assert torch.equal(h[:, 0], h[:, 9]) and not torch.equal(h[:, 9], h[:, 10])
    blocks = h[:, ::10].reshape(-1)
    assert blocks.abs().square().mean().item() == pytest.approx(1.0, rel=0.03)
    assert abs(blocks.mean().item()) < 0.03


def test_ebn0_and_capacity_and_ratio():
    assert ebn0_db(10.0, 4, 0.5) == pytest.approx(10 - 10 * math.log10(2))
    assert awgn_capacity(0.0) == pytest.approx(1.0)
    assert awgn_capacity(torch.tensor([0.0]))[0].item() == pytest.approx(1.0)
    assert channel_uses(1 / 16, 512, 768) == 73728
    assert capacity_bits(1 / 16, 512, 768, 0.0) == pytest.approx(73728.0)
    assert parse_ratio("1/16") == 0.0625 and parse_ratio(0.0625) == 0.0625
    for bad in ("0", "-1/16", "2", "abc", "1/0"):
        with pytest.raises(SemcomError):
            parse_ratio(bad)


def test_snr_list_validation():
    assert check_snr_list([1, "4", 7.5]) == [1.0, 4.0, 7.5]
    for bad in ([], None, "10", [float("nan")], [1000]):
        with pytest.raises(SemcomError):
            check_snr_list(bad)


def test_noise_is_seeded_per_row_and_independent_of_batch():
    x = normalize_power(torch.complex(torch.randn(3, 64), torch.randn(3, 64)))
    gens = lambda: [generator(s) for s in (11, 12, 13)]  # noqa: E731
    full = AWGN()(x, 5.0, gens()).y
    alone = AWGN()(x[1:2], 5.0, [generator(12)]).y
    assert torch.equal(full[1:2], alone)
    assert torch.equal(AWGN()(x, 5.0, gens()).y, full)
    assert not torch.equal(full[0], AWGN()(x, 5.0, [generator(99), *gens()[1:]]).y[0])
    assert np.isfinite(full.abs().numpy()).all()
