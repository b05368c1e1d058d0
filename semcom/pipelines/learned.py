"""The ``learned`` pipeline kind: a trained JSCC model between the images and the channel.

Config (``semcom/conf/pipeline/deepjscc.yaml`` and siblings)::

    kind: learned
    name: deepjscc
    model: deepjscc                       # the architecture the checkpoint must hold
    checkpoint: deepjscc-awgn-r1_16       # shipped name, semcom.weights name, or a .pt path
    side_info: effective                  # decoder SNR input: effective (after ZF) | nominal

Per batch: encoder (nominal SNR for SNR-adaptive encoders) -> per-image unit power -> the
channel with the per-image generators of the runner (the same noise and fading any other chain
sending as many symbols sees) -> zero-forcing with the channel's receiver CSI (``channel.csi``:
perfect, LS pilots or noisy) -> decoder (given the effective SNR the receiver knows) -> crop. ``bits`` is 0
(analog symbols), ``channel_uses`` the symbols sent (see :mod:`semcom.jscc.base` for padding).

A checkpoint trained for another bandwidth ratio than the job's ``ratio`` is refused.
"""

from __future__ import annotations

import torch

from semcom.channels.base import Channel
from semcom.errors import SemcomError
from semcom.jscc.base import _fraction, as_snr_tensor, side_snr_db
from semcom.jscc.checkpoints import load_checkpoint, shipped, trained_channel
from semcom.jscc.gdn import GDN_SOURCE
from semcom.pipelines.base import Transmission, register_pipeline
from semcom.randomness import Rng

SIDE_INFO = ("effective", "nominal")


@register_pipeline("learned")
class LearnedPipeline:
    """A learned JSCC model loaded from ``checkpoint``; see the module docstring."""

    kind = "learned"

    def __init__(self, name: str, checkpoint: str, model: str | None = None, side_info: str = "effective", *, ratio: float, fallback: str = "grey", device="cpu"):
        self.name = name
        self.ratio = float(ratio)
        self.fallback = fallback
        self.device = torch.device(device)
        if side_info not in SIDE_INFO:
            raise SemcomError(f"pipeline.side_info={side_info!r} is unknown: choose {' or '.join(SIDE_INFO)}")
        self.side_info = side_info
        self.checkpoint = str(checkpoint) if checkpoint else ""
        self.model, self.meta = load_checkpoint(self.checkpoint, self.device)
        if model and self.model.name != model:
            raise SemcomError(f"checkpoint {self.checkpoint!r} holds a {self.model.name} model, not {model}: pick a {model} checkpoint or pipeline={self.model.name}")
        if not any(abs(self.ratio - r) < 1e-9 for r in self.model.ratios):
            trained = ", ".join(_fraction(r) for r in self.model.ratios)
            others = [n for n, e in shipped().items() if e.model == self.model.name and any(abs(self.ratio - r) < 1e-9 for r in e.ratios)]
            hint = f" (shipped: {', '.join(others)})" if others else ""
            raise SemcomError(
                f"checkpoint {self.checkpoint!r} was trained for ratio={trained}, but the job has ratio={_fraction(self.ratio)}: "
                f"add ratio={_fraction(self.model.ratios[0])}, or choose a checkpoint trained for {_fraction(self.ratio)}{hint}"
            )

    def params(self) -> dict:
        return {
            "model": self.model.name,
            "model_config": self.model.config,
            "checkpoint_file": self.meta.get("path"),
            "trained_channel": trained_channel(self.meta.get("train_config")),
            "side_info": self.side_info,
            "gdn": GDN_SOURCE,
        }

    @torch.no_grad()
    def transmit(self, images: torch.Tensor, snr_db, channel: Channel, rng: Rng) -> Transmission:
        images = images.to(self.device)
        n = images.shape[0]
        snr = as_snr_tensor(snr_db, n, self.device)
        x, layout = self.model.encode(images, snr, self.ratio)
        out = channel(x, snr, rng)
        x_hat, _ = out.equalize("zf")
        dec_snr = side_snr_db(out) if self.side_info == "effective" else snr
        rec = self.model.decode(x_hat, layout, dec_snr)
        return Transmission(
            reconstructions=rec.cpu(),
            bits=torch.zeros(n, dtype=torch.int64),
            channel_uses=torch.full((n,), x.shape[1], dtype=torch.int64),
            failed=torch.zeros(n, dtype=torch.bool),
        )
