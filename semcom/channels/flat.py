"""Flat (frequency-nonselective) fading with a coherence block and the receiver's CSI for it.

y_t = h_t x_t + n_t with h_t constant over a coherence block of ``coherence`` data symbols
(``None``: one block per row, i.e. one gain per image; ``1``: fast fading, an independent gain
per symbol).

CSI under ``csi=ls``: each coherence block carries ``pilots`` extra pilot symbols of energy
``10^(pilot_power_db/10)`` that see the block's gain. The receiver's least-squares estimate is
the pilots' mean observation divided by the pilot: h_est = h + e with
e ~ CN(0, N0 / (pilots * pilot power)), constant over the block. A coherence block therefore
spans ``coherence + pilots`` channel uses; the pilots are not counted in the bandwidth ratio and
are reported by :meth:`FlatFading.overhead` (under fast fading, one pilot per data symbol: 100 %
overhead). Under ``csi=noisy`` the estimate is h + e with e ~ CN(0, csi_error_var) per block.
"""

from __future__ import annotations

import math

import torch

from semcom.channels.base import Channel
from semcom.errors import SemcomError
from semcom.randomness import Rng, complex_normal_rows


def _check_coherence(coherence) -> int | None:
    if coherence is None:
        return None
    try:
        c = int(coherence)
    except (TypeError, ValueError):
        c = 0
    if c < 1 or c != coherence:
        raise SemcomError(f"channel.coherence={coherence!r} must be a positive number of symbols or null (one gain per image)")
    return c


class FlatFading(Channel):
    """Base of the flat channels: a gain per coherence block, drawn by :meth:`block_gains`.

    Args:
        coherence: data symbols per fading block; ``None`` = one block per row (image).
        pilots: pilot symbols per coherence block under ``csi=ls``.
        csi, equalizer, csi_error_var, pilot_power_db: the receiver (:class:`~semcom.channels.base.Receiver`).
    """

    def __init__(self, coherence: int | None = None, pilots: int = 1, **receiver):
        super().__init__(**receiver)
        self.coherence = _check_coherence(coherence)
        if not isinstance(pilots, int) or pilots < 1:
            raise SemcomError(f"channel.pilots={pilots!r} must be a positive number of pilot symbols per coherence block, e.g. 1")
        self.pilots = pilots

    def block_gains(self, n: int, blocks: int, rng: Rng, device) -> torch.Tensor:
        """Gains of ``blocks`` coherence blocks per row, (n, blocks) complex64."""
        raise NotImplementedError

    def num_blocks(self, length: int) -> int:
        """Coherence blocks that ``length`` data symbols span."""
        if self.coherence is None:
            return 1
        return max(1, math.ceil(length / self.coherence))

    def _expand(self, per_block: torch.Tensor, length: int) -> torch.Tensor:
        n = per_block.shape[0]
        if self.coherence is None:
            return per_block[:, :1].expand(n, length)
        if self.coherence == 1:
            return per_block[:, :length]
        return per_block.repeat_interleave(self.coherence, dim=1)[:, :length]

    def _per_block(self, per_symbol: torch.Tensor) -> torch.Tensor:
        if self.coherence is None:
            return per_symbol[:, :1]
        return per_symbol[:, :: self.coherence]

    def gains(self, shape, rng: Rng, device) -> torch.Tensor:
        n, length = shape
        return self._expand(self.block_gains(n, self.num_blocks(length), rng, device), length)

    def _estimate(self, h: torch.Tensor, n0: torch.Tensor, rng: Rng):
        hb = self._per_block(h)
        n, blocks = hb.shape
        if self.csi == "ls":
            p = math.sqrt(self.receiver.pilot_power)
            noise = complex_normal_rows((n, blocks, self.pilots), rng, h.device)
            y_p = p * hb.unsqueeze(-1) + noise * n0.sqrt().unsqueeze(-1).to(h.dtype)
            est = y_p.mean(dim=-1) / p
            var = n0 / (self.pilots * self.receiver.pilot_power)
        else:  # noisy
            var = torch.full_like(n0, self.receiver.csi_error_var)
            est = hb + complex_normal_rows((n, blocks), rng, h.device) * math.sqrt(self.receiver.csi_error_var)
        return self._expand(est, h.shape[1]), var

    def overhead(self, channel_uses: int) -> dict:
        if self.csi != "ls" or channel_uses <= 0:
            return {"pilot_uses": 0}
        return {"pilot_uses": self.pilots * self.num_blocks(int(channel_uses))}
