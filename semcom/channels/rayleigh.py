"""Rayleigh fading: y = h x + n with h ~ CN(0, 1), per coherence block (block) or per symbol (fast)."""

from __future__ import annotations

import torch

from semcom.channels.flat import FlatFading
from semcom.randomness import Rng, complex_normal_rows


class RayleighBlock(FlatFading):
    """Flat Rayleigh fading, one CN(0,1) gain per coherence block of ``coherence`` data symbols.

    ``coherence=None`` (default): one gain per image (row).
    """

    name = "rayleigh_block"

    def __init__(self, coherence: int | None = None, pilots: int = 1, csi: str = "perfect", equalizer: str = "zf",
                 csi_error_var: float = 0.01, pilot_power_db: float = 0.0):
        super().__init__(coherence, pilots, csi=csi, equalizer=equalizer, csi_error_var=csi_error_var, pilot_power_db=pilot_power_db)

    def block_gains(self, n, blocks, rng: Rng, device) -> torch.Tensor:
        return complex_normal_rows((n, blocks), rng, device)


class RayleighFast(RayleighBlock):
    """Fast Rayleigh fading: an independent CN(0,1) gain per symbol (coherence of one symbol).

    Under ``csi=ls`` every data symbol is accompanied by ``pilots`` pilot symbols seeing its gain.
    """

    name = "rayleigh_fast"

    def __init__(self, pilots: int = 1, csi: str = "perfect", equalizer: str = "zf", csi_error_var: float = 0.01, pilot_power_db: float = 0.0):
        super().__init__(1, pilots, csi=csi, equalizer=equalizer, csi_error_var=csi_error_var, pilot_power_db=pilot_power_db)
