"""Additive white Gaussian noise channel: y = x + n, n ~ CN(0, N0)."""

from __future__ import annotations

import torch

from semcom.channels.base import Channel
from semcom.randomness import Rng


class AWGN(Channel):
    """Complex AWGN with unit gain; noise from Sionna's ``complex_normal`` with our generators."""

    name = "awgn"

    def gains(self, shape, rng: Rng, device) -> torch.Tensor:
        return torch.ones(shape, dtype=torch.complex64, device=device)
