"""Metrics registry: ``get_metric(name)`` returns a :class:`Metric` (weights load on first use).

    >>> from semcom.metrics import get_metric
    >>> m = get_metric("lpips")
    >>> m(ref, rec)          # (N,) tensor for (N, 3, H, W) float tensors in [0, 1]
    >>> fid = get_metric("fid")
    >>> fid.update(ref, rec); fid.compute()   # {"fid": ..., "n": N}

Names: psnr, ssim, ms_ssim (pixel); lpips (v0.1 AlexNet), lpips_vgg, dists (perceptual);
fid, kid, is (sets); vitscore, clip, sess, sess_lite, detection (semantic, optional extra). :func:`select_metrics` turns a config value into loaded metrics:
an explicit list is strict (a missing checkpoint is an error); ``default`` (DEFAULT_METRICS),
``main`` (MAIN_METRICS) and ``all`` (every metric) keep the metrics whose weights resolve and report the others as skipped.
"""

from __future__ import annotations

from collections.abc import Mapping

from semcom.errors import SemcomError
from semcom.registry import METRICS
from semcom.metrics.base import Metric, SetMetric
from semcom.metrics.clip import CLIPSimilarity
from semcom.metrics.detection import DetectionAgreement
from semcom.metrics.distribution import FID, KID, InceptionScore
from semcom.metrics.dists import DISTS
from semcom.metrics.lpips import LPIPS
from semcom.metrics.pixel import MSSSIM, PSNR, SSIM
from semcom.metrics.sess import SeSS, SeSSLite
from semcom.metrics.vitscore import ViTScore

#: ``metrics=default``: cheap enough for the default job on 2 CPU cores (measured costs: docs/validation/speed.md).
DEFAULT_METRICS = ("psnr", "ssim", "ms_ssim", "lpips")
#: ``metrics=main``: the main job's pixel, structural, perceptual and semantic scores (ViTScore only
#: where the ``semantic`` extra and its weights are installed; skipped with the reason otherwise).
MAIN_METRICS = ("psnr", "ms_ssim", "lpips", "vitscore")


def selectors() -> dict[str, tuple[str, ...]]:
    """Config words that select a set of metrics, keeping only those whose weights resolve:
    ``default`` (:data:`DEFAULT_METRICS`), ``main`` (:data:`MAIN_METRICS`) and ``all`` (every
    registered name, plugins included)."""
    return {"default": DEFAULT_METRICS, "main": MAIN_METRICS, "all": tuple(METRICS.entries())}


def get_metric(spec: str | Mapping, **params) -> Metric:
    """The metric named ``spec`` (built-in or plugin), or a ``{_target_: ..., **params}`` node naming
    any :class:`Metric` subclass; SemcomError listing the valid names otherwise."""
    return METRICS.build(spec, **params)


def metric_names() -> list[str]:
    return METRICS.names()


def spec_name(spec: str | Mapping) -> str:
    """The result column a metric spec writes: the name itself, or the ``name`` class attribute of
    a ``_target_`` node's class."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping) and spec.get("_target_"):
        from semcom.registry import import_object

        cls = import_object(spec["_target_"], "metric")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name or name == "metric":
            raise SemcomError(f"metric {spec['_target_']}: has no name: set the class attribute name = '...' (its result column)")
        return name
    raise SemcomError(f"metric {spec!r} is neither a name nor a {{_target_: ...}} node")


def metric_list(spec) -> tuple[list[str | Mapping], bool]:
    """(specs, lenient) for a config value: a list of names or ``_target_`` nodes (strict), or
    ``default`` / ``all`` (lenient: metrics whose weights do not resolve are skipped). Unknown
    names raise."""
    groups = selectors()
    if isinstance(spec, str):
        spec = groups[spec] if spec in groups else [spec]
        lenient = isinstance(spec, tuple)
    elif isinstance(spec, Mapping):
        spec, lenient = [spec], False
    else:
        spec = list(spec)
        lenient = False
    if not spec:
        raise SemcomError("metrics is empty: choose at least one, e.g. metrics=[psnr,ssim,ms_ssim] or metrics=all")
    out: list[str | Mapping] = []
    seen: set[str] = set()
    for item in spec:
        if isinstance(item, str) and item in groups:
            raise SemcomError(f"metrics={item} selects a set of metrics on its own: write metrics={item}, not inside a list")
        if isinstance(item, str):
            METRICS.entry(item)  # raises with the list of valid names
        name = spec_name(item)
        if name not in seen:
            seen.add(name)
            out.append(item)
    return out, lenient


def select_metrics(spec, params: dict | None = None) -> tuple[list[Metric], dict[str, str]]:
    """Loaded metrics for a config value and ``{name: why skipped}`` (only for default / all).

    ``params``: ``{metric name: {keyword: value}}`` passed to the metric's constructor (the
    config's ``metric_params``, e.g. ``{"sess_lite": {"params": "fitted.yaml"}}``).
    """
    specs, lenient = metric_list(spec)
    names = [spec_name(s) for s in specs]
    params = dict(params or {})
    stray = sorted(set(params) - set(names))
    if stray:
        raise SemcomError(f"metric_params names {', '.join(stray)}, which is not among the selected metrics ({', '.join(names)}): "
                          "add it to metrics=[...] or drop its metric_params entry")
    chosen, skipped = [], {}
    for name, item in zip(names, specs):
        kwargs = params.get(name) or {}
        if not isinstance(kwargs, dict):
            raise SemcomError(f"metric_params.{name} must map keyword names to values, e.g. metric_params.{name}.params=fitted.yaml")
        metric = get_metric(item, **kwargs)
        try:
            metric.load()
        except SemcomError as exc:
            if not lenient:
                raise
            skipped[name] = str(exc)
            continue
        chosen.append(metric)
    return chosen, skipped


__all__ = [
    "DEFAULT_METRICS", "MAIN_METRICS", "DISTS", "CLIPSimilarity", "DetectionAgreement", "SeSS", "SeSSLite", "ViTScore", "FID", "KID", "LPIPS", "MSSSIM", "InceptionScore", "Metric", "PSNR", "SSIM",
    "SetMetric", "get_metric", "metric_list", "metric_names", "select_metrics",
]
