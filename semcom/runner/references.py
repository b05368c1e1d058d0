"""Reference-side work of the metrics, kept for the life of the process.

A sweep scores every job against the same reference images: LPIPS and DISTS prepare the reference
side with a network pass (:meth:`semcom.metrics.base.Metric.prepare`), set metrics extract the
reference's features. A :class:`ReferenceCache` remembers both by content, so the jobs a multirun
worker runs one after another compute them once. The runner hands its stages the process's cache
(:func:`process_cache`).
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from semcom.metrics.base import ImageStates, Metric, SetMetric
from semcom.runner.score_memo import content_digest

#: Most bytes of prepared per-image-metric reference states kept (LPIPS/DISTS features), per
#: process. 3 GiB holds a Kodak sweep's references for every default and semantic metric with
#: DISTS at 256 px (about 1.8 GB); the jobs of a sweep visit the images in the same order, so a
#: smaller LRU than that keeps nothing useful.
REFERENCE_STATE_BYTES = 3 << 30


def _nbytes(state) -> int:
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, (list, tuple)):
        return sum(_nbytes(s) for s in state)
    return 0


class ReferenceCache:
    """Prepared reference states (LRU of at most ``max_bytes``) and reference features, by content."""

    def __init__(self, max_bytes: int = REFERENCE_STATE_BYTES):
        self.max_bytes = max_bytes
        self._states: OrderedDict[tuple, object] = OrderedDict()
        self._features: dict[tuple[str, str], torch.Tensor] = {}

    def features(self, metric: SetMetric, image: torch.Tensor) -> torch.Tensor:
        """(D,) features of one reference image (3, H, W), computed once per (feature_id, content)."""
        key = (metric.feature_id, content_digest(image))
        if key not in self._features:
            self._features[key] = metric.features(image[None])[0]
        return self._features[key]

    def state(self, metric: Metric, images: torch.Tensor):
        """``metric.prepare(images)``, remembered by content (metrics whose reference side is the
        images themselves, PSNR, SSIM, ..., are not cached)."""
        if type(metric).prepare is Metric.prepare:
            return metric.prepare(images)
        key = (metric.name, metric.checkpoint, str(images.device), tuple(images.shape), content_digest(images))
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key]
        with torch.no_grad():
            state = metric.prepare(images)
        if _nbytes(state) <= self.max_bytes:
            self._states[key] = state
            while sum(_nbytes(s) for s in self._states.values()) > self.max_bytes:
                self._states.popitem(last=False)
        return state


_PROCESS_CACHE = ReferenceCache()


def process_cache() -> ReferenceCache:
    """The reference cache of this process (shared by the jobs a multirun worker runs)."""
    return _PROCESS_CACHE


def take(state, index: list[int], total: int):
    """The rows ``index`` of a prepared state (tensors indexed on dim 0, lists element-wise); an
    index may repeat a row (one image at several SNR points of one call)."""
    if list(index) == list(range(total)):
        return state
    if isinstance(state, ImageStates):  # one object per image (detections, scene graphs)
        return state.take_images(index)
    if isinstance(state, torch.Tensor):
        return state[torch.as_tensor(index, device=state.device)]
    if isinstance(state, (list, tuple)):
        return type(state)(take(s, index, total) for s in state)
    raise TypeError(f"cannot select images from a prepared state of type {type(state).__name__}")
