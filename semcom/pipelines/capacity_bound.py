"""The capacity-achieving bound: a source codec over an ideal, error-free channel code.

An ideal code carries log2(1 + |h|^2 SNR) bits per complex channel use without error. An image
of H x W at bandwidth ratio rho therefore gets a budget of
``sum over its n_cu = floor(rho 3HW) channel uses of log2(1 + |h_t|^2 SNR)`` bits
(over AWGN, h = 1: ``n_cu log2(1 + SNR)``; under block fading the instantaneous capacity of its
block, with h drawn exactly as the channel would draw it for this image). The codec's largest
quality that fits is decoded without error; if even its lowest quality does not fit, the image is
lost (fallback image, row marked failed). This is the "codec + capacity" curve papers plot.
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch

from semcom.channels.capacity import instantaneous_capacity_bits
from semcom.channels.base import Channel
from semcom.codecs import build_codec, fit_to_budget
from semcom.conventions import channel_uses
from semcom.pipelines.base import PipelineBase, Transmission, codec_display, fallback_image, from_uint8, to_uint8
from semcom.randomness import Rng


class CapacityBound(PipelineBase):
    """Source codec at the channel's capacity (ideal error-free code).

    Args:
        name: pipeline name in result rows.
        codec: source codec name or ``{_target_: ...}`` node (:func:`semcom.codecs.build_codec`);
            ``codec_params`` passed to it.
        ratio, fallback, device, encodings: see :class:`~semcom.pipelines.base.PipelineBase`.
    """

    kind = "capacity"
    bound = True
    extra_columns = ("quality", "capacity_bits", "codec")

    def __init__(self, name: str, codec: str = "jpeg", codec_params: dict | None = None, **common):
        super().__init__(name, **common)
        self.codec = build_codec(codec, device=self.device, **dict(codec_params or {}))
        self._codec_label = codec_display(codec, self.codec)

    @property
    def label(self) -> str:
        return f"{self._codec_label} + capacity"

    def params(self) -> dict:
        return {"codec": self.codec.implementation, **super().params()}

    def budget_bits(self, height: int, width: int, snr_db: float, channel: Channel, rng: Rng) -> tuple[float, int]:
        """(capacity bits, channel uses) for one image; draws the fading gains from ``rng``."""
        n_cu = channel_uses(self.ratio, height, width)
        device = rng.device if isinstance(rng, torch.Generator) else rng[0].device
        h = channel.gains((1, n_cu), rng, device)
        return float(instantaneous_capacity_bits(h, float(snr_db))[0]), n_cu

    def transmit(self, images: torch.Tensor, snr_db, channel: Channel, rng: Rng) -> Transmission:
        n_img, _, height, width = images.shape
        snrs = torch.as_tensor(snr_db, dtype=torch.float32).reshape(-1).expand(n_img)
        arrays = to_uint8(images)
        recs, sent, uses, failed = [], [], [], []
        extras = defaultdict(list)
        for i in range(n_img):
            row_rng = [rng[i]] if not isinstance(rng, torch.Generator) else rng
            budget, n_cu = self.budget_bits(height, width, float(snrs[i]), channel, row_rng)
            enc = fit_to_budget(self.codec, arrays[i], budget, self.encodings)
            if enc is None:
                recs.append(fallback_image(self.fallback, (3, height, width)))
                sent.append(0)
                uses.append(0)
                failed.append(True)
            else:
                recs.append(from_uint8(self.codec.decode(enc.data, (height, width))))
                sent.append(enc.bits)
                # channel uses an ideal code needs at this image's mean capacity per use
                per_use = budget / n_cu if n_cu else 0.0
                uses.append(min(n_cu, math.ceil(enc.bits / per_use)) if per_use > 0 else n_cu)
                failed.append(False)
            extras["quality"].append(enc.quality if enc is not None else None)
            extras["capacity_bits"].append(budget)
            extras["codec"].append(self.codec.implementation)
        return Transmission.from_lists(recs, sent, uses, failed, extras)
