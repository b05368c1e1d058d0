"""The one convention for SNR, noise, power and bandwidth used everywhere in semcom.

* **Symbols** are complex64. The transmitter gives each image's block of symbols average energy
  one, E|x|^2 = 1 (:func:`normalize_power` for analog JSCC; QAM uses Sionna's unit-energy
  constellation, which has E|x|^2 = 1 over uniform bits).
* **SNR** is Es/N0 in dB per complex channel symbol. With Es = 1 the noise is CN(0, N0),
  N0 = 10^(-SNR/10), i.e. variance N0/2 per real dimension (:func:`snr_db_to_n0`).
* **Eb/N0** of a digital chain: Eb/N0 = Es/N0 / (bits per symbol * code rate)
  (:func:`ebn0_db`).
* **Bandwidth ratio** rho = complex channel uses / (3 * H * W) (:func:`channel_uses`).
* **What is scored**: reconstructions clamped to [0, 1] and rounded to 8 bits, what a receiver
  displays (:func:`quantize`).
* **Capacity** of an ideal error-free code: log2(1 + SNR) bits per complex channel use
  (:func:`awgn_capacity`), so an image gets ``rho * 3HW * log2(1 + SNR)`` bits
  (:func:`capacity_bits`).
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch

from semcom.errors import SemcomError

#: Range of SNR values the testbed accepts, dB (Es/N0 per complex symbol).
SNR_DB_RANGE = (-30.0, 60.0)
#: Range of bandwidth ratios the testbed accepts (complex channel uses per real pixel value).
RATIO_RANGE = (0.0, 1.0)


def snr_db_to_n0(snr_db: float | torch.Tensor) -> float | torch.Tensor:
    """Noise variance N0 per complex symbol for unit symbol energy: N0 = 10^(-SNR_dB / 10)."""
    if isinstance(snr_db, torch.Tensor):
        return torch.pow(10.0, -snr_db / 10.0)
    return 10.0 ** (-float(snr_db) / 10.0)


def n0_to_snr_db(n0: float | torch.Tensor) -> float | torch.Tensor:
    """Inverse of :func:`snr_db_to_n0`: SNR (dB) = -10 log10(N0) for unit symbol energy."""
    if isinstance(n0, torch.Tensor):
        return -10.0 * torch.log10(n0)
    return -10.0 * math.log10(float(n0))


def ebn0_db(snr_db: float, bits_per_symbol: int, code_rate: float) -> float:
    """Eb/N0 in dB of a chain sending ``bits_per_symbol * code_rate`` information bits per symbol."""
    if bits_per_symbol <= 0 or not 0 < code_rate <= 1:
        raise ValueError(f"need bits_per_symbol > 0 and 0 < code_rate <= 1, got {bits_per_symbol}, {code_rate}")
    return float(snr_db) - 10.0 * math.log10(bits_per_symbol * code_rate)


def ebn0_db_to_snr_db(ebn0: float, bits_per_symbol: int, code_rate: float) -> float:
    """Es/N0 (dB) of a chain at Eb/N0 ``ebn0`` dB; inverse of :func:`ebn0_db`."""
    return float(ebn0) + 10.0 * math.log10(bits_per_symbol * code_rate)


def normalize_power(x: torch.Tensor) -> torch.Tensor:
    """Scale each row of complex symbols ``x`` (N, L) to average energy one: mean |x|^2 = 1.

    Used by learned JSCC encoders (per-image power constraint). A row of zeros stays zero.
    """
    if not torch.is_complex(x):
        raise TypeError(f"normalize_power expects complex symbols, got {x.dtype}")
    flat = x.reshape(x.shape[0], -1)
    power = flat.abs().square().mean(dim=1, keepdim=True)
    scale = torch.where(power > 0, power.rsqrt(), torch.ones_like(power))
    return (flat * scale).reshape(x.shape)


def parse_ratio(value) -> float:
    """Bandwidth ratio from a number or a fraction string such as ``"1/16"``.

    Raises :class:`SemcomError` for anything that is not a number in (0, 1].
    """
    try:
        if isinstance(value, str):
            rho = float(Fraction(value.strip()))
        else:
            rho = float(value)
    except (ValueError, ZeroDivisionError, TypeError):
        raise SemcomError(
            f"ratio={value!r} is not a number: give the bandwidth ratio as a decimal or a fraction, e.g. ratio=1/16"
        ) from None
    lo, hi = RATIO_RANGE
    if not (lo < rho <= hi) or not math.isfinite(rho):
        raise SemcomError(
            f"ratio={value!r} is out of range: the bandwidth ratio (channel uses per pixel value) must be in (0, 1], e.g. ratio=1/16"
        )
    return rho


def check_snr_list(values) -> list[float]:
    """Validate a list of SNR points (dB) from the config; return them as floats."""
    if values is None or isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise SemcomError(f"snr_db={values!r} is not a list: give SNR points in dB, e.g. snr_db=[1,4,7,10,13]")
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise SemcomError(f"snr_db contains {v!r}, which is not a number: give SNR points in dB, e.g. snr_db=[1,4,7]") from None
        lo, hi = SNR_DB_RANGE
        if not math.isfinite(f) or not lo <= f <= hi:
            raise SemcomError(f"snr_db={f} is out of range: SNR points must lie in [{lo:g}, {hi:g}] dB")
        out.append(f)
    if not out:
        raise SemcomError("snr_db is empty: give at least one SNR point in dB, e.g. snr_db=[1,4,7,10,13]")
    return out


def channel_uses(ratio: float, height: int, width: int) -> int:
    """Complex channel uses an H x W RGB image gets at bandwidth ratio ``ratio``: floor(rho * 3HW)."""
    return int(math.floor(ratio * 3 * height * width + 1e-9))


def awgn_capacity(snr_db: float | torch.Tensor) -> float | torch.Tensor:
    """Capacity of the complex AWGN channel, bits per complex channel use: log2(1 + SNR)."""
    if isinstance(snr_db, torch.Tensor):
        return torch.log2(1.0 + torch.pow(10.0, snr_db / 10.0))
    return math.log2(1.0 + 10.0 ** (float(snr_db) / 10.0))


def capacity_bits(ratio: float, height: int, width: int, snr_db: float) -> float:
    """Bits an ideal error-free code delivers for one image over AWGN: rho * 3HW * log2(1 + SNR)."""
    return channel_uses(ratio, height, width) * awgn_capacity(snr_db)


def measured_snr_db(x: torch.Tensor, y: torch.Tensor) -> float:
    """SNR (dB) actually present in received ``y`` for sent ``x``: mean|x|^2 / mean|y - x|^2."""
    signal = x.abs().square().mean()
    noise = (y - x).abs().square().mean()
    return float(10.0 * torch.log10(signal / noise))


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to 8 bits (what a receiver displays), float in [0, 1]."""
    return (images.clamp(0, 1) * 255.0).round() / 255.0


def ratio_label(r: float) -> str:
    """A bandwidth ratio as people write it: ``0.0625`` -> ``1/16``; others keep a decimal form."""
    frac = Fraction(float(r)).limit_denominator(1000)
    if abs(float(frac) - r) < 1e-9 and frac.numerator == 1:
        return f"1/{frac.denominator}"
    return f"{r:.4g}"
