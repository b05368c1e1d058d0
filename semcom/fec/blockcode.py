"""Carrying a whole bitstream over a block channel code: segmentation, CRC per block, batching.

A bitstream (an image file) is split into code blocks of ``k - 24`` payload bits; each block gets
a CRC24A (Sionna ``CRCEncoder``) and is encoded into ``n`` coded bits by the code family's
encoder (``n`` a multiple of the QAM bits per symbol). The last block is zero-padded; every codec
here delimits its own bitstream (JPEG's end marker, HEVC's NAL lengths, ...), so no length field
is sent. The receiver decodes (logit LLRs log p(1)/p(0), as Sionna's demapper produces) and checks
each block's CRC. Blocks with the same (k, n), from many images, are decoded in one batched call.

Families: :class:`semcom.fec.ldpc.LDPCBlockCode` (5G LDPC) and
:class:`semcom.fec.polar.PolarBlockCode` (5G polar, SCL).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sionna.phy.fec.crc import CRCDecoder, CRCEncoder

CRC_BITS = 24


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


class BlockCode:
    """Base class: code ``rate`` k/n (CRC24A counted in k), QAM with ``bits_per_symbol`` bits.

    Subclasses set ``family``, ``min_k``, ``max_k``, ``max_n``, ``min_rate``, ``max_rate`` and
    implement :meth:`_build` (encoder, decoder for one (k, n)) and :meth:`_decode` (LLRs -> hard
    information bits including the CRC).

    Args:
        rate: code rate k/n.
        bits_per_symbol: QAM bits per symbol m; n is a multiple of m.
        codeword_bits: target coded block length n (the largest used; smaller when the channel
            budget is smaller than one block).
        device: torch device of the encoder/decoder.
        max_batch: code blocks per decoder call (bounds memory).
    """

    family = "code"
    min_k = CRC_BITS + 12
    max_k = 10**9
    max_n = 10**9
    min_rate = 0.0
    max_rate = 1.0

    def __init__(self, rate: float, bits_per_symbol: int, codeword_bits: int, device: str | torch.device = "cpu", max_batch: int = 2048):
        if not self.min_rate - 1e-9 <= float(rate) < self.max_rate:
            raise ValueError(f"{self.family} supports code rates in [{self.min_rate:g}, {self.max_rate:g}), got {rate}")
        self.rate = float(rate)
        self.m = int(bits_per_symbol)
        self.codeword_bits = self.check_block_length(codeword_bits, self.rate, self.m)
        self.device = torch.device(device)
        self.max_batch = int(max_batch)
        self._crc = CRCEncoder("CRC24A", device=str(self.device))
        self._crc_dec = CRCDecoder(self._crc, device=str(self.device))
        self._codes: dict[tuple[int, int], tuple] = {}
        n = (self.codeword_bits // self.m) * self.m
        k = round(n * self.rate)
        if k > self.max_k:
            raise ValueError(f"{self.family}: codeword_bits={codeword_bits} at rate {rate} gives k={k} > {self.max_k}")

    @classmethod
    def check_block_length(cls, codeword_bits, rate: float, bits_per_symbol: int) -> int:
        """``codeword_bits`` as an int; ValueError unless it is a whole number of coded bits that
        holds at least one block of this family at ``rate`` (k = round(n rate) >= ``min_k``, the
        CRC24A included) and no more than ``max_n``."""
        if isinstance(codeword_bits, bool) or not isinstance(codeword_bits, (int, float)) or int(codeword_bits) != codeword_bits:
            raise ValueError(f"codeword_bits={codeword_bits!r} must be a whole number of coded bits, e.g. 4096")
        n = int(codeword_bits)
        smallest = next(k for k in range(bits_per_symbol, 10**7, bits_per_symbol) if round(k * rate) >= cls.min_k)
        if (n // bits_per_symbol) * bits_per_symbol < smallest:
            raise ValueError(f"codeword_bits={n} is too small: a {cls.family} block at rate {rate:g} with a CRC24A needs "
                             f"n >= {smallest} coded bits (k >= {cls.min_k}); e.g. codeword_bits=4096")
        if n > cls.max_n:
            raise ValueError(f"codeword_bits={n} exceeds the largest {cls.family} block n = {cls.max_n}")
        return n

    def layout(self, coded_bit_budget: int, payload_bits: int | None = None) -> BlockLayout | None:
        """Block layout for a channel budget of ``coded_bit_budget`` coded bits.

        With ``payload_bits`` None: the most blocks that fit (``count`` maximal). Otherwise the
        fewest blocks that carry ``payload_bits``. None if not even one block fits.
        """
        n = (min(self.codeword_bits, int(coded_bit_budget)) // self.m) * self.m
        k = round(n * self.rate)
        if k < self.min_k or n <= 0:
            return None
        max_count = int(coded_bit_budget) // n
        if payload_bits is None:
            return BlockLayout(k, n, max_count)
        count = -(-int(payload_bits) // (k - CRC_BITS))
        return BlockLayout(k, n, max(1, count)) if count <= max_count else None

    def _code(self, k: int, n: int) -> tuple:
        if (k, n) not in self._codes:
            self._codes[(k, n)] = self._build(k, n)
        return self._codes[(k, n)]

    def _build(self, k: int, n: int) -> tuple:
        raise NotImplementedError

    def _decode(self, llrs: torch.Tensor, k: int, n: int) -> torch.Tensor:
        """LLRs (B, n) float32 -> hard information bits (B, k) float32 (CRC24A included)."""
        raise NotImplementedError

    def encode(self, payload: torch.Tensor, layout: BlockLayout) -> torch.Tensor:
        """Payload bits (B,) float32 0/1 -> coded bits (layout.count, n) float32."""
        cap = layout.payload_capacity
        if payload.numel() > cap:
            raise ValueError(f"{payload.numel()} payload bits exceed the layout's {cap}")
        padded = torch.zeros(cap, dtype=torch.float32, device=self.device)
        padded[: payload.numel()] = payload.to(self.device, torch.float32)
        blocks = padded.reshape(layout.count, layout.payload_bits_per_block)
        enc = self._code(layout.k, layout.n)[0]
        return enc(self._crc(blocks))

    def decode_batch(self, llrs: torch.Tensor, k: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode code blocks of one (k, n): LLRs (C, n) -> payload bits (C, k - 24), CRC ok (C,) bool."""
        outs, oks = [], []
        for start in range(0, llrs.shape[0], self.max_batch):
            hard = self._decode(llrs[start : start + self.max_batch].to(self.device, torch.float32), k, n)
            info, ok = self._crc_dec(hard)
            outs.append(info)
            oks.append(ok.reshape(-1).bool())
        if not outs:
            return torch.empty(0, k - CRC_BITS, device=self.device), torch.empty(0, dtype=torch.bool, device=self.device)
        return torch.cat(outs), torch.cat(oks)

    def describe(self) -> dict:
        """Settings recorded in result rows."""
        return {"code": self.family, "code_rate": self.rate, "codeword_bits": self.codeword_bits}
