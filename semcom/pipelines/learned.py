"""The ``learned`` pipeline kind: a trained JSCC model between the images and the channel.

Config (``semcom/conf/pipeline/deepjscc.yaml`` and siblings, ``learned.yaml`` for any checkpoint)::

    kind: learned
    name: deepjscc                        # row name; null: the checkpoint's name (its run folder)
    model: deepjscc                       # the architecture the checkpoint must hold (null: any)
    checkpoint: deepjscc-awgn-r1_16       # shipped name, a .pt file, a training run folder, or a semcom.weights name
    side_info: effective                  # decoder SNR input: effective (after ZF) | nominal

The checkpoint records the model's class (import path) and constructor arguments, so any model,
yours included, is rebuilt from it with nothing else given.

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
from semcom.jscc.base import JSCCModel, _fraction, as_snr_tensor, side_snr_db
from semcom.jscc.checkpoints import load_checkpoint, shipped, trained_channel
from semcom.jscc.gdn import GDN_SOURCE
from semcom.jscc.models import model_name, model_target, weights_digest
from semcom.conventions import ratio_label
from semcom.pipelines.base import DISPLAY, PipelineBase, Transmission
from semcom.randomness import Rng

SIDE_INFO = ("effective", "nominal")


class LearnedPipeline(PipelineBase):
    """A learned JSCC model loaded from ``checkpoint``; see the module docstring."""

    kind = "learned"

    def __init__(self, checkpoint: str | JSCCModel, name: str | None = None, model: str | None = None, side_info: str = "effective",
                 **common):
        if side_info not in SIDE_INFO:
            raise SemcomError(f"pipeline.side_info={side_info!r} is unknown: choose {' or '.join(SIDE_INFO)}")
        device = torch.device(common.get("device", "cpu"))
        if isinstance(checkpoint, JSCCModel):  # a model object (the Python API): identified by its weights
            self.checkpoint = ""
            self.model = checkpoint.to(device).eval()
            self.meta = {"name": model_name(checkpoint), "sha256": weights_digest(checkpoint)}
        else:
            self.checkpoint = str(checkpoint) if checkpoint else ""
            self.model, self.meta = load_checkpoint(self.checkpoint, device)
        super().__init__(name or str(self.meta["name"]), **common)
        self.side_info = side_info
        held = model_name(self.model)
        if model and held != model:
            raise SemcomError(f"checkpoint {self.checkpoint!r} holds a {held} model, not {model}: pick a {model} checkpoint or pipeline={held}")
        self._check_ratio()

    @property
    def label(self) -> str:
        """``DeepJSCC (1/16)``: the model's display name and the job's ratio."""
        held = model_name(self.model)
        return f"{DISPLAY.get(held, held)} ({ratio_label(self.ratio)})"

    def _check_ratio(self) -> None:
        if any(abs(self.ratio - r) < 1e-9 for r in self.model.ratios):
            return
        trained = ", ".join(_fraction(r) for r in self.model.ratios)
        held = model_name(self.model)
        others = [n for n, e in shipped().items() if e.model == held and any(abs(self.ratio - r) < 1e-9 for r in e.ratios)]
        hint = f" (shipped: {', '.join(others)})" if others else ""
        raise SemcomError(
            f"checkpoint {self.checkpoint!r} was trained for ratio={trained}, but the job has ratio={_fraction(self.ratio)}: "
            f"add ratio={_fraction(self.model.ratios[0])}, or choose a checkpoint trained for {_fraction(self.ratio)}{hint}"
        )

    def params(self) -> dict:
        return {
            "model": model_name(self.model),
            "model_target": model_target(self.model),
            "model_config": self.model.config,
            "checkpoint_sha256": self.meta["sha256"],
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
        return Transmission(rec.cpu(), torch.zeros(n, dtype=torch.int64), torch.full((n,), x.shape[1], dtype=torch.int64),
                            torch.zeros(n, dtype=torch.bool))
