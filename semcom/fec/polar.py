"""5G polar channel coding of whole bitstreams (segmentation and CRC24A per block: :mod:`.blockcode`).

Each code block of ``k`` bits (our CRC24A included) is encoded by Sionna's ``Polar5GEncoder``
(uplink/UCI: it appends its own CRC11 and rate-matches the mother code, at most 1024 bits, to
``n`` coded bits by puncturing, shortening or repetition) and decoded by ``Polar5GDecoder`` with
CRC-aided successive-cancellation list decoding (``SCL``, list size 8: 3GPP's reference
setting). The CRC11 serves the list decoder; the CRC24A decides whether a block arrived (CRC11
alone misses about 1 in 2^11/L wrong list choices).

Limits (38.212 without polar code segmentation, as Sionna implements it): ``k <= 1013`` information
bits and ``n <= 1088`` coded bits per block, ``k + 11 <= n``; longer bitstreams are segmented into
many blocks here. Default block length n = 1024.

Speed on this shared 2-core CPU (k=512, n=1024, one torch thread): SCL with list 8 about
8 kbit/s of information bits, SC about 500 kbit/s (5G LDPC: about 30 kbit/s): SCL suits small
images or a GPU; ``polar_decoder=SC`` is the fast, weaker alternative.
"""

from __future__ import annotations

import contextlib
import io

import torch
from sionna.phy.fec.polar import Polar5GDecoder, Polar5GEncoder

from semcom.fec.blockcode import CRC_BITS, BlockCode

POLAR_CRC_BITS = 11
MAX_K = 1013
MAX_N = 1088
DECODERS = ("SCL", "SC")


class PolarBlockCode(BlockCode):
    """5G polar (uplink) + CRC24A code blocks at code ``rate`` (k/n, our CRC24A counted in k).

    Args:
        rate: code rate k/n with (k + 11) / n <= 1; the rate counts the CRC11 as redundancy.
        bits_per_symbol: QAM bits per symbol m; n is a multiple of m.
        codeword_bits: target block length n <= 1088.
        decoder: ``SCL`` (CRC-aided list decoding, default) or ``SC``.
        list_size: SCL list size (default 8).
    """

    family = "polar"
    min_k = CRC_BITS + 8
    max_k = MAX_K
    max_n = MAX_N
    min_rate = 0.05
    max_rate = 0.99

    def __init__(
        self,
        rate: float,
        bits_per_symbol: int,
        codeword_bits: int = 1024,
        decoder: str = "SCL",
        list_size: int = 8,
        device: str | torch.device = "cpu",
        max_batch: int = 512,
    ):
        if decoder not in DECODERS:
            raise ValueError(f"polar decoder must be one of {DECODERS}, got {decoder!r}")
        self.decoder = decoder
        self.list_size = int(list_size)
        super().__init__(rate, bits_per_symbol, codeword_bits, device=device, max_batch=max_batch)

    def layout(self, coded_bit_budget: int, payload_bits: int | None = None):
        lay = super().layout(coded_bit_budget, payload_bits)
        if lay is not None and lay.k + POLAR_CRC_BITS > lay.n:
            return None
        return lay

    def _build(self, k: int, n: int) -> tuple[Polar5GEncoder, Polar5GDecoder]:
        with contextlib.redirect_stdout(io.StringIO()):  # Sionna prints a notice for small k
            enc = Polar5GEncoder(k, n, channel_type="uplink", device=str(self.device))
            dec = Polar5GDecoder(enc, dec_type=self.decoder, list_size=self.list_size, device=str(self.device))
        return enc, dec

    def _decode(self, llrs: torch.Tensor, k: int, n: int) -> torch.Tensor:
        return self._code(k, n)[1](llrs)

    def describe(self) -> dict:
        return {**super().describe(), "polar_decoder": self.decoder, "polar_list_size": self.list_size}
