"""5G LDPC channel coding of whole bitstreams (segmentation and CRC24A per block: :mod:`.blockcode`).

Each code block of ``k`` bits (CRC included) is encoded by Sionna's ``LDPC5GEncoder`` into ``n``
coded bits (``n`` a multiple of the QAM bits per symbol; the encoder's 5G output interleaver for
that modulation is on). The receiver runs ``LDPC5GDecoder`` (belief propagation, boxplus-phi,
``num_iter`` iterations, logit LLRs log p(1)/p(0) as Sionna's demapper produces). Code rates:
every rate in [1/5, 1) that the 5G base graphs reach (Sionna picks base graph 1 or 2 from k and
the rate), i.e. every entry of the 38.214 MCS tables at or above 1/5.
"""

from __future__ import annotations

import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

from semcom.fec.blockcode import CRC_BITS, BlockCode, BlockLayout

#: Smallest information length (CRC included) the 5G LDPC encoder accepts.
MIN_K = 12 + CRC_BITS
#: Largest information length of one 5G code block (base graph 1).
MAX_K = 8448


class LDPCBlockCode(BlockCode):
    """5G LDPC + CRC24A code blocks at code ``rate`` for a modulation of ``bits_per_symbol``.

    Args:
        rate: code rate k/n, 1/5 <= rate < 1 (5G base graphs).
        bits_per_symbol: QAM bits per symbol m; n is a multiple of m.
        codeword_bits: target coded block length n (largest used; smaller when the channel
            budget is smaller than one block).
        num_iter: belief-propagation iterations.
        max_batch: code blocks per decoder call (bounds memory).
    """

    family = "ldpc"
    min_k = MIN_K
    max_k = MAX_K
    min_rate = 0.2

    def __init__(
        self,
        rate: float,
        bits_per_symbol: int,
        codeword_bits: int = 4096,
        num_iter: int = 20,
        device: str | torch.device = "cpu",
        max_batch: int = 2048,
    ):
        self.num_iter = int(num_iter)
        super().__init__(rate, bits_per_symbol, codeword_bits, device=device, max_batch=max_batch)

    def _build(self, k: int, n: int) -> tuple[LDPC5GEncoder, LDPC5GDecoder]:
        enc = LDPC5GEncoder(k, n, num_bits_per_symbol=self.m, device=str(self.device))
        dec = LDPC5GDecoder(enc, num_iter=self.num_iter, hard_out=True, return_infobits=True, device=str(self.device))
        return enc, dec

    def _decode(self, llrs: torch.Tensor, k: int, n: int) -> torch.Tensor:
        return self._code(k, n)[1](llrs)

    def describe(self) -> dict:
        return {**super().describe(), "ldpc_iterations": self.num_iter}


__all__ = ["CRC_BITS", "MAX_K", "MIN_K", "BlockLayout", "LDPCBlockCode"]
