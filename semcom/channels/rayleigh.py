"""Rayleigh block fading: y = h x + n with h ~ CN(0, 1) constant over a coherence block."""

from __future__ import annotations

import math

import torch

from semcom.channels.base import Channel
from semcom.randomness import Rng, complex_normal_rows


class RayleighBlock(Channel):
    """Flat Rayleigh fading, one CN(0,1) gain per coherence block of ``coherence`` symbols.

    ``coherence=None`` (default): one gain per image (row). The receiver knows h (perfect CSI).
    """

    name = "rayleigh_block"

    def __init__(self, coherence: int | None = None):
        super().__init__()
        if coherence is not None and int(coherence) < 1:
            raise ValueError(f"coherence must be a positive number of symbols or None, got {coherence}")
        self.coherence = None if coherence is None else int(coherence)

    def gains(self, shape, rng: Rng, device) -> torch.Tensor:
        n, length = shape
        if self.coherence is None:
            return complex_normal_rows((n, 1), rng, device).expand(n, length)
        blocks = max(1, math.ceil(length / self.coherence))
        h = complex_normal_rows((n, blocks), rng, device)
        return h.repeat_interleave(self.coherence, dim=1)[:, :length]

    def extra_repr(self) -> str:
        return f"name={self.name!r}, coherence={self.coherence}"
