"""Channel families, receiver CSI and equalisation against closed forms; seeding; gradients; configs.

Sample sizes: every BER point sees >= ~3000 bit errors from >= ~40,000 independent fades, so a
5 % relative tolerance is about 3 sigma or more.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate
from scipy.special import erfc, exp1
from sionna.phy.mapping import Demapper, Mapper, SymbolDemapper

from semcom.channels.capacity import rician_gain_pdf
from semcom.channels import AWGN, TDLOFDM, ChannelOutput, RayleighBlock, RayleighFast, Rician, build_channel
from semcom.errors import SemcomError
from semcom.randomness import generator


def qfunc(x):
    return 0.5 * erfc(x / math.sqrt(2))


def rayleigh_bpsk_ber(snr):
    """BPSK over Rayleigh, perfect CSI, SNR = Eb/N0 linear."""
    return 0.5 * (1 - math.sqrt(snr / (1 + snr)))


def imperfect_csi_bpsk_ber(n0, err_var):
    """BPSK over Rayleigh with h_est = h + e, e ~ CN(0, err_var) independent of h and of the noise.

    The decision sign(Re(conj(h_est) y x)) compares two jointly Gaussian variables:
    P = (1 - rho) / 2 with rho = E|h|^2 / sqrt((1 + err_var)(1 + N0)) (Proakis, App. B).
    """
    return 0.5 * (1 - 1 / math.sqrt((1 + n0) * (1 + err_var)))


def rician_bpsk_ber(snr, k_db):
    """BPSK over Rician fading, perfect CSI: Q(sqrt(2 snr t)) averaged over the |h|^2 density."""
    val, _ = integrate.quad(lambda t: qfunc(math.sqrt(2 * snr * t)) * float(rician_gain_pdf(t, k_db)), 0, 60, limit=400, points=[1.0])
    return val


def bpsk_errors(channel, snr_db, shape, rng, method="llr"):
    """Uncoded BPSK (+-1) through ``channel``: (bit errors, bits) from sign decisions on the equalised symbols."""
    s = (torch.randint(0, 2, shape, generator=rng) * 2 - 1).to(torch.complex64)
    out = channel(s, snr_db, rng)
    x_hat = out.llr_inputs()[0] if method == "llr" else out.equalize(method)[0]
    return int(((x_hat.real > 0).to(torch.int64) * 2 - 1 != s.real.to(torch.int64)).sum()), s.numel()


# --- flat fading: closed forms -------------------------------------------------------------------


def test_bpsk_and_qpsk_over_fast_rayleigh_match_closed_form():
    ebn0_db = torch.tensor([0.0, 5.0, 10.0, 15.0]).repeat_interleave(50)  # 50 rows per point
    rng = generator(21)
    # BPSK: Es/N0 = Eb/N0
    s = (torch.randint(0, 2, (200, 10**4), generator=rng) * 2 - 1).to(torch.complex64)
    out = RayleighFast()(s, ebn0_db, rng)
    wrong = (out.llr_inputs()[0].real > 0).to(torch.int64) * 2 - 1 != s.real.to(torch.int64)
    # QPSK with Sionna's mapper and APP demapper: Es/N0 = 2 Eb/N0
    mapper, demapper = Mapper("qam", 2), Demapper("app", "qam", 2)
    bits = torch.randint(0, 2, (200, 2 * 10**4), generator=rng).float()
    out_q = RayleighFast()(mapper(bits), ebn0_db + 10 * math.log10(2), rng)
    x_hat, n0_eff = out_q.llr_inputs()
    wrong_q = (demapper(x_hat, n0_eff) > 0).float() != bits
    for p in range(4):
        rows = slice(50 * p, 50 * (p + 1))
        expected = rayleigh_bpsk_ber(10 ** (float(ebn0_db[50 * p]) / 10))
        assert wrong[rows].double().mean().item() == pytest.approx(expected, rel=0.05)
        assert wrong_q[rows].double().mean().item() == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("snr_db", [10.0, 14.0, 18.0])
def test_16qam_over_awgn_exact_ser_and_ber(snr_db):
    mapper = Mapper("qam", 4, return_indices=True)
    sym_demap, bit_demap = SymbolDemapper("qam", 4, hard_out=True), Demapper("maxlog", "qam", 4, hard_out=True)
    rng = generator(int(snr_db))
    bits = torch.randint(0, 2, (40, 4 * 10**4), generator=rng).float()
    x, idx = mapper(bits)
    out = AWGN()(x, snr_db, rng)
    x_hat, n0 = out.llr_inputs()
    ser = (sym_demap(x_hat, n0) != idx).double().mean().item()
    ber = (bit_demap(x_hat, n0) != bits).double().mean().item()
    a = math.sqrt(3 * 10 ** (snr_db / 10) / 15)  # half the minimum distance over the noise std per dimension
    p_pam = 1.5 * qfunc(a)  # 4-PAM symbol error per dimension: 2 (1 - 1/sqrt(M)) Q(a)
    assert ser == pytest.approx(1 - (1 - p_pam) ** 2, rel=0.05)
    assert ber == pytest.approx((3 * qfunc(a) + 2 * qfunc(3 * a) - qfunc(5 * a)) / 4, rel=0.05)  # Gray, exact


def test_rician_ber_matches_integral_and_limits():
    ebn0_db = 4.0
    snr = 10 ** (ebn0_db / 10)
    rng = generator(31)
    results = {}
    for k_db in (-math.inf, 0.0, 10.0, 30.0):
        errors, total = bpsk_errors(Rician(k_db=k_db, coherence=1), ebn0_db, (100, 10**4), rng)
        results[k_db] = errors / total
        assert results[k_db] == pytest.approx(rician_bpsk_ber(snr, k_db), rel=0.05), k_db
    # K = 0 is Rayleigh; K large approaches AWGN (Q(sqrt(2 Eb/N0))) from above
    assert rician_bpsk_ber(snr, -math.inf) == pytest.approx(rayleigh_bpsk_ber(snr), rel=1e-6)
    assert results[-math.inf] == pytest.approx(rayleigh_bpsk_ber(snr), rel=0.05)
    awgn = qfunc(math.sqrt(2 * snr))
    assert results[30.0] == pytest.approx(awgn, rel=0.05)
    assert rician_bpsk_ber(snr, 30.0) == pytest.approx(awgn, rel=0.01) and rician_bpsk_ber(snr, 30.0) > awgn
    assert results[-math.inf] > results[0.0] > results[10.0] > results[30.0]


def test_rician_gain_statistics_and_los_phase():
    k_db = 6.0
    k = 10 ** (k_db / 10)
    h = Rician(k_db=k_db, coherence=1).gains((1, 2 * 10**5), generator(3), "cpu")
    assert h.abs().square().mean().item() == pytest.approx(1.0, rel=0.01)
    los = math.sqrt(k / (k + 1))
    assert h.mean().real.item() == pytest.approx(los, abs=0.01) and abs(h.mean().imag.item()) < 0.01  # LOS phase 0: real, positive
    rotated = Rician(k_db=k_db, los_phase=math.pi / 2, coherence=1).gains((1, 10**5), generator(3), "cpu")
    assert rotated.mean().imag.item() == pytest.approx(los, abs=0.01)
    random_phase = Rician(k_db=k_db, los_phase="random", coherence=1).gains((1, 10**5), generator(3), "cpu")
    assert abs(random_phase.mean()) < 0.01 and random_phase.abs().square().mean().item() == pytest.approx(1.0, rel=0.01)
    # the envelope follows the same law whatever the phase: compare the |h|^2 means above 2
    assert (random_phase.abs().square() > 2).double().mean().item() == pytest.approx((h.abs().square() > 2).double().mean().item(), rel=0.1)


def test_block_fading_coherence_in_symbols():
    for chan, c in ((RayleighBlock(coherence=7), 7), (Rician(k_db=3.0, coherence=5), 5)):
        h = chan.gains((300, 40), generator(2), "cpu")
        blocks = h.reshape(300, -1)[:, :35].reshape(300, -1, c) if 40 % c else h.reshape(300, -1, c)
        assert torch.equal(blocks, blocks[..., :1].expand_as(blocks))  # constant within a block
        assert not torch.equal(h[:, c - 1], h[:, c])  # changes at the block edge
        assert torch.equal(h[:, 35:], h[:, 35:36].expand(300, 5)) if c == 7 else True
    fast = RayleighFast().gains((2, 1000), generator(2), "cpu")
    assert (fast[:, 1:] != fast[:, :-1]).all()
    whole = RayleighBlock().gains((3, 100), generator(2), "cpu")
    assert torch.equal(whole, whole[:, :1].expand(3, 100))


# --- receiver: CSI and equalisers ----------------------------------------------------------------


def test_ls_csi_penalty_matches_closed_form_and_shrinks_with_pilot_power():
    snr_db = 10.0
    n0 = 10 ** (-snr_db / 10)
    rng = generator(41)
    perfect = rayleigh_bpsk_ber(1 / n0)
    bers = []
    for pilot_db in (-5.0, 0.0, 10.0, 20.0):
        chan = RayleighBlock(coherence=4, csi="ls", pilot_power_db=pilot_db)
        errors, total = bpsk_errors(chan, snr_db, (100, 4000), rng)  # 100,000 fades
        bers.append(errors / total)
        err_var = n0 / 10 ** (pilot_db / 10)
        assert bers[-1] == pytest.approx(imperfect_csi_bpsk_ber(n0, err_var), rel=0.05), pilot_db
    assert all(a > b for a, b in zip(bers, bers[1:]))  # the penalty shrinks as pilot power grows
    assert bers[0] > 1.3 * perfect and bers[-1] == pytest.approx(perfect, rel=0.05)
    assert RayleighBlock(coherence=4, csi="ls", pilots=2).overhead(4000) == {"pilot_uses": 2000}
    assert RayleighBlock(coherence=4).overhead(4000) == {"pilot_uses": 0}


def test_ls_estimate_error_variance_and_noisy_csi_floor():
    chan = RayleighFast(csi="ls", pilots=4, pilot_power_db=3.0)
    out = chan(torch.ones(1, 2 * 10**5, dtype=torch.complex64), 5.0, generator(4))
    expected = 10 ** (-0.5) / (4 * 10 ** 0.3)
    assert (out.h_est - out.h).abs().square().mean().item() == pytest.approx(expected, rel=0.02)
    assert torch.allclose(out.csi_var, torch.tensor(expected), rtol=1e-5)
    # csi=noisy: an error floor at high SNR given by the error variance
    errors, total = bpsk_errors(RayleighFast(csi="noisy", csi_error_var=0.1), 40.0, (20, 10**4), generator(5))
    assert errors / total == pytest.approx(imperfect_csi_bpsk_ber(1e-4, 0.1), rel=0.05)


def test_effective_noise_includes_csi_error_and_mmse_is_lmmse():
    h = torch.tensor([[1 + 1j, 0.5j, 0.1]], dtype=torch.complex64)
    out = ChannelOutput(y=h * 2, h=h, n0=torch.tensor([[0.2]]), h_est=h * 1.1, csi_var=torch.tensor([[0.05]]), equalizer="mmse")
    x_zf, n_zf = out.llr_inputs()
    assert torch.allclose(x_zf, 2 / 1.1 * torch.ones_like(h)) and torch.allclose(n_zf, 0.25 / (1.21 * h.abs().square()))
    x_mm, n_mm = out.equalize()  # the configured equaliser: mmse
    g = 1.21 * h.abs().square()
    assert torch.allclose(x_mm, (h * 1.1).conj() * h * 2 / (g + 0.25)) and torch.allclose(n_mm, 0.25 / (g + 0.25))
    assert torch.equal(out.equalize("zf")[0], x_zf)
    assert out.decoder_input("csi").shape == (1, 2, 3) and torch.equal(out.decoder_input("csi")[:, 1], out.h_est)
    with pytest.raises(SemcomError):
        out.equalize("ml")


def test_mmse_mse_over_rayleigh_matches_closed_form():
    # LMMSE error of a unit-energy symbol: E[N0 / (|h|^2 + N0)] = (1/snr) exp(1/snr) E1(1/snr)
    rng = generator(8)
    snr_db = 10.0
    snr = 10 ** (snr_db / 10)
    x = torch.polar(torch.ones(10, 10**5), torch.rand(10, 10**5, generator=rng) * 2 * math.pi)
    chan = RayleighFast(equalizer="mmse")
    out = chan(x, snr_db, generator(9))
    x_hat, mse = out.equalize()
    expected = math.exp(1 / snr) * exp1(1 / snr) / snr
    assert (x_hat - x).abs().square().mean().item() == pytest.approx(expected, rel=0.02)
    assert mse.mean().item() == pytest.approx(expected, rel=0.02)
    # ZF has no finite mean squared error over Rayleigh; its LLR inputs are what MMSE gives unbiased
    assert torch.equal(RayleighFast(equalizer="zf")(x, snr_db, generator(9)).llr_inputs()[0], out.llr_inputs()[0])
    # hard decisions of QPSK do not depend on the equaliser
    assert torch.equal(torch.sign(out.equalize("zf")[0].real), torch.sign(x_hat.real))


# --- TDL multipath through OFDM ------------------------------------------------------------------


def test_tdl_ofdm_average_power_and_frequency_selectivity():
    chan = TDLOFDM(model="A", delay_spread_ns=100.0)
    h = chan.grid_gains(800, 1, generator(9), "cpu")  # (800, 1, 14, 128)
    assert h.abs().square().mean().item() == pytest.approx(1.0, rel=0.04)
    f = h[:, 0, 0]
    corr = lambda lag: abs((f[:, lag:] * f[:, : f.shape[1] - lag].conj()).mean().item())  # noqa: E731
    assert corr(1) > 0.95 and corr(64) < 0.8  # correlated across neighbours, selective across the band
    assert chan.data_per_slot == 14 * 128 and chan.ofdm_symbol_s == pytest.approx((128 + 9) / 3.84e6)


def test_tdl_ofdm_per_subcarrier_ber_matches_flat_rayleigh_theory():
    # NLOS TDL-C: each resource element is flat Rayleigh fading, so ZF per subcarrier gives the BPSK
    # Rayleigh closed form. 20,000 images of one OFDM symbol (static channel) with TR 38.901's
    # "very long" 1000 ns delay spread (max excess delay 8.65 us < 9.4 us prefix of 36 samples):
    # ~18 independent fades per symbol; the estimates' spread over seeds is 0.5 % (5 dB), 0.9 % (10 dB).
    chan = TDLOFDM(model="C", delay_spread_ns=1000.0, cyclic_prefix_length=36, num_ofdm_symbols=1, speed_kmh=0.0)
    snr_db = torch.tensor([5.0, 10.0]).repeat_interleave(10**4)
    rng = generator(10)
    s = (torch.randint(0, 2, (2 * 10**4, 128), generator=rng) * 2 - 1).to(torch.complex64)
    out = chan(s, snr_db, rng)
    wrong = (out.llr_inputs()[0].real > 0).to(torch.int64) * 2 - 1 != s.real.to(torch.int64)
    for i, db in enumerate((5.0, 10.0)):
        rows = slice(10**4 * i, 10**4 * (i + 1))
        ber = wrong[rows].double().mean().item()
        assert ber == pytest.approx(rayleigh_bpsk_ber(10 ** (db / 10)), rel=0.05), db
        # given the realised gains, the per-subcarrier closed form Q(sqrt(2 snr |H|^2)) is exact up to bit noise
        given_h = qfunc(torch.sqrt(2 * 10 ** (db / 10) * out.h[rows].abs().square().double()).numpy()).mean()
        assert ber == pytest.approx(given_h, rel=0.02)
    gain = out.h.abs().square()
    assert gain.mean().item() == pytest.approx(1.0, rel=0.01)
    assert (gain < 0.1).double().mean().item() == pytest.approx(1 - math.exp(-0.1), rel=0.05)  # Exp(1) |H|^2


def test_tdl_ofdm_ls_pilots_match_closed_form_and_report_overhead():
    snr_db = 10.0
    n0 = 10 ** (-snr_db / 10)
    rng = generator(12)
    bers = []
    for pilot_db in (0.0, 15.0):
        # static channel, a pilot OFDM symbol before each data symbol, nearest-pilot estimate:
        # h_est = h + CN(0, N0 / pilot power) on every resource element
        chan = TDLOFDM(model="C", delay_spread_ns=1000.0, cyclic_prefix_length=36, speed_kmh=0.0, num_ofdm_symbols=2,
                       pilot_ofdm_symbols=[0], csi="ls", interpolation="nn", pilot_power_db=pilot_db)
        s = (torch.randint(0, 2, (10**4, 128), generator=rng) * 2 - 1).to(torch.complex64)
        out = chan(s, snr_db, rng)
        assert torch.allclose(out.csi_var, torch.tensor(n0 / 10 ** (pilot_db / 10)), rtol=1e-4)
        wrong = (out.llr_inputs()[0].real > 0).to(torch.int64) * 2 - 1 != s.real.to(torch.int64)
        bers.append(wrong.double().mean().item())
        assert bers[-1] == pytest.approx(imperfect_csi_bpsk_ber(n0, n0 / 10 ** (pilot_db / 10)), rel=0.05), pilot_db
    assert bers[0] > 1.3 * bers[1]
    ls = TDLOFDM(csi="ls")
    assert ls.data_per_slot == 12 * 128
    assert ls.overhead(3000) == {"pilot_uses": 2 * 2 * 128, "padding_uses": 2 * 1536 - 3000, "cp_uses": 2 * 14 * 9}
    assert TDLOFDM().overhead(3000)["pilot_uses"] == 0


def test_tdl_ofdm_checks_its_settings():
    with pytest.warns(UserWarning, match="cyclic prefix"):
        TDLOFDM(model="A", delay_spread_ns=300.0)
    assert TDLOFDM(model="A30", delay_spread_ns=None).label == "tdl_ofdm[model=A30,delay_spread_ns=30]"
    for bad in ({"model": "Z"}, {"model": "A30", "delay_spread_ns": 100.0}, {"pilot_ofdm_symbols": [14], "csi": "ls"},
                {"fft_size": 0}, {"interpolation": "cubic"}, {"delay_spread_ns": -1.0}):
        with pytest.raises(SemcomError):
            TDLOFDM(**bad)


# --- every channel: seeding, batching, gradients, configs ------------------------------------------

ALL = [
    {"name": "awgn"}, {"name": "rayleigh_block", "coherence": 16}, {"name": "rayleigh_fast"},
    {"name": "rician", "k_db": 3.0, "los_phase": "random"}, {"name": "tdl_ofdm", "speed_kmh": 30.0},
]


@pytest.mark.parametrize("cfg", ALL, ids=[c["name"] for c in ALL])
@pytest.mark.parametrize("csi", ["perfect", "ls", "noisy"])
def test_every_channel_is_seeded_per_row_and_differentiable(cfg, csi):
    chan = build_channel({**cfg, "csi": csi})
    x = torch.randn(3, 700, dtype=torch.complex64, generator=generator(0))
    gens = lambda *seeds: [generator(s) for s in seeds]  # noqa: E731
    a, b = chan(x, 8.0, gens(1, 2, 3)), chan(x, 8.0, gens(1, 2, 3))
    for field in ("y", "h", "h_est"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    alone = chan(x[1:2], 8.0, gens(2))  # a row's realisation does not depend on its batch (up to float rounding)
    assert torch.equal(alone.h, a.h[1:2]) and torch.allclose(alone.y, a.y[1:2], rtol=1e-6, atol=1e-6)
    assert torch.allclose(alone.h_est, a.h_est[1:2], rtol=1e-6, atol=1e-6)
    c = chan(x, 8.0, gens(1, 9, 3))
    assert not torch.equal(c.y[1], a.y[1]) and torch.equal(c.y[0], a.y[0])
    if cfg["name"] != "awgn":
        assert not torch.equal(c.h[1], a.h[1])
    if csi != "perfect":
        assert not torch.equal(a.h_est, a.h)
    # the true gains (and the noise, for flat channels) do not depend on the receiver's CSI mode
    ref = build_channel(cfg)(x, 8.0, gens(1, 2, 3))
    if cfg["name"] != "tdl_ofdm" or csi != "ls":
        assert torch.equal(ref.h, a.h)
    if cfg["name"] != "tdl_ofdm":
        assert torch.equal(ref.y, a.y)
    # differentiable in x, for the equaliser a learned decoder would use
    xg = x.clone().requires_grad_(True)
    for method in ("zf", "mmse"):
        x_hat = chan(xg, 8.0, gens(1, 2, 3)).equalize(method)[0]
        (grad,) = torch.autograd.grad(x_hat.abs().square().sum(), xg)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # one generator for the whole batch also works
    assert chan(x, 8.0, generator(4)).y.shape == x.shape


def test_label_names_non_default_settings():
    assert build_channel("awgn").label == "awgn"
    assert build_channel({"name": "rician", "k_db": 3}).label == "rician[k_db=3]"
    assert build_channel({"name": "rayleigh_block", "csi": "ls", "pilot_power_db": 5}).label == "rayleigh_block[csi=ls,pilot_power_db=5]"
    assert build_channel({"name": "rayleigh_block", "pilot_power_db": 5}).label == "rayleigh_block"  # unused setting
    assert build_channel({"name": "tdl_ofdm", "model": "C", "equalizer": "mmse"}).label == "tdl_ofdm[model=C,equalizer=mmse]"


def test_bad_channel_settings_are_one_line_errors():
    for cfg in ({"name": "awgn", "csi": "genie"}, {"name": "awgn", "equalizer": "ml"}, {"name": "rician", "k_db": "high"},
                {"name": "rician", "k_db": math.inf}, {"name": "rayleigh_block", "coherence": 0},
                {"name": "rayleigh_fast", "csi_error_var": -1}, {"name": "rayleigh_fast", "pilots": 0}, {"name": "nope"},
                {"name": "awgn", "coherence": 3}):
        with pytest.raises(SemcomError) as info:
            build_channel(cfg)
        assert "\n" not in str(info.value)


def test_channel_configs_compose_and_a_sweep_is_one_override():
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from semcom.runner.config import compose

    parsed = OverridesParser.create().parse_overrides(
        ["channel=awgn,rayleigh_block,rayleigh_fast,rician,tdl_ofdm", "channel.csi=perfect,ls,noisy", "channel.equalizer=zf,mmse"]
    )
    jobs = BasicSweeper.split_arguments(parsed, None)[0]
    assert len(jobs) == 5 * 3 * 2 and len({tuple(j) for j in jobs}) == 30
    labels = set()
    for overrides in jobs[::7]:  # composing is slow: every channel, CSI mode and equaliser appears
        cfg = OmegaConf.to_container(compose(overrides).channel)
        assert set(cfg) >= {"name", "csi", "equalizer", "csi_error_var", "pilot_power_db"}
        chan = build_channel(cfg)
        assert chan.csi == cfg["csi"] and chan.equalizer == cfg["equalizer"]
        labels.add(chan.label)
    assert len(labels) == len(jobs[::7])  # every job has its own name in the result table
    from semcom.registry import CHANNELS

    builtin = {n for n, e in CHANNELS.entries().items() if e.source == "semcom"}  # installed plugins add theirs
    assert builtin == {"awgn", "rayleigh_block", "rayleigh_fast", "rician", "tdl_ofdm"}
    rician = build_channel(OmegaConf.to_container(compose(["channel=rician", "channel.k_db=3"]).channel))
    assert rician.k == pytest.approx(10**0.3)
    tdl = build_channel(OmegaConf.to_container(compose(["channel=tdl_ofdm", "channel.model=B", "channel.delay_spread_ns=30"]).channel))
    assert (tdl.model, tdl.delay_spread_ns) == ("B", 30.0)


def test_job_rows_name_the_channel_setting_and_report_pilots(tmp_path, small_folder):
    from semcom.runner.config import compose
    from semcom.runner.job import run_job

    cfg = compose(["pipeline=jpeg_ldpc", "channel=tdl_ofdm", "channel.csi=ls", "channel.equalizer=mmse", "dataset=folder",
                   f"dataset.path={small_folder}", "dataset.limit=1", "snr_db=[15]", "ratio=1/6", "metrics=[psnr]", "plots=false"])
    df = run_job(cfg, tmp_path / "out", progress=False)
    row = df.iloc[0]
    assert row.channel == "tdl_ofdm[csi=ls,equalizer=mmse]" and not row.failed and row.psnr > 25
    slots = math.ceil(row.channel_uses / (12 * 128))
    assert row.pilot_uses == slots * 2 * 128 and row.cp_uses == slots * 14 * 9
    assert row.padding_uses == slots * 12 * 128 - row.channel_uses
