"""Nakagami-m block fading: |h|^2 ~ Gamma(m, 1/m), uniform phase, E|h|^2 = 1.

For integer m the gain is that of m-branch maximal-ratio combining of Rayleigh branches,
|h|^2 = (1/m) sum_k |g_k|^2 with g_k ~ CN(0, 1), which is how it is drawn here (from semcom's
per-image generators, so common random numbers hold). m = 1 is Rayleigh; m -> inf is AWGN.
"""

from __future__ import annotations

import torch

from semcom.channels.flat import FlatFading
from semcom.errors import SemcomError
from semcom.randomness import complex_normal_rows


class Nakagami(FlatFading):
    """One Nakagami-m gain per image (or per ``coherence`` symbols); semcom's receivers apply."""

    name = "nakagami"

    def __init__(self, m: int = 2, coherence: int | None = None, pilots: int = 1, csi: str = "perfect", equalizer: str = "zf",
                 csi_error_var: float = 0.01, pilot_power_db: float = 0.0):
        if not isinstance(m, int) or m < 1:
            raise SemcomError(f"channel.m={m!r} must be a whole number >= 1 (the Nakagami shape)")
        super().__init__(coherence, pilots, csi=csi, equalizer=equalizer, csi_error_var=csi_error_var, pilot_power_db=pilot_power_db)
        self.m = m

    def block_gains(self, n: int, blocks: int, rng, device) -> torch.Tensor:
        g = complex_normal_rows((n, blocks * self.m), rng, device).reshape(n, blocks, self.m)
        power = g.abs().square().mean(-1)
        phase = g[..., 0] / g[..., 0].abs().clamp_min(1e-12)
        return (power.sqrt() * phase).to(torch.complex64)
