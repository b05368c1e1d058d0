"""Metrics registry: ``get_metric(name)`` returns a :class:`Metric` (weights load on first use).

    >>> from semcom.metrics import get_metric
    >>> m = get_metric("lpips")
    >>> m(ref, rec)          # (N,) tensor for (N, 3, H, W) float tensors in [0, 1]
    >>> fid = get_metric("fid")
    >>> fid.update(ref, rec); fid.compute()   # {"fid": ..., "n": N}

Names: psnr, ssim, ms_ssim (pixel); lpips (v0.1 AlexNet), lpips_vgg, dists (perceptual);
fid, kid, is (sets); vitscore, clip, sess, sess_lite, detection (semantic, optional extra). :func:`select_metrics` turns a config value into loaded metrics:
an explicit list is strict (a missing checkpoint is an error); ``default`` (DEFAULT_METRICS) and
``all`` (every metric) keep the metrics whose weights resolve and report the others as skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from semcom.errors import SemcomError
from semcom.metrics.base import Metric, SetMetric
from semcom.metrics.clip import CLIPSimilarity
from semcom.metrics.detection import DetectionAgreement
from semcom.metrics.distribution import FID, KID, InceptionScore
from semcom.metrics.dists import DISTS
from semcom.metrics.lpips import LPIPS
from semcom.metrics.pixel import MSSSIM, PSNR, SSIM
from semcom.metrics.sess import SeSS, SeSSLite
from semcom.metrics.vitscore import ViTScore

METRICS: dict[str, Callable[..., Metric]] = {
    "psnr": PSNR,
    "ssim": SSIM,
    "ms_ssim": MSSSIM,
    "lpips": LPIPS,
    "lpips_vgg": partial(LPIPS, net="vgg"),
    "dists": DISTS,
    "fid": FID,
    "kid": KID,
    "is": InceptionScore,
    # semantic (optional extra `semantic`: transformers, onnxruntime); see README "Semantic metrics"
    "vitscore": ViTScore,
    "clip": CLIPSimilarity,
    "sess": SeSS,
    "sess_lite": SeSSLite,
    "detection": DetectionAgreement,
}

#: ``metrics=default``: cheap enough for the default job on 2 CPU cores (see README, measured costs).
DEFAULT_METRICS = ("psnr", "ssim", "ms_ssim", "lpips")
#: Config words that select a set of metrics, keeping only those whose weights resolve.
SELECTORS = {"default": DEFAULT_METRICS, "all": tuple(METRICS)}


def get_metric(name: str, **params) -> Metric:
    """The metric registered under ``name``; SemcomError listing the valid names otherwise."""
    if name not in METRICS:
        raise SemcomError(f"unknown metric {name!r}: choose from {', '.join(sorted(METRICS))}, or metrics=all / metrics=default")
    return METRICS[name](**params)


def metric_names() -> list[str]:
    return sorted(METRICS)


def metric_list(spec) -> tuple[list[str], bool]:
    """(names, lenient) for a config value: a list of names (strict), or ``default`` / ``all``
    (lenient: metrics whose weights do not resolve are skipped). Unknown names raise."""
    if isinstance(spec, str):
        spec = SELECTORS[spec] if spec in SELECTORS else [spec]
        lenient = isinstance(spec, tuple)
    else:
        spec = list(spec)
        lenient = False
    if not spec:
        raise SemcomError("metrics is empty: choose at least one, e.g. metrics=[psnr,ssim,ms_ssim] or metrics=all")
    names: list[str] = []
    for name in spec:
        if name in SELECTORS:
            raise SemcomError(f"metrics={name} selects a set of metrics on its own: write metrics={name}, not inside a list")
        get_metric(name)  # raises with the list of valid names
        if name not in names:
            names.append(name)
    return names, lenient


def select_metrics(spec, params: dict | None = None) -> tuple[list[Metric], dict[str, str]]:
    """Loaded metrics for a config value and ``{name: why skipped}`` (only for default / all).

    ``params``: ``{metric name: {keyword: value}}`` passed to the metric's constructor (the
    config's ``metric_params``, e.g. ``{"sess_lite": {"params": "fitted.yaml"}}``).
    """
    names, lenient = metric_list(spec)
    params = dict(params or {})
    stray = sorted(set(params) - set(names))
    if stray:
        raise SemcomError(f"metric_params names {', '.join(stray)}, which is not among the selected metrics ({', '.join(names)}): "
                          "add it to metrics=[...] or drop its metric_params entry")
    chosen, skipped = [], {}
    for name in names:
        kwargs = params.get(name) or {}
        if not isinstance(kwargs, dict):
            raise SemcomError(f"metric_params.{name} must map keyword names to values, e.g. metric_params.{name}.params=fitted.yaml")
        try:
            metric = get_metric(name, **kwargs)
        except TypeError as exc:
            raise SemcomError(f"bad metric_params for {name}: {exc}") from None
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
    "DEFAULT_METRICS", "DISTS", "CLIPSimilarity", "DetectionAgreement", "SeSS", "SeSSLite", "ViTScore", "FID", "KID", "LPIPS", "METRICS", "MSSSIM", "InceptionScore", "Metric", "PSNR", "SSIM",
    "SetMetric", "get_metric", "metric_list", "metric_names", "select_metrics",
]
