"""Learned semantic encoders: DeepJSCC, ADJSCC, a small Swin-transformer JSCC.

Each model (:class:`~semcom.jscc.base.JSCCModel`) maps images (N, 3, H, W) in [0, 1] to complex
channel symbols (N, L) at unit power per image and back, through the same channel objects as the
digital chains.

* models: :mod:`semcom.jscc.deepjscc`, :mod:`semcom.jscc.adjscc`, :mod:`semcom.jscc.swinjscc`
* checkpoints (shipped registry, loading, export): :mod:`semcom.jscc.checkpoints`
* training: :mod:`semcom.jscc.training` (``python -m semcom.train``)
* evaluation: :mod:`semcom.jscc.evaluate` (``python -m semcom.jscc.evaluate NAME``)
"""

from semcom.jscc.adjscc import ADJSCC
from semcom.jscc.base import JSCCModel
from semcom.jscc.checkpoints import load_checkpoint, resolve_checkpoint, shipped
from semcom.jscc.deepjscc import DeepJSCC
from semcom.jscc.models import MODELS, build_model
from semcom.jscc.swinjscc import SwinJSCC

__all__ = [
    "ADJSCC",
    "MODELS",
    "DeepJSCC",
    "JSCCModel",
    "SwinJSCC",
    "build_model",
    "load_checkpoint",
    "resolve_checkpoint",
    "shipped",
]
