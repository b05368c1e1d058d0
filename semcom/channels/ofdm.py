"""Multipath fading through OFDM: 3GPP TR 38.901 TDL models on a Sionna OFDM resource grid.

The transmitter's symbols ``x`` (N, L) fill Sionna ``ResourceGrid`` slots of ``num_ofdm_symbols``
OFDM symbols x ``fft_size`` subcarriers: the data resource elements of a slot are taken in order,
subcarriers first, then OFDM symbols (Sionna's ``ResourceGridMapper`` order), slot after slot; the
last slot is padded with zero symbols. An image of L symbols therefore occupies
S = ceil(L / D) slots, D = data resource elements per slot (``fft_size * num_ofdm_symbols``
without pilots; under ``csi=ls`` the OFDM symbols ``pilot_ofdm_symbols`` carry pilots on every
subcarrier and are not data).

The channel of each image is one Sionna ``TDL`` realisation (``model``, ``delay_spread_ns``,
``carrier_frequency_ghz``, ``speed_kmh``) sampled once per OFDM symbol over the image's S slots,
so it evolves continuously with Doppler across the image; ``cir_to_ofdm_channel`` turns it into a
per-subcarrier frequency response H[t, k]. The power-delay profile is normalised, so E|H|^2 = 1
and the SNR per resource element is Es/N0, as everywhere in semcom. Each resource element sees
y = H x + n with n ~ CN(0, N0) (the frequency-domain OFDM model of Sionna's ``OFDMChannel``: the
cyclic prefix is assumed to cover the channel's delay spread, so there is no inter-symbol or
inter-carrier interference; a warning names the power beyond the prefix when it does not). The
receiver equalises per subcarrier (ZF or MMSE on each resource element).

Defaults: 30 kHz subcarrier spacing, FFT size 128 (3.84 MHz), cyclic prefix 9 samples
(2.34 us, NR normal CP at 30 kHz: 7.03 % of the useful symbol), 14 OFDM symbols per slot
(0.5 ms), TDL-A with 100 ns RMS delay spread (max excess delay 0.97 us), 3.5 GHz carrier,
3 km/h (max Doppler 9.7 Hz). Under ``csi=ls``: pilots on OFDM symbols 2 and 11 of each slot
(2/14 = 14.3 % of the resource elements), QPSK pilot (1+j)/sqrt(2) scaled to
``pilot_power_db``, Sionna's ``LSChannelEstimator`` with ``interpolation`` (``lin`` across OFDM
symbols by default, or ``nn``); its error variance enters each symbol's effective noise.

Overheads not counted in the bandwidth ratio (which counts data symbols) are reported by
:meth:`TDLOFDM.overhead`: pilot resource elements, zero padding of the last slot, and cyclic
prefix samples.

Random draws per row: the TDL realisation (Sionna's draws, taken from the row's generator), then
the noise of the whole grid (pilots included), then under ``csi=noisy`` the CSI error.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies
from sionna.phy.channel.tr38901 import TDL
from sionna.phy.ofdm import LSChannelEstimator, PilotPattern, ResourceGrid, ResourceGridMapper

from semcom.channels.base import Channel, ChannelOutput
from semcom.errors import SemcomError
from semcom.randomness import Rng, complex_normal_rows

#: Scalable TR 38.901 profiles (delays scaled by the delay spread) and fixed TS 38.101-4 ones (ns).
SCALABLE_MODELS = ("A", "B", "C", "D", "E")
FIXED_MODELS = {"A10": 10.0, "A30": 30.0, "B100": 100.0, "C60": 60.0, "C300": 300.0, "D10": 10.0, "D30": 30.0}
INTERPOLATIONS = ("nn", "lin", "lin_time_avg")


class _SeededTDL(TDL):
    """Sionna's TDL drawing from a generator we hand it (one per image) instead of Sionna's global one."""

    generator: torch.Generator | None = None

    @property
    def torch_rng(self) -> torch.Generator:
        return self.generator if self.generator is not None else super().torch_rng


@dataclass
class _Parts:
    tdl: _SeededTDL
    frequencies: torch.Tensor
    grid: ResourceGrid
    mapper: ResourceGridMapper
    estimator: LSChannelEstimator | None
    data_ind: torch.Tensor  # (D,) flat indices (ofdm symbol * fft_size + subcarrier) of data REs


def _sionna_device(device: torch.device) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda:{device.index if device.index is not None else torch.cuda.current_device()}"
    return str(device)


class TDLOFDM(Channel):
    """TDL multipath channel through an OFDM resource grid with per-subcarrier equalisation.

    Args:
        model: TDL profile: ``A``..``E`` (TR 38.901, scaled by ``delay_spread_ns``; D and E have a
            LOS tap) or the fixed TS 38.101-4 profiles ``A10``, ``A30``, ``B100``, ``C60``,
            ``C300``, ``D10``, ``D30`` (give ``delay_spread_ns`` null or the profile's value).
        delay_spread_ns: RMS delay spread, ns.
        carrier_frequency_ghz: carrier frequency, GHz (Doppler only).
        subcarrier_spacing_khz: subcarrier spacing, kHz.
        fft_size: subcarriers per OFDM symbol (all carry data or pilots; no guard or DC carriers).
        cyclic_prefix_length: cyclic prefix, samples.
        num_ofdm_symbols: OFDM symbols per slot (resource grid).
        speed_kmh: receiver speed, km/h (fixed; 0 = static channel over the image).
        pilot_ofdm_symbols: OFDM symbols of a slot that carry pilots under ``csi=ls``.
        interpolation: Sionna LS interpolation across the grid, ``lin``, ``nn`` or ``lin_time_avg``.
        csi, equalizer, csi_error_var, pilot_power_db: the receiver.
    """

    name = "tdl_ofdm"

    def __init__(
        self,
        model: str = "A",
        delay_spread_ns: float | None = 100.0,
        carrier_frequency_ghz: float = 3.5,
        subcarrier_spacing_khz: float = 30.0,
        fft_size: int = 128,
        cyclic_prefix_length: int = 9,
        num_ofdm_symbols: int = 14,
        speed_kmh: float = 3.0,
        pilot_ofdm_symbols: tuple[int, ...] = (2, 11),
        interpolation: str = "lin",
        csi: str = "perfect",
        equalizer: str = "zf",
        csi_error_var: float = 0.01,
        pilot_power_db: float = 0.0,
    ):
        super().__init__(csi, equalizer, csi_error_var, pilot_power_db)
        model = str(model)
        if model in FIXED_MODELS:
            fixed = FIXED_MODELS[model]
            if delay_spread_ns is not None and float(delay_spread_ns) != fixed:
                raise SemcomError(
                    f"TDL model {model} has a fixed delay spread of {fixed:g} ns: set channel.delay_spread_ns={fixed:g} "
                    f"or null, or use a scalable model (A..E) with channel.delay_spread_ns={delay_spread_ns}"
                )
            delay_spread_ns = fixed
        elif model not in SCALABLE_MODELS:
            raise SemcomError(f"channel.model={model!r} is unknown: choose a TDL model from {', '.join(SCALABLE_MODELS + tuple(FIXED_MODELS))}")
        for key, value, low in (("delay_spread_ns", delay_spread_ns, 0.0), ("carrier_frequency_ghz", carrier_frequency_ghz, 0.0),
                                ("subcarrier_spacing_khz", subcarrier_spacing_khz, 0.0)):
            if value is None or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= low:
                raise SemcomError(f"channel.{key}={value!r} must be a positive number")
        if not isinstance(speed_kmh, (int, float)) or not math.isfinite(speed_kmh) or speed_kmh < 0:
            raise SemcomError(f"channel.speed_kmh={speed_kmh!r} must be a number >= 0")
        for key, value, low in (("fft_size", fft_size, 1), ("num_ofdm_symbols", num_ofdm_symbols, 1), ("cyclic_prefix_length", cyclic_prefix_length, 0)):
            if not isinstance(value, int) or value < low:
                raise SemcomError(f"channel.{key}={value!r} must be an integer >= {low}")
        if cyclic_prefix_length > fft_size:
            raise SemcomError(f"channel.cyclic_prefix_length={cyclic_prefix_length} cannot exceed channel.fft_size={fft_size}")
        pilots = tuple(int(i) for i in pilot_ofdm_symbols)
        bad = not pilots or len(set(pilots)) != len(pilots) or min(pilots) < 0 or max(pilots) >= num_ofdm_symbols or len(pilots) >= num_ofdm_symbols
        if bad and self.csi == "ls":
            raise SemcomError(
                f"channel.pilot_ofdm_symbols={list(pilot_ofdm_symbols)} must be distinct OFDM symbol indices in [0, {num_ofdm_symbols - 1}] "
                f"leaving room for data, e.g. [2,11]"
            )
        if interpolation not in INTERPOLATIONS:
            raise SemcomError(f"channel.interpolation={interpolation!r} is unknown: choose one of {', '.join(INTERPOLATIONS)}")
        self.model = model
        self.delay_spread_ns = float(delay_spread_ns)
        self.carrier_frequency_ghz = float(carrier_frequency_ghz)
        self.subcarrier_spacing_khz = float(subcarrier_spacing_khz)
        self.fft_size = fft_size
        self.cyclic_prefix_length = cyclic_prefix_length
        self.num_ofdm_symbols = num_ofdm_symbols
        self.speed_kmh = float(speed_kmh)
        self.pilot_ofdm_symbols = list(pilots)
        self.interpolation = interpolation
        self._cache: dict[str, _Parts] = {}
        self._check_cyclic_prefix()

    # --- numbers -------------------------------------------------------------------------------
    @property
    def bandwidth_hz(self) -> float:
        return self.fft_size * self.subcarrier_spacing_khz * 1e3

    @property
    def cyclic_prefix_s(self) -> float:
        return self.cyclic_prefix_length / self.bandwidth_hz

    @property
    def ofdm_symbol_s(self) -> float:
        """OFDM symbol duration with cyclic prefix, seconds."""
        return (self.fft_size + self.cyclic_prefix_length) / self.bandwidth_hz

    @property
    def data_per_slot(self) -> int:
        """Data resource elements per slot."""
        pilot_syms = len(self.pilot_ofdm_symbols) if self.csi == "ls" else 0
        return self.fft_size * (self.num_ofdm_symbols - pilot_syms)

    def num_slots(self, length: int) -> int:
        """Slots that ``length`` data symbols occupy (the last one zero-padded)."""
        return max(1, math.ceil(length / self.data_per_slot))

    def overhead(self, channel_uses: int) -> dict:
        """Pilot resource elements, zero padding of the last slot, cyclic prefix samples."""
        if channel_uses <= 0:
            return {"pilot_uses": 0, "padding_uses": 0, "cp_uses": 0}
        s = self.num_slots(int(channel_uses))
        pilots = s * self.fft_size * len(self.pilot_ofdm_symbols) if self.csi == "ls" else 0
        return {
            "pilot_uses": pilots,
            "padding_uses": s * self.data_per_slot - int(channel_uses),
            "cp_uses": s * self.num_ofdm_symbols * self.cyclic_prefix_length,
        }

    def _check_cyclic_prefix(self) -> None:
        tdl = self._tdl("cpu")
        delays = tdl.delays.double().numpy()
        powers = tdl.mean_powers.double().numpy()
        outside = float(powers[delays > self.cyclic_prefix_s + 1e-15].sum())
        if outside > 0:
            warnings.warn(
                f"tdl_ofdm: TDL-{self.model} at {self.delay_spread_ns:g} ns has taps up to {delays.max() * 1e6:.2f} us, beyond the "
                f"{self.cyclic_prefix_s * 1e6:.2f} us cyclic prefix ({outside:.3%} of the power); the frequency-domain model ignores "
                f"the resulting interference: raise channel.cyclic_prefix_length to {math.ceil(delays.max() * self.bandwidth_hz)}",
                stacklevel=2,
            )

    # --- Sionna objects, one set per device ----------------------------------------------------
    def _tdl(self, device: str) -> _SeededTDL:
        speed = self.speed_kmh / 3.6
        spread = None if self.model in FIXED_MODELS else self.delay_spread_ns * 1e-9
        return _SeededTDL(self.model, spread, self.carrier_frequency_ghz * 1e9, min_speed=speed, max_speed=speed, device=device)

    def _parts(self, device) -> _Parts:
        key = _sionna_device(device)
        if key not in self._cache:
            scs = self.subcarrier_spacing_khz * 1e3
            pattern = None
            if self.csi == "ls":
                mask = np.zeros((1, 1, self.num_ofdm_symbols, self.fft_size), bool)
                mask[..., self.pilot_ofdm_symbols, :] = True
                value = math.sqrt(self.receiver.pilot_power) * (1 + 1j) / math.sqrt(2)
                pilots = np.full((1, 1, int(mask.sum())), value, np.complex64)
                pattern = PilotPattern(mask, pilots, device=key)
            grid = ResourceGrid(self.num_ofdm_symbols, self.fft_size, scs, cyclic_prefix_length=self.cyclic_prefix_length,
                                pilot_pattern=pattern, device=key)
            data_ind = torch.nonzero(grid.build_type_grid().flatten() == 0).squeeze(-1)
            self._cache[key] = _Parts(
                tdl=self._tdl(key),
                frequencies=subcarrier_frequencies(self.fft_size, scs, device=key),
                grid=grid,
                mapper=ResourceGridMapper(grid, device=key),
                estimator=LSChannelEstimator(grid, interpolation_type=self.interpolation, device=key) if self.csi == "ls" else None,
                data_ind=data_ind.to(key),
            )
        return self._cache[key]

    # --- the channel ---------------------------------------------------------------------------
    def grid_gains(self, n: int, slots: int, rng: Rng, device) -> torch.Tensor:
        """Frequency response of each image's slots, (n, slots, num_ofdm_symbols, fft_size) complex64.

        One TDL realisation per row, sampled once per OFDM symbol; draws from ``rng`` (per row).
        """
        parts = self._parts(device)
        steps = slots * self.num_ofdm_symbols
        fs = 1.0 / self.ofdm_symbol_s
        if isinstance(rng, torch.Generator):
            parts.tdl.generator = rng
            a, tau = parts.tdl(n, steps, fs)
        else:
            if len(rng) != n:
                raise ValueError(f"got {len(rng)} generators for {n} rows")
            draws = []
            for g in rng:
                parts.tdl.generator = g
                draws.append(parts.tdl(1, steps, fs))
            a = torch.cat([d[0] for d in draws]) if draws else None
            tau = torch.cat([d[1] for d in draws]) if draws else None
        parts.tdl.generator = None
        if n == 0:
            return torch.zeros((0, slots, self.num_ofdm_symbols, self.fft_size), dtype=torch.complex64, device=device)
        # TDL tap delays are the same for every realisation: one (paths x subcarriers) phase table
        # serves the whole batch (80x faster on CPU than Sionna's per-example table)
        h = cir_to_ofdm_channel(parts.frequencies, a, tau[:1], normalize=False)  # (n,1,1,1,1,steps,fft)
        return h.reshape(n, slots, self.num_ofdm_symbols, self.fft_size).to(torch.complex64)

    def _data(self, grid: torch.Tensor, length: int, parts: _Parts) -> torch.Tensor:
        """(n, S, nsym, fft) grid -> (n, length) values at the data resource elements, in mapping order."""
        n, s = grid.shape[:2]
        return grid.reshape(n, s, -1)[:, :, parts.data_ind].reshape(n, -1)[:, :length]

    def gains(self, shape, rng: Rng, device) -> torch.Tensor:
        """Per-symbol gain (N, L): H at the resource element each data symbol occupies."""
        n, length = shape
        parts = self._parts(device)
        return self._data(self.grid_gains(n, self.num_slots(length), rng, device), length, parts)

    def forward(self, x: torch.Tensor, snr_db: float | torch.Tensor, rng: Rng) -> ChannelOutput:
        n0 = self._check_input(x, snr_db)
        n, length = x.shape
        parts = self._parts(x.device)
        d, s = self.data_per_slot, self.num_slots(length)
        big_h = self.grid_gains(n, s, rng, x.device)
        x_pad = F.pad(x, (0, s * d - length))
        tx = parts.mapper(x_pad.reshape(n * s, 1, 1, d)).reshape(big_h.shape)
        noise = complex_normal_rows((n, big_h[0].numel()), rng, x.device).reshape(big_h.shape)
        y_grid = big_h * tx + noise * n0.sqrt().reshape(n, 1, 1, 1).to(x.dtype)
        y = self._data(y_grid, length, parts)
        h = self._data(big_h, length, parts)
        h_est, csi_var = h, None
        if self.csi == "ls":
            no = n0.reshape(n, 1).expand(n, s).reshape(n * s)
            h_hat, err = parts.estimator(y_grid.detach().reshape(n * s, 1, 1, self.num_ofdm_symbols, self.fft_size), no)
            h_est = self._data(h_hat.reshape(big_h.shape).to(torch.complex64), length, parts)
            csi_var = self._data(err.reshape(big_h.shape).to(torch.float32), length, parts)
        elif self.csi == "noisy":
            var = self.receiver.csi_error_var
            h_est = h + complex_normal_rows((n, length), rng, x.device) * math.sqrt(var)
            csi_var = torch.full((n, 1), var, dtype=torch.float32, device=x.device)
        return ChannelOutput(y=y, h=h, n0=n0, h_est=h_est, csi_var=csi_var, equalizer=self.equalizer)
