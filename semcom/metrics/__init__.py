"""Metrics registry: ``get_metric(name)`` returns a :class:`Metric`.

    >>> from semcom.metrics import get_metric
    >>> m = get_metric("psnr")
    >>> m(ref, rec)          # (N,) tensor for (N, 3, H, W) float tensors in [0, 1]
"""

from __future__ import annotations

from collections.abc import Callable

from semcom.errors import SemcomError
from semcom.metrics.base import Metric, SetMetric
from semcom.metrics.pixel import MSSSIM, PSNR, SSIM

METRICS: dict[str, Callable[..., Metric]] = {
    "psnr": PSNR,
    "ssim": SSIM,
    "ms_ssim": MSSSIM,
}


def get_metric(name: str, **params) -> Metric:
    """The metric registered under ``name``; SemcomError listing the valid names otherwise."""
    if name not in METRICS:
        raise SemcomError(f"unknown metric {name!r}: choose from {', '.join(sorted(METRICS))}, e.g. metrics=[psnr,ssim,ms_ssim]")
    return METRICS[name](**params)


def metric_names() -> list[str]:
    return sorted(METRICS)


__all__ = ["METRICS", "MSSSIM", "Metric", "PSNR", "SSIM", "SetMetric", "get_metric", "metric_names"]
