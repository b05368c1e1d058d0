"""5G LDPC channel coding of whole bitstreams: segmentation into code blocks, CRC per block.

A bitstream (an image file) is split into code blocks of ``k - 24`` payload bits; each block gets
a CRC24A (Sionna ``CRCEncoder``) and is encoded by Sionna's ``LDPC5GEncoder`` into ``n`` coded bits
(``n`` a multiple of the QAM bits per symbol; the encoder's 5G output interleaver for that
modulation is on). The last block is zero-padded; JPEG and the other codecs stop at their end
marker, so no length field is sent. The receiver runs ``LDPC5GDecoder`` (belief propagation,
boxplus-phi, ``num_iter`` iterations, logit LLRs log p(1)/p(0) as Sionna's demapper produces)
and checks each block's CRC. Blocks with the same (k, n) from many images are decoded in one
batched call.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sionna.phy.fec.crc import CRCDecoder, CRCEncoder
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder

CRC_BITS = 24
#: Smallest information length (CRC included) the 5G LDPC encoder accepts.
MIN_K = 12 + CRC_BITS
#: Largest information length of one 5G code block (base graph 1).
MAX_K = 8448


@dataclass(frozen=True)
class BlockLayout:
    """How one bitstream is carried: ``count`` code blocks of ``k`` info bits (CRC included), ``n`` coded."""

    k: int
    n: int
    count: int

    @property
    def payload_bits_per_block(self) -> int:
        return self.k - CRC_BITS

    @property
    def payload_capacity(self) -> int:
        """Bits of source payload that ``count`` blocks carry."""
        return self.count * self.payload_bits_per_block

    @property
    def coded_bits(self) -> int:
        return self.count * self.n


class LDPCBlockCode:
    """5G LDPC + CRC24A code blocks at code ``rate`` for a modulation of ``bits_per_symbol``.

    Args:
        rate: code rate k/n, 1/5 <= rate < 1 (5G base graphs).
        bits_per_symbol: QAM bits per symbol m; n is a multiple of m.
        codeword_bits: target coded block length n (largest used; smaller when the channel
            budget is smaller than one block).
        num_iter: belief-propagation iterations.
        max_batch: code blocks per decoder call (bounds memory).
    """

    def __init__(
        self,
        rate: float,
        bits_per_symbol: int,
        codeword_bits: int = 4096,
        num_iter: int = 20,
        device: str | torch.device = "cpu",
        max_batch: int = 2048,
    ):
        if not 0.2 - 1e-9 <= float(rate) < 1.0:
            raise ValueError(f"5G LDPC supports code rates in [1/5, 1), got {rate}")
        self.rate = float(rate)
        self.m = int(bits_per_symbol)
        self.codeword_bits = int(codeword_bits)
        self.num_iter = int(num_iter)
        self.device = torch.device(device)
        self.max_batch = int(max_batch)
        self._crc = CRCEncoder("CRC24A", device=str(self.device))
        self._crc_dec = CRCDecoder(self._crc, device=str(self.device))
        self._codes: dict[tuple[int, int], tuple[LDPC5GEncoder, LDPC5GDecoder]] = {}
        n = (self.codeword_bits // self.m) * self.m
        k = round(n * self.rate)
        if k > MAX_K:
            raise ValueError(f"codeword_bits={codeword_bits} at rate {rate} gives k={k} > {MAX_K}")

    def layout(self, coded_bit_budget: int, payload_bits: int | None = None) -> BlockLayout | None:
        """Block layout for a channel budget of ``coded_bit_budget`` coded bits.

        With ``payload_bits`` None: the most blocks that fit (``count`` maximal). Otherwise the
        fewest blocks that carry ``payload_bits``. None if not even one block fits.
        """
        n = (min(self.codeword_bits, int(coded_bit_budget)) // self.m) * self.m
        k = round(n * self.rate)
        if k < MIN_K:
            return None
        max_count = int(coded_bit_budget) // n
        if payload_bits is None:
            return BlockLayout(k, n, max_count)
        count = -(-int(payload_bits) // (k - CRC_BITS))
        return BlockLayout(k, n, max(1, count)) if count <= max_count else None

    def _code(self, k: int, n: int) -> tuple[LDPC5GEncoder, LDPC5GDecoder]:
        if (k, n) not in self._codes:
            enc = LDPC5GEncoder(k, n, num_bits_per_symbol=self.m, device=str(self.device))
            dec = LDPC5GDecoder(enc, num_iter=self.num_iter, hard_out=True, return_infobits=True, device=str(self.device))
            self._codes[(k, n)] = (enc, dec)
        return self._codes[(k, n)]

    def encode(self, payload: torch.Tensor, layout: BlockLayout) -> torch.Tensor:
        """Payload bits (B,) float32 0/1 -> coded bits (layout.count, n) float32."""
        cap = layout.payload_capacity
        if payload.numel() > cap:
            raise ValueError(f"{payload.numel()} payload bits exceed the layout's {cap}")
        padded = torch.zeros(cap, dtype=torch.float32, device=self.device)
        padded[: payload.numel()] = payload.to(self.device, torch.float32)
        blocks = padded.reshape(layout.count, layout.payload_bits_per_block)
        enc, _ = self._code(layout.k, layout.n)
        return enc(self._crc(blocks))

    def decode_batch(self, llrs: torch.Tensor, k: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode code blocks of one (k, n): LLRs (C, n) -> payload bits (C, k - 24), CRC ok (C,) bool."""
        _, dec = self._code(k, n)
        outs, oks = [], []
        for start in range(0, llrs.shape[0], self.max_batch):
            hard = dec(llrs[start : start + self.max_batch].to(self.device, torch.float32))
            info, ok = self._crc_dec(hard)
            outs.append(info)
            oks.append(ok.reshape(-1).bool())
        if not outs:
            return torch.empty(0, k - CRC_BITS, device=self.device), torch.empty(0, dtype=torch.bool, device=self.device)
        return torch.cat(outs), torch.cat(oks)
