"""Separate source-channel coding: source codec + 5G LDPC + QAM over the channel.

Per image (H x W), at bandwidth ratio rho:

1. budget: ``n_cu = floor(rho * 3HW)`` complex channel uses, i.e. ``n_cu * m`` coded bits for
   QAM with m bits per symbol;
2. code blocks: 5G LDPC at ``code_rate`` with a CRC24A per block (:mod:`semcom.codecs.ldpc`);
   the source codec picks the highest quality whose file fits the blocks that fit the budget;
3. Sionna QAM mapper (Gray, unit average energy) -> channel -> the channel's configured receiver
   (CSI and equaliser, ``ChannelOutput.llr_inputs``) -> Sionna "app" demapper fed each symbol's
   effective noise after equalisation, (N0 + CSI error variance)/|h_est|^2 -> batched BP
   decoding -> CRC per block;
4. any block failing its CRC loses the image: the receiver shows the fallback (grey by default;
   ``corrupt`` tries the source decoder on the erroneous bits) and the row is marked failed.

``bits`` in the result is the source file size; ``channel_uses`` the QAM symbols actually sent.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from sionna.phy.mapping import Demapper, Mapper

from semcom.channels.base import Channel
from semcom.codecs import DecodeError, build_codec, fit_to_budget
from semcom.codecs.ldpc import LDPCBlockCode
from semcom.conventions import channel_uses, ebn0_db
from semcom.errors import SemcomError
from semcom.pipeline import Transmission, fallback_image, from_uint8, register_pipeline, to_uint8
from semcom.randomness import Rng

QAM_ORDERS = (2, 4, 16, 64, 256)


def qam_bits(order: int) -> int:
    """Bits per symbol of a QAM order (2 = BPSK, 4 = QPSK, 16, 64, 256)."""
    if int(order) not in QAM_ORDERS:
        raise SemcomError(f"qam={order} is not supported: choose a QAM order from {QAM_ORDERS}")
    return int(order).bit_length() - 1


def bytes_to_bits(data: bytes) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(np.float32))


def bits_to_bytes(bits: torch.Tensor) -> bytes:
    return np.packbits(bits.detach().cpu().numpy().astype(np.uint8)).tobytes()


def _row_rng(rng: Rng, i: int):
    return [rng[i]] if not isinstance(rng, torch.Generator) else rng


@register_pipeline("separate")
class SeparateChain:
    """Source codec + 5G LDPC (CRC per block) + QAM.

    Args:
        name: pipeline name in result rows (e.g. ``jpeg_ldpc``).
        codec: source codec name (``jpeg``); ``codec_params`` passed to it.
        code_rate: LDPC code rate in [1/5, 1).
        qam: QAM order (2, 4, 16, 64, 256).
        codeword_bits: LDPC code block length n (coded bits).
        ldpc_iterations: BP iterations.
        ratio: bandwidth ratio rho.
        fallback: ``grey`` | ``black`` | ``corrupt``.
    """

    kind = "separate"

    def __init__(
        self,
        name: str,
        codec: str = "jpeg",
        code_rate: float = 0.5,
        qam: int = 4,
        codeword_bits: int = 4096,
        ldpc_iterations: int = 20,
        codec_params: dict | None = None,
        *,
        ratio: float,
        fallback: str = "grey",
        device: str | torch.device = "cpu",
    ):
        self.name = name
        self.ratio = float(ratio)
        self.fallback = fallback
        self.device = torch.device(device)
        self.codec = build_codec(codec, **dict(codec_params or {}))
        self.qam = int(qam)
        self.m = qam_bits(qam)
        try:
            self.code = LDPCBlockCode(code_rate, self.m, codeword_bits, ldpc_iterations, device=self.device)
        except ValueError as exc:
            raise SemcomError(f"pipeline {name}: {exc}") from None
        kind = "pam" if self.m == 1 else "qam"
        self.mapper = Mapper(kind, self.m, device=str(self.device))
        self.demapper = Demapper("app", kind, self.m, device=str(self.device))

    def params(self) -> dict:
        return {
            "codec": self.codec.implementation,
            "code_rate": self.code.rate,
            "qam": self.qam,
            "codeword_bits": self.code.codeword_bits,
            "ldpc_iterations": self.code.num_iter,
            "fallback": self.fallback,
        }

    def transmit(self, images: torch.Tensor, snr_db, channel: Channel, rng: Rng) -> Transmission:
        n_img, _, height, width = images.shape
        snrs = torch.as_tensor(snr_db, dtype=torch.float32).reshape(-1).expand(n_img)
        n_cu = channel_uses(self.ratio, height, width)
        arrays = to_uint8(images)
        max_layout = self.code.layout(n_cu * self.m)

        # Transmitter and channel, image by image (cheap); code blocks collected for batched decoding.
        encoded, layouts, llrs = [None] * n_img, [None] * n_img, [None] * n_img
        for i in range(n_img):
            if max_layout is None or max_layout.count == 0:
                continue
            enc = fit_to_budget(self.codec, arrays[i], max_layout.payload_capacity)
            if enc is None:
                continue
            layout = self.code.layout(n_cu * self.m, payload_bits=enc.bits)
            coded = self.code.encode(bytes_to_bits(enc.data).to(self.device), layout)
            x = self.mapper(coded.reshape(1, -1))
            out = channel(x, snrs[i].to(self.device), _row_rng(rng, i))
            x_hat, n0_eff = out.llr_inputs()
            llrs[i] = self.demapper(x_hat, n0_eff).reshape(layout.count, layout.n)
            encoded[i], layouts[i] = enc, layout

        # Receiver: one decoder call per (k, n) over all images' blocks.
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, layout in enumerate(layouts):
            if layout is not None:
                groups[(layout.k, layout.n)].append(i)
        decoded: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        for (k, n), members in groups.items():
            bits, ok = self.code.decode_batch(torch.cat([llrs[i] for i in members]), k, n)
            start = 0
            for i in members:
                c = layouts[i].count
                decoded[i] = (bits[start : start + c].reshape(-1), ok[start : start + c])
                start += c

        recs, sent_bits, uses, failed = [], [], [], []
        extras = defaultdict(list)
        for i in range(n_img):
            enc, layout = encoded[i], layouts[i]
            block_errors = None
            if enc is None:
                rec, ok = fallback_image(self.fallback, (3, height, width)), False
            else:
                payload, block_ok = decoded[i]
                block_errors = int((~block_ok).sum())
                ok = block_errors == 0
                rec = self._source_decode(payload[: enc.bits], enc.data, ok, (height, width))
            recs.append(rec)
            sent_bits.append(enc.bits if enc is not None else 0)
            uses.append(layout.coded_bits // self.m if layout is not None else 0)
            failed.append(not ok)
            extras["quality"].append(enc.quality if enc is not None else None)
            extras["codewords"].append(layout.count if layout is not None else 0)
            extras["block_errors"].append(block_errors)
            extras["code_rate"].append(self.code.rate)
            extras["qam"].append(self.qam)
            extras["ebn0_db"].append(ebn0_db(float(snrs[i]), self.m, self.code.rate))
            extras["codec"].append(self.codec.implementation)
        return Transmission(
            reconstructions=torch.stack(recs),
            bits=torch.tensor(sent_bits, dtype=torch.int64),
            channel_uses=torch.tensor(uses, dtype=torch.int64),
            failed=torch.tensor(failed, dtype=torch.bool),
            extras=dict(extras),
        )

    def _source_decode(self, payload: torch.Tensor, sent: bytes, ok: bool, shape) -> torch.Tensor:
        if ok:
            received = bits_to_bytes(payload)
            return from_uint8(self.codec.decode(received, shape))
        if self.fallback == "corrupt":
            try:
                return from_uint8(self.codec.decode(bits_to_bytes(payload), shape))
            except DecodeError:
                pass
        return fallback_image(self.fallback, (3, *shape))
