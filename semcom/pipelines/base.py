"""The Pipeline protocol, the result of one transmission, and the pipeline registry.

A pipeline carries a batch of images over a channel at one SNR and returns what the receiver
shows::

    images (N, 3, H, W) float32 in [0, 1]
      -> pipeline.transmit(images, snr_db, channel, rng)
      -> Transmission(reconstructions, bits, channel_uses, failed, extras)

``rng`` is one ``torch.Generator`` per image (see :mod:`semcom.randomness`), or a single one.
A pipeline that makes a choice per SNR over the whole dataset (the best-MCS envelope) may also
have ``prepare(images, snr_points, channel, rng_for)``, which the runner calls once before the
first batch with every image of the job and ``rng_for(i, snr)``, the generator it will pass.
Pipelines are built from a config node ``{kind: ..., name: ..., **params}`` by
:func:`build_pipeline`; kinds register with :func:`register_pipeline`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from semcom.channels.base import Channel
from semcom.errors import SemcomError
from semcom.randomness import Rng

#: Receiver fallback images for a lost transmission (DESIGN.md "Decode failure").
FALLBACKS = ("grey", "black", "corrupt")


@dataclass
class Transmission:
    """What one call of :meth:`Pipeline.transmit` returns.

    Attributes:
        reconstructions: (N, 3, H, W) float32 in [0, 1], what the receiver displays.
        bits: (N,) int64 source bits sent (the codec's bitstream; 0 for analog JSCC or a lost image).
        channel_uses: (N,) int64 complex channel uses actually spent.
        failed: (N,) bool, the image was lost (CRC failure, nothing fitted the budget, ...)
            and the reconstruction is the fallback.
        extras: per-image extra result columns, each a list of length N (None where not
            applicable), e.g. ``quality``, ``code_rate``, ``qam``, ``block_errors``.
    """

    reconstructions: torch.Tensor
    bits: torch.Tensor
    channel_uses: torch.Tensor
    failed: torch.Tensor
    extras: dict[str, list] = field(default_factory=dict)

    def __post_init__(self):
        n = self.reconstructions.shape[0]
        for name in ("bits", "channel_uses", "failed"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"Transmission.{name} must have shape ({n},), got {tuple(getattr(self, name).shape)}")
        for key, values in self.extras.items():
            if len(values) != n:
                raise ValueError(f"Transmission.extras[{key!r}] has {len(values)} values for {n} images")


@runtime_checkable
class Pipeline(Protocol):
    """A transmission chain. ``name`` appears in result rows; ``params`` describes its settings."""

    name: str
    ratio: float

    def transmit(self, images: torch.Tensor, snr_db: float | torch.Tensor, channel: Channel, rng: Rng) -> Transmission: ...

    def params(self) -> dict[str, Any]: ...


_KINDS: dict[str, Callable[..., Pipeline]] = {}


def register_pipeline(kind: str):
    """Class decorator: make a pipeline class buildable from configs with ``kind: <kind>``."""

    def deco(cls):
        _KINDS[kind] = cls
        return cls

    return deco


def pipeline_kinds() -> list[str]:
    _import_builtin_kinds()
    return sorted(_KINDS)


def _import_builtin_kinds() -> None:
    # Importing the modules registers their kinds.
    import semcom.pipelines.capacity_bound  # noqa: F401
    import semcom.pipelines.learned  # noqa: F401
    import semcom.pipelines.separate  # noqa: F401
    import semcom.pipelines.transform  # noqa: F401


def build_pipeline(cfg: Mapping, ratio: float, fallback: str = "grey", device: str | torch.device = "cpu") -> Pipeline:
    """Pipeline from its config node (``kind``, ``name`` and the kind's keyword parameters)."""
    _import_builtin_kinds()
    params = dict(cfg)
    kind = params.pop("kind", None)
    if kind not in _KINDS:
        raise SemcomError(f"unknown pipeline kind {kind!r} in pipeline config: known kinds are {', '.join(sorted(_KINDS))}")
    if fallback not in FALLBACKS:
        raise SemcomError(f"fallback={fallback!r} is unknown: choose one of {', '.join(FALLBACKS)}")
    try:
        return _KINDS[kind](ratio=ratio, fallback=fallback, device=device, **params)
    except TypeError as exc:
        raise SemcomError(f"bad parameters for pipeline {params.get('name', kind)!r}: {exc}") from None


def fallback_image(policy: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The image a receiver shows for a lost transmission: mid-grey (0.5) or black (0).

    ``corrupt`` falls back to grey when the corrupted stream cannot be decoded at all.
    """
    value = 0.0 if policy == "black" else 0.5
    return torch.full(shape, value, dtype=torch.float32)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8, rounding to nearest."""
    arr = (images.detach().clamp(0, 1) * 255.0).round().to(torch.uint8)
    return arr.permute(0, 2, 3, 1).cpu().numpy()


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.array(array, dtype=np.uint8, copy=True)).permute(2, 0, 1).float() / 255.0
