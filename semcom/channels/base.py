"""Channel interface shared by digital chains and learned JSCC models.

A channel maps transmitted symbols ``x`` (N, L) complex64, one row per image with E|x|^2 = 1,
to received symbols ``y = h * x + n`` with n ~ CN(0, N0) and N0 = 10^(-SNR/10) per row
(conventions.py). Channels are ``torch.nn.Module`` objects and differentiable in ``x``, so the
same objects serve training of learned models.

Random draws of row i come from ``rng[i]`` when a list of generators is given: first the fading
gains, then the noise, so a row's realisation depends only on its generator and its length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from semcom.conventions import snr_db_to_n0
from semcom.randomness import Rng, complex_normal_rows


@dataclass
class ChannelOutput:
    """What the receiver gets.

    Attributes:
        y: received symbols (N, L) complex64.
        h: channel gain per symbol (N, L) complex64 (ones for AWGN); known to the receiver
           under perfect CSI.
        n0: noise variance per complex symbol, (N, 1) float32.
    """

    y: torch.Tensor
    h: torch.Tensor
    n0: torch.Tensor

    def equalize(self, method: str = "zf") -> tuple[torch.Tensor, torch.Tensor]:
        """Zero-forcing equalisation: x_hat = y / h and each symbol's noise N0_eff = N0 / |h|^2.

        Both (N, L). With perfect CSI over flat fading this is the exact sufficient statistic:
        feed N0_eff (not N0) to the LLR demapper.
        """
        if method != "zf":
            raise ValueError(f"unknown equalizer {method!r}: use 'zf'")
        g = self.h.abs().square()
        tiny = torch.finfo(g.dtype).tiny
        x_hat = self.y / torch.where(g > tiny, self.h, torch.full_like(self.h, tiny))
        n0_eff = self.n0 / g.clamp_min(tiny)
        return x_hat, n0_eff.expand_as(g)


class Channel(nn.Module):
    """Base class. Subclasses implement :meth:`gains`; noise is added here.

    Call: ``channel(x, snr_db, rng)`` with ``x`` (N, L) complex64, ``snr_db`` a float or (N,)
    tensor (dB, Es/N0 per complex symbol), ``rng`` one generator or one per row.
    """

    name: str = "channel"

    def gains(self, shape: tuple[int, int], rng: Rng, device: torch.device | str) -> torch.Tensor:
        """Channel gain per symbol, (N, L) complex64. Must draw from ``rng`` before any noise."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, snr_db: float | torch.Tensor, rng: Rng) -> ChannelOutput:
        if x.dim() != 2 or not torch.is_complex(x):
            raise ValueError(f"channel input must be complex (N, L), got {tuple(x.shape)} {x.dtype}")
        n, _ = x.shape
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=x.device)
        n0 = snr_db_to_n0(snr).reshape(-1, 1).expand(n, 1)
        h = self.gains(tuple(x.shape), rng, x.device)
        noise = complex_normal_rows(x.shape, rng, x.device)
        y = h * x + noise * n0.sqrt().to(x.dtype)
        return ChannelOutput(y=y, h=h, n0=n0)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"
