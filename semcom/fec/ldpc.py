"""5G LDPC channel coding of whole bitstreams (segmentation and CRC24A per block: :mod:`.blockcode`).

Each code block of ``k`` bits (CRC included) is encoded by Sionna's ``LDPC5GEncoder`` into ``n``
coded bits (``n`` a multiple of the QAM bits per symbol; the encoder's 5G output interleaver for
that modulation is on). The receiver decodes with belief propagation (boxplus, ``num_iter``
iterations, flooding, logit LLRs log p(1)/p(0) as Sionna's demapper produces): on the CPU with
semcom's numba decoder :mod:`semcom.fec.ldpc_bp` (same code, rate recovery and interleaver as
Sionna's ``LDPC5GDecoder``, many times faster, early termination on a satisfied syndrome), on
CUDA with Sionna's ``LDPC5GDecoder`` (``decoder``). Code rates:
every rate in [1/5, 1) that the 5G base graphs reach (Sionna picks base graph 1 or 2 from k and
the rate), i.e. every entry of the 38.214 MCS tables at or above 1/5.
"""

from __future__ import annotations

import torch
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

from semcom.errors import SemcomError
from semcom.fec.blockcode import CRC_BITS, BlockCode, BlockLayout
from semcom.fec.ldpc_bp import NumbaLDPC5GDecoder

#: Smallest information length (CRC included) the 5G LDPC encoder accepts.
MIN_K = 12 + CRC_BITS
#: Largest information length of one 5G code block (base graph 1).
MAX_K = 8448
#: LDPC decoders: ``auto`` (``bp`` on the CPU, ``sionna`` on CUDA), semcom's numba decoder with the
#: exact boxplus (``bp``), min-sum (``minsum``) or offset min-sum, offset 0.5 (``offset_minsum``),
#: or Sionna's ``LDPC5GDecoder`` (boxplus-phi, on any device).
LDPC_DECODERS = ("auto", "bp", "minsum", "offset_minsum", "sionna")
_CN_UPDATE = {"bp": "boxplus", "minsum": "minsum", "offset_minsum": "offset-minsum"}


def resolve_decoder(decoder: str, device: str | torch.device = "cpu") -> str:
    """The LDPC decoder that ``decoder`` names on ``device`` (``auto``: ``bp`` on the CPU, ``sionna``
    elsewhere); SemcomError listing the choices for an unknown name."""
    if decoder not in LDPC_DECODERS:
        raise SemcomError(f"ldpc_decoder={decoder!r} is unknown: choose one of {', '.join(LDPC_DECODERS)}")
    if decoder == "auto":
        return "bp" if torch.device(device).type == "cpu" else "sionna"
    return decoder


class LDPCBlockCode(BlockCode):
    """5G LDPC + CRC24A code blocks at code ``rate`` for a modulation of ``bits_per_symbol``.

    Args:
        rate: code rate k/n, 1/5 <= rate < 1 (5G base graphs).
        bits_per_symbol: QAM bits per symbol m; n is a multiple of m.
        codeword_bits: target coded block length n (largest used; smaller when the channel
            budget is smaller than one block).
        num_iter: belief-propagation iterations (the most, with ``early_stop``).
        max_batch: code blocks per decoder call (bounds memory).
        decoder: ``auto`` | ``bp`` | ``minsum`` | ``offset_minsum`` | ``sionna`` (:data:`LDPC_DECODERS`).
        early_stop: numba decoders stop a block once its syndrome is satisfied (Sionna's decoder
            always runs ``num_iter`` iterations).

    After each decoding ``iterations_used`` accumulates (blocks, iterations) decoded by the
    numba decoders (Sionna's: ``num_iter`` per block).
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
        decoder: str = "auto",
        early_stop: bool = True,
    ):
        self.num_iter = int(num_iter)
        self.decoder = resolve_decoder(decoder, device)
        self.early_stop = bool(early_stop)
        self.iterations_used = [0, 0]
        super().__init__(rate, bits_per_symbol, codeword_bits, device=device, max_batch=max_batch)

    def _build(self, k: int, n: int) -> tuple:
        enc = LDPC5GEncoder(k, n, num_bits_per_symbol=self.m, device=str(self.device))
        if self.decoder == "sionna":
            dec = LDPC5GDecoder(enc, num_iter=self.num_iter, hard_out=True, return_infobits=True, device=str(self.device))
        else:
            dec = NumbaLDPC5GDecoder(enc, num_iter=self.num_iter, cn_update=_CN_UPDATE[self.decoder], early_stop=self.early_stop)
        return enc, dec

    def _decode(self, llrs: torch.Tensor, k: int, n: int) -> torch.Tensor:
        dec = self._code(k, n)[1]
        out = dec(llrs)
        self.iterations_used[0] += llrs.shape[0]
        self.iterations_used[1] += int(dec.last_iterations.sum()) if self.decoder != "sionna" else self.num_iter * llrs.shape[0]
        return out

    @property
    def mean_iterations(self) -> float | None:
        """Mean BP iterations per block decoded so far (None before any)."""
        blocks, its = self.iterations_used
        return its / blocks if blocks else None

    def describe(self) -> dict:
        out = {**super().describe(), "ldpc_iterations": self.num_iter, "ldpc_decoder": self.decoder}
        if self.decoder != "sionna":
            out["ldpc_early_stop"] = self.early_stop
        return out


__all__ = ["CRC_BITS", "LDPC_DECODERS", "MAX_K", "MIN_K", "BlockLayout", "LDPCBlockCode", "resolve_decoder"]
