"""Additive white Gaussian noise channel: y = x + n, n ~ CN(0, N0)."""

from __future__ import annotations

import torch

from semcom.channels.flat import FlatFading
from semcom.randomness import Rng


class AWGN(FlatFading):
    """Complex AWGN with unit gain; noise from Sionna's ``complex_normal`` with our generators.

    The gain (1) is one block per image; under ``csi=ls`` the receiver estimates it from
    ``pilots`` pilot symbols per image (a unit gain of unknown phase), under ``csi=noisy`` it sees
    1 + e.
    """

    name = "awgn"

    def __init__(self, pilots: int = 1, csi: str = "perfect", equalizer: str = "zf", csi_error_var: float = 0.01, pilot_power_db: float = 0.0):
        super().__init__(None, pilots, csi=csi, equalizer=equalizer, csi_error_var=csi_error_var, pilot_power_db=pilot_power_db)

    def block_gains(self, n, blocks, rng: Rng, device) -> torch.Tensor:
        return torch.ones((n, blocks), dtype=torch.complex64, device=device)
