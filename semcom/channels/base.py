"""Channel interface shared by digital chains and learned JSCC models.

A channel maps transmitted symbols ``x`` (N, L) complex64, one row per image with E|x|^2 = 1,
to received symbols ``y = h * x + n`` with n ~ CN(0, N0) and N0 = 10^(-SNR/10) per row
(conventions.py). Channels are ``torch.nn.Module`` objects, differentiable in ``x`` and
device-agnostic (every tensor is made on ``x.device``), so the same objects serve training of
learned models on a GPU.

**Receiver.** Every channel carries its receiver configuration (:class:`Receiver`): the CSI the
receiver has (``csi``: ``perfect``, ``ls`` pilots + least squares, or ``noisy`` with a given
error variance) and its equaliser (``equalizer``: ``zf`` or ``mmse``). The :class:`ChannelOutput`
carries the receiver's channel estimate ``h_est`` and its error variance ``csi_var`` next to the
true gain ``h``, and equalises with the configured equaliser, so chains and learned models all
use the channel's configured receiver.

**Randomness.** Draws of row i come from ``rng[i]`` when a list of generators is given: first the
fading gains, then the noise, then the CSI error (pilot noise), so a row's realisation depends
only on its generator and its length, and the same seed gives the same gains and noise whatever
the receiver's CSI mode.

**Pilots** (``csi=ls``) are extra channel uses *not* counted in the bandwidth ratio: ``channel_uses``
and ``ratio`` count data symbols; :meth:`Channel.overhead` reports the pilot channel uses, which
the experiment runner writes into each result row (column ``pilot_uses``).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch
from torch import nn

from semcom.conventions import snr_db_to_n0
from semcom.errors import SemcomError
from semcom.randomness import Rng, complex_normal_rows

#: Receiver CSI modes.
CSI_MODES = ("perfect", "ls", "noisy")
#: Equalisers.
EQUALIZERS = ("zf", "mmse")


@dataclass(frozen=True)
class Receiver:
    """Receiver configuration of a channel.

    Attributes:
        csi: ``perfect`` (h known), ``ls`` (estimated from pilots by least squares; the error
            variance follows from the pilot energy and N0), ``noisy`` (h_est = h + e with
            e ~ CN(0, csi_error_var), independent of h and of the noise: the statistics of an LS
            estimate with a fixed error variance).
        equalizer: ``zf`` or ``mmse`` (see :meth:`ChannelOutput.equalize`).
        csi_error_var: error variance of ``csi=noisy``, relative to E|h|^2 = 1 (ignored otherwise).
        pilot_power_db: pilot symbol energy relative to the data symbol energy Es = 1, dB
            (``csi=ls`` only).
    """

    csi: str = "perfect"
    equalizer: str = "zf"
    csi_error_var: float = 0.01
    pilot_power_db: float = 0.0

    def __post_init__(self):
        if self.csi not in CSI_MODES:
            raise SemcomError(f"channel.csi={self.csi!r} is unknown: choose one of {', '.join(CSI_MODES)}")
        if self.equalizer not in EQUALIZERS:
            raise SemcomError(f"channel.equalizer={self.equalizer!r} is unknown: choose one of {', '.join(EQUALIZERS)}")
        try:
            var, pp = float(self.csi_error_var), float(self.pilot_power_db)
        except (TypeError, ValueError):
            raise SemcomError("channel.csi_error_var and channel.pilot_power_db must be numbers, e.g. channel.csi_error_var=0.01") from None
        if not (math.isfinite(var) and var >= 0):
            raise SemcomError(f"channel.csi_error_var={self.csi_error_var!r} must be a finite variance >= 0, e.g. 0.01")
        if not math.isfinite(pp):
            raise SemcomError(f"channel.pilot_power_db={self.pilot_power_db!r} must be a finite number of dB, e.g. 0")
        object.__setattr__(self, "csi_error_var", var)
        object.__setattr__(self, "pilot_power_db", pp)

    @property
    def pilot_power(self) -> float:
        """Pilot symbol energy, linear (data symbols have Es = 1)."""
        return 10.0 ** (self.pilot_power_db / 10.0)


@dataclass
class ChannelOutput:
    """What the receiver gets.

    Attributes:
        y: received symbols (N, L) complex64.
        h: true channel gain per symbol (N, L) complex64 (ones for AWGN); for analysis and
            genie-aided receivers.
        n0: noise variance per complex symbol, (N, 1) float32.
        h_est: the receiver's estimate of h (N, L) complex64; ``h`` itself under perfect CSI.
            This is what a receiver (or a learned decoder given "the symbols plus h") may use.
        csi_var: variance of the estimation error h - h_est per symbol, broadcastable to (N, L),
            float32 (zero under perfect CSI).
        equalizer: the channel's configured equaliser, used by :meth:`equalize` by default.

    A learned decoder is given either ``equalize()[0]`` (the equalised symbols, (N, L)), or
    ``y`` with ``h_est`` (and ``n0``): see :meth:`decoder_input`. Everything is differentiable in
    the transmitted symbols.
    """

    y: torch.Tensor
    h: torch.Tensor
    n0: torch.Tensor
    h_est: torch.Tensor | None = None
    csi_var: torch.Tensor | None = None
    equalizer: str = "zf"

    def __post_init__(self):
        if self.h_est is None:
            self.h_est = self.h
        if self.csi_var is None:
            self.csi_var = torch.zeros((1, 1), dtype=self.n0.dtype, device=self.n0.device)

    def _effective(self):
        g = self.h_est.abs().square()
        n0t = self.n0 + self.csi_var  # noise plus CSI-error term sigma_e^2 E|x|^2, E|x|^2 = 1
        return g, n0t.expand_as(g)

    def equalize(self, method: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Equalise with the receiver's CSI; return ``(x_hat, n0_eff)``, both (N, L).

        With h_est the receiver's estimate, sigma_e^2 its error variance and
        N0t = N0 + sigma_e^2 (the CSI error ``(h - h_est) x`` treated as extra Gaussian noise,
        E|x|^2 = 1):

        * ``zf``: x_hat = y / h_est, n0_eff = N0t / |h_est|^2 (unbiased: x_hat = x + noise);
        * ``mmse``: x_hat = conj(h_est) y / (|h_est|^2 + N0t), the linear MMSE estimate of a
          unit-energy x, and n0_eff = N0t / (|h_est|^2 + N0t), its mean squared error. It is
          biased (E[x_hat | x] = beta x, beta = |h_est|^2 / (|h_est|^2 + N0t)) and stays bounded
          in deep fades: the input a learned decoder wants. For LLRs use :meth:`llr_inputs`.

        ``method=None`` uses the channel's configured equaliser.
        """
        method = method or self.equalizer
        g, n0t = self._effective()
        tiny = torch.finfo(g.dtype).tiny
        if method == "zf":
            safe = torch.where(g > tiny, self.h_est, torch.full_like(self.h_est, tiny))
            return self.y / safe, n0t / g.clamp_min(tiny)
        if method == "mmse":
            denom = g + n0t
            return self.h_est.conj() * self.y / denom.to(self.y.dtype), n0t / denom
        raise SemcomError(f"unknown equalizer {method!r}: choose one of {', '.join(EQUALIZERS)}")

    def llr_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_hat, n0_eff)`` for an LLR demapper, both (N, L): x_hat = x + noise of variance n0_eff.

        The configured equaliser's output made unbiased (what Sionna's LMMSE equaliser returns):
        for a single-antenna channel the unbiased MMSE output equals the ZF output, so both give
        x_hat = y / h_est with each symbol's effective noise n0_eff = (N0 + sigma_e^2) / |h_est|^2,
        never the unequalised N0.
        """
        return self.equalize("zf")

    def decoder_input(self, mode: str = "equalized") -> torch.Tensor:
        """What a learned decoder is given.

        * ``equalized``: the configured equaliser's output, (N, L) complex;
        * ``csi``: the received symbols and the receiver's channel estimate stacked,
          (N, 2, L) complex: ``[:, 0] = y``, ``[:, 1] = h_est``.
        """
        if mode == "equalized":
            return self.equalize()[0]
        if mode == "csi":
            return torch.stack([self.y, self.h_est.expand_as(self.y)], dim=1)
        raise SemcomError(f"decoder input {mode!r} is unknown: use 'equalized' or 'csi'")


class Channel(nn.Module):
    """Base class. Subclasses implement :meth:`gains` (and, with correlated fading, :meth:`_estimate`).

    Call: ``channel(x, snr_db, rng)`` with ``x`` (N, L) complex64, ``snr_db`` a float or (N,)
    tensor (dB, Es/N0 per complex symbol), ``rng`` one generator or one per row.

    ``name`` is the family (it seeds the per-image generators, so settings of one family see the
    same random numbers); :attr:`label` adds the settings that differ from the defaults and names
    the channel in result rows and figures.
    """

    name: str = "channel"

    def __init__(self, csi: str = "perfect", equalizer: str = "zf", csi_error_var: float = 0.01, pilot_power_db: float = 0.0):
        super().__init__()
        self.receiver = Receiver(csi, equalizer, csi_error_var, pilot_power_db)

    # --- what subclasses provide ---------------------------------------------------------------
    def gains(self, shape: tuple[int, int], rng: Rng, device: torch.device | str) -> torch.Tensor:
        """Channel gain per symbol, (N, L) complex64. Must draw from ``rng`` before any noise."""
        raise NotImplementedError

    def _estimate(self, h: torch.Tensor, n0: torch.Tensor, rng: Rng) -> tuple[torch.Tensor, torch.Tensor]:
        """Receiver's (h_est, csi_var) given the true gains; draws after the noise."""
        raise NotImplementedError

    def overhead(self, channel_uses: int) -> dict:
        """Extra channel uses, beyond ``channel_uses`` data symbols, that the channel spends."""
        return {"pilot_uses": 0}

    # --- the call ----------------------------------------------------------------------------
    @property
    def equalizer(self) -> str:
        return self.receiver.equalizer

    @property
    def csi(self) -> str:
        return self.receiver.csi

    def _check_input(self, x: torch.Tensor, snr_db) -> torch.Tensor:
        """Check what :meth:`forward` is given (:func:`check_channel_input`); return N0 as (N, 1)."""
        snr = check_channel_input(x, snr_db, self.name)
        return snr_db_to_n0(snr).reshape(-1, 1).expand(x.shape[0], 1)

    def __call__(self, x, snr_db, *args, **kwargs) -> ChannelOutput:
        """Check the symbols and the SNR (:func:`check_channel_input`) before any channel's
        ``forward`` runs, so plugin channels that implement their own ``forward`` are checked too."""
        check_channel_input(x, snr_db, self.name)
        return super().__call__(x, snr_db, *args, **kwargs)

    def forward(self, x: torch.Tensor, snr_db: float | torch.Tensor, rng: Rng) -> ChannelOutput:
        n0 = self._check_input(x, snr_db)
        h = self.gains(tuple(x.shape), rng, x.device)
        noise = complex_normal_rows(x.shape, rng, x.device)
        y = h * x + noise * n0.sqrt().to(x.dtype)
        if self.csi == "perfect":
            h_est, csi_var = h, None
        else:
            h_est, csi_var = self._estimate(h, n0, rng)
        return ChannelOutput(y=y, h=h, n0=n0, h_est=h_est, csi_var=csi_var, equalizer=self.equalizer)

    # --- description -------------------------------------------------------------------------
    def settings(self) -> dict:
        """All constructor settings, defaults filled in."""
        out = {}
        for name in inspect.signature(type(self).__init__).parameters:
            if name == "self":
                continue
            if name in ("csi", "equalizer", "csi_error_var", "pilot_power_db"):
                out[name] = getattr(self.receiver, name)
            else:
                out[name] = getattr(self, name)
        return out

    @property
    def label(self) -> str:
        """``name`` plus the settings that differ from the defaults, e.g. ``rician[k_db=3]``.

        Receiver settings that do not apply are left out (``csi_error_var`` unless ``csi=noisy``,
        ``pilot_power_db`` and pilot layout unless ``csi=ls``).
        """
        defaults = {
            k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items() if p.default is not inspect.Parameter.empty
        }
        skip = set()
        if self.csi != "noisy":
            skip.add("csi_error_var")
        if self.csi != "ls":
            skip |= {"pilot_power_db", "pilots", "pilot_ofdm_symbols", "interpolation"}
        parts = []
        for k, v in self.settings().items():
            if k in skip or k not in defaults:
                continue
            d = defaults[k]
            same = v == d or (isinstance(v, (list, tuple)) and isinstance(d, (list, tuple)) and list(v) == list(d))
            if not same:
                parts.append(f"{k}={_fmt(v)}")
        return f"{self.name}[{','.join(parts)}]" if parts else self.name

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.settings().items())


class ChannelInputError(SemcomError, ValueError):
    """Symbols or an SNR a channel cannot transmit as given (one line: the problem and the fix)."""


def check_channel_input(x, snr_db, name: str = "channel") -> torch.Tensor:
    """Symbols ``x``: a complex (N, L) tensor of finite values; ``snr_db``: a finite number or one
    per row. Returns the SNR as a float32 tensor on ``x.device``; :class:`ChannelInputError` otherwise."""
    if not isinstance(x, torch.Tensor):
        raise ChannelInputError(f"{name}: the symbols are a {type(x).__name__}, not a torch tensor: pass a complex64 tensor (N, L)")
    if not torch.is_complex(x):
        raise ChannelInputError(f"{name}: the symbols are {x.dtype}, not complex: map bits/features to complex symbols first, "
                                "e.g. torch.complex(re, im) or torch.view_as_complex(x.reshape(N, -1, 2))")
    if x.dim() != 2:
        raise ChannelInputError(f"{name}: the symbols have shape {tuple(x.shape)}, not (N, L): one row per image, x.reshape(N, -1)")
    bad = ~torch.isfinite(torch.view_as_real(x))
    if bool(bad.any()):
        raise ChannelInputError(f"{name}: the symbols contain NaN or Inf ({int(bad.any(-1).sum())} of {x.numel()}): "
                                "a transmitter must send finite symbols; check the encoder's output (power normalisation of an all-zero block?)")
    try:
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=x.device)
    except (TypeError, ValueError, RuntimeError):
        raise ChannelInputError(f"{name}: snr_db={snr_db!r} is not a number: give the SNR in dB, e.g. 10.0") from None
    if snr.numel() not in (1, x.shape[0]):
        raise ChannelInputError(f"{name}: snr_db has {snr.numel()} values for {x.shape[0]} rows: give one SNR, or one per row")
    if not bool(torch.isfinite(snr).all()):
        bad_value = snr.flatten()[~torch.isfinite(snr.flatten())][0].item()
        raise ChannelInputError(f"{name}: snr_db={bad_value} is not a finite number of dB: give a finite SNR (e.g. -10 .. 40 dB); "
                                "a noiseless link is a very high SNR such as 100")
    return snr


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "-".join(_fmt(x) for x in v)
    return str(v)
