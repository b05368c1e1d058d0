"""Capacity helpers against numerical integration and Monte Carlo over the channels' own gains."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from semcom.channels.capacity import (
    ergodic_capacity,
    instantaneous_capacity_bits,
    outage_capacity,
    outage_probability,
    rayleigh_ergodic_capacity,
    rician_ergodic_capacity,
)
from semcom.channels import RayleighFast, Rician
from semcom.conventions import awgn_capacity
from semcom.randomness import generator


def _integral_rayleigh(snr_db: float) -> float:
    snr = 10 ** (snr_db / 10)
    val, _ = integrate.quad(lambda t: math.log2(1 + snr * t) * math.exp(-t), 0, math.inf, limit=200)
    return val


@pytest.mark.parametrize("snr_db", [-30.0, -10.0, 0.0, 10.0, 20.0, 40.0, 60.0])
def test_ergodic_rayleigh_closed_form_matches_integration(snr_db):
    assert rayleigh_ergodic_capacity(snr_db) == pytest.approx(_integral_rayleigh(snr_db), rel=1e-7)
    # below the AWGN capacity (Jensen), and within the known 0.83 bit (Euler gamma log2 e) at high SNR
    assert rayleigh_ergodic_capacity(snr_db) < awgn_capacity(snr_db)
    if snr_db >= 60:
        assert awgn_capacity(snr_db) - rayleigh_ergodic_capacity(snr_db) == pytest.approx(0.5772156649 / math.log(2), abs=1e-4)


def test_ergodic_capacity_matches_monte_carlo_of_channel_gains():
    h = RayleighFast().gains((1, 10**6), generator(5), "cpu")
    k10 = Rician(k_db=10.0, coherence=1).gains((1, 10**6), generator(6), "cpu")
    for snr_db in (0.0, 10.0, 20.0):
        mc = float(instantaneous_capacity_bits(h, snr_db)[0]) / h.shape[1]
        assert mc == pytest.approx(rayleigh_ergodic_capacity(snr_db), rel=0.005)
        mc_k = float(instantaneous_capacity_bits(k10, snr_db)[0]) / k10.shape[1]
        assert mc_k == pytest.approx(rician_ergodic_capacity(snr_db, 10.0), rel=0.005)


def test_rician_capacity_limits():
    for snr_db in (0.0, 15.0):
        assert rician_ergodic_capacity(snr_db, -math.inf) == pytest.approx(rayleigh_ergodic_capacity(snr_db), rel=1e-9)
        assert rician_ergodic_capacity(snr_db, -30.0) == pytest.approx(rayleigh_ergodic_capacity(snr_db), rel=2e-3)
        assert rician_ergodic_capacity(snr_db, 40.0) == pytest.approx(awgn_capacity(snr_db), rel=1e-3)
        caps = [rician_ergodic_capacity(snr_db, k) for k in (0.0, 5.0, 10.0, 20.0)]
        assert all(a < b for a, b in zip(caps, caps[1:]))
    assert ergodic_capacity(10.0, "awgn") == awgn_capacity(10.0)
    assert ergodic_capacity(10.0, "rician", 10.0) == rician_ergodic_capacity(10.0, 10.0)


@pytest.mark.parametrize("rate,snr_db", [(1.0, 5.0), (2.0, 15.0), (4.0, 20.0)])
def test_outage_probability_matches_monte_carlo(rate, snr_db):
    n = 4 * 10**5
    rayleigh = RayleighFast().gains((1, n), generator(11), "cpu")[0]
    rician = Rician(k_db=6.0, los_phase="random", coherence=1).gains((1, n), generator(12), "cpu")[0]
    snr = 10 ** (snr_db / 10)
    for h, fading, k in ((rayleigh, "rayleigh", None), (rician, "rician", 6.0)):
        mc = float((torch.log2(1 + h.abs().square().double() * snr) < rate).double().mean())
        p = outage_probability(rate, snr_db, fading, k)
        # >= 2000 outage events at every point: 5 % is > 2 sigma; tolerance 5 % + 3 sigma
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(mc - p) < 0.05 * p + 3 * sigma, (fading, mc, p)
    # closed form for Rayleigh; Rician K -> -inf is Rayleigh
    assert outage_probability(rate, snr_db) == pytest.approx(1 - math.exp(-(2**rate - 1) / snr), rel=1e-12)
    assert outage_probability(rate, snr_db, "rician", -math.inf) == pytest.approx(outage_probability(rate, snr_db), rel=1e-12)


def test_outage_capacity_inverts_outage_probability():
    for fading, k in (("rayleigh", None), ("rician", 8.0)):
        for eps in (0.01, 0.1):
            r = outage_capacity(eps, 12.0, fading, k)
            assert outage_probability(r, 12.0, fading, k) == pytest.approx(eps, rel=1e-6)
    # AWGN: no outage below capacity, certain outage above
    c = awgn_capacity(7.0)
    assert outage_probability(c * 0.99, 7.0, "awgn") == 0.0 and outage_probability(c * 1.01, 7.0, "awgn") == 1.0
    assert np.allclose(outage_probability(np.array([0.5, 1.0]), 5.0), [outage_probability(0.5, 5.0), outage_probability(1.0, 5.0)])


def test_instantaneous_bits_per_row():
    h = torch.tensor([[1.0, 1.0, 0.0], [2.0, 0.0, 0.0]], dtype=torch.complex64)
    bits = instantaneous_capacity_bits(h, torch.tensor([0.0, 10.0]))
    assert bits[0].item() == pytest.approx(2.0) and bits[1].item() == pytest.approx(math.log2(41.0))
