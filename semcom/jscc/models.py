"""Model registry: name -> class, and construction from a stored config.

``build_model("deepjscc", {"ratio": 1/16})`` builds a model; ``model.config`` holds the
arguments that rebuild it (stored in every checkpoint).
"""

from __future__ import annotations

from semcom.errors import SemcomError
from semcom.jscc.adjscc import ADJSCC
from semcom.jscc.base import JSCCModel
from semcom.jscc.deepjscc import DeepJSCC
from semcom.jscc.swinjscc import SwinJSCC

MODELS: dict[str, type[JSCCModel]] = {"deepjscc": DeepJSCC, "adjscc": ADJSCC, "swinjscc": SwinJSCC}


def build_model(name: str, config: dict) -> JSCCModel:
    """Model ``name`` from its constructor arguments (SemcomError for unknown names/arguments)."""
    if name not in MODELS:
        raise SemcomError(f"unknown JSCC model {name!r}: choose one of {', '.join(sorted(MODELS))}")
    try:
        return MODELS[name](**dict(config))
    except TypeError as exc:
        raise SemcomError(f"bad parameters for JSCC model {name!r}: {exc}") from None
