"""Building JSCC models: built-in names, plugins, or any importable :class:`JSCCModel` subclass.

``build_model("deepjscc", {"ratio": 1/16})`` builds a model by name (:data:`semcom.registry.MODELS`:
``deepjscc``, ``adjscc``, ``swinjscc`` and the entry-point group ``semcom.models``);
``build_model("mypkg.TinyJSCC", {"ratio": 1/16, "width": 8})`` or a ``{_target_: ...}`` node
builds any importable subclass. ``model.config`` holds the arguments that rebuild it and
:func:`model_target` its import path: every checkpoint records both.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping

import torch

from semcom.conventions import parse_ratio
from semcom.jscc.base import JSCCModel
from semcom.registry import MODELS, TARGET, qualified_name


def _node(spec: str | Mapping, config: Mapping | None) -> dict:
    if isinstance(spec, Mapping):
        return {**dict(spec), **dict(config or {})}
    key = TARGET if "." in spec and spec not in MODELS.entries() else "name"
    return {key: spec, **dict(config or {})}


def build_model(spec: str | Mapping, config: Mapping | None = None) -> JSCCModel:
    """A model from a name, an import path or a node, with constructor arguments ``config``.

    A model that leaves ``config`` empty gets the arguments it was built with, so that any
    subclass can be stored in a checkpoint and rebuilt."""
    node = _node(spec, config)
    model = MODELS.build(node)
    if not model.config:
        model.config = {k: v for k, v in node.items() if k not in (TARGET, "name")}
    return model


def model_target(model: JSCCModel) -> str:
    """The import path of a model's class (``semcom.jscc.deepjscc.DeepJSCC``)."""
    return qualified_name(model)


def weights_digest(model: JSCCModel) -> str:
    """BLAKE2b-128 of a model's class, arguments and every tensor of its state dict (names, shapes, bytes)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{model_target(model)}|{sorted(model.config.items())!r}".encode())
    for key, value in model.state_dict().items():
        t = value.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def model_name(model: JSCCModel) -> str:
    """A short name of a model: its ``name`` attribute, or its class name for subclasses without one."""
    return model.name if model.name != JSCCModel.name else type(model).__name__.lower()


def with_ratio(spec: str | Mapping, params: Mapping, ratio: float) -> dict:
    """Constructor arguments with the bandwidth ratio filled in: ``ratios`` (every ratio a
    rate-adaptive model serves, the job's included) for classes that take ``ratios``, else
    ``ratio``."""
    target, factory, _ = MODELS.resolve(_node(spec, params))
    params = dict(params)
    takes = inspect.signature(factory).parameters
    if "ratios" in takes:
        ratios = [parse_ratio(r) for r in (params.pop("ratios", None) or [ratio])]
        if not any(abs(r - ratio) < 1e-9 for r in ratios):
            ratios.append(ratio)
        params["ratios"] = ratios
    else:
        params.pop("ratios", None)
        params["ratio"] = ratio
    return params
