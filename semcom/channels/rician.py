"""Rician fading: a line-of-sight component plus Rayleigh scattering.

h = sqrt(K / (K + 1)) exp(j theta) + sqrt(1 / (K + 1)) g,  g ~ CN(0, 1),  E|h|^2 = 1,

with the K factor given in dB (``k_db``; ``-inf`` gives K = 0, Rayleigh). LOS phase convention:
``los_phase`` is theta in radians, the same for every block and image (default 0: the LOS
component is real and positive, the textbook Rician model), or ``"random"``: theta uniform in
[-pi, pi) per coherence block, drawn before the scattered part (the angle of a CN(0, 1) draw).
|h|^2 (K + 1) * 2 is noncentral chi-square with 2 degrees of freedom and noncentrality 2K.
"""

from __future__ import annotations

import math

import torch

from semcom.channels.flat import FlatFading
from semcom.errors import SemcomError
from semcom.randomness import Rng, complex_normal_rows


def k_linear(k_db: float) -> float:
    """K factor, linear, from dB (``-inf`` -> 0)."""
    return 0.0 if k_db == -math.inf else 10.0 ** (k_db / 10.0)


class Rician(FlatFading):
    """Flat Rician fading with K factor ``k_db`` (dB), one gain per coherence block.

    ``coherence=None`` (default): one gain per image, as ``rayleigh_block``; ``coherence=1``: fast.
    """

    name = "rician"

    def __init__(self, k_db: float = 10.0, los_phase: float | str = 0.0, coherence: int | None = None, pilots: int = 1,
                 csi: str = "perfect", equalizer: str = "zf", csi_error_var: float = 0.01, pilot_power_db: float = 0.0):
        super().__init__(coherence, pilots, csi=csi, equalizer=equalizer, csi_error_var=csi_error_var, pilot_power_db=pilot_power_db)
        try:
            k_db = float(k_db)
        except (TypeError, ValueError):
            raise SemcomError(f"channel.k_db={k_db!r} is not a number: give the Rician K factor in dB, e.g. channel.k_db=10") from None
        if math.isnan(k_db) or k_db > 60 or k_db == math.inf:
            raise SemcomError(f"channel.k_db={k_db} is out of range: give K in dB up to 60 (-inf for Rayleigh), e.g. channel.k_db=10")
        if los_phase != "random":
            try:
                los_phase = float(los_phase)
            except (TypeError, ValueError):
                raise SemcomError(f"channel.los_phase={los_phase!r} must be radians or 'random'") from None
        self.k_db = k_db
        self.los_phase = los_phase

    @property
    def k(self) -> float:
        """K factor, linear."""
        return k_linear(self.k_db)

    def block_gains(self, n, blocks, rng: Rng, device) -> torch.Tensor:
        k = self.k
        los, scatter = math.sqrt(k / (k + 1.0)), math.sqrt(1.0 / (k + 1.0))
        if self.los_phase == "random":
            u = complex_normal_rows((n, blocks), rng, device)
            rot = u / u.abs().clamp_min(torch.finfo(torch.float32).tiny)
        else:
            rot = torch.polar(torch.tensor(1.0, device=device), torch.tensor(float(self.los_phase), device=device))
        g = complex_normal_rows((n, blocks), rng, device)
        return los * rot + scatter * g
