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
Pipelines are built from a config node ``{kind: ..., name: ..., **params}`` (or
``{_target_: mypkg.MyPipeline, **params}``) by :func:`build_pipeline`; the kinds are in
:data:`semcom.registry.PIPELINES`. :class:`PipelineBase` is the shared base: the keywords semcom
passes to every pipeline (``ratio``, ``fallback``, ``device``, ``encodings``), the declarations the
result store and the figures read (:attr:`~PipelineBase.extra_columns`,
:attr:`~PipelineBase.bound`, :attr:`~PipelineBase.label`), and the assembly of a
:class:`Transmission` from per-image lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from semcom.channels.base import Channel
from semcom.errors import SemcomError
from semcom.randomness import Rng

#: Receiver fallback images for a lost transmission (see :mod:`semcom.conventions`, decode failure).
FALLBACKS = ("grey", "black", "corrupt")
#: Display names of codecs and models in pipeline labels.
DISPLAY = {"jpeg": "JPEG", "jpeg2000": "JPEG 2000", "webp": "WebP", "bpg": "BPG", "hevc": "HEVC", "deepjscc": "DeepJSCC",
           "adjscc": "ADJSCC", "swinjscc": "Swin JSCC", "bmshj2018-factorized": "bmshj2018-factorized",
           "bmshj2018-hyperprior": "bmshj2018-hyperprior", "mbt2018-mean": "mbt2018-mean", "cheng2020-anchor": "cheng2020-anchor"}


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
        rec = self.reconstructions
        if not isinstance(rec, torch.Tensor) or rec.dim() != 4 or rec.shape[1] != 3 or not rec.is_floating_point():
            got = f"{tuple(rec.shape)} {rec.dtype}" if isinstance(rec, torch.Tensor) else type(rec).__name__
            raise ValueError(f"Transmission.reconstructions must be a float (N, 3, H, W) tensor in [0, 1], got {got}")
        n = rec.shape[0]
        for name in ("bits", "channel_uses", "failed"):
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or value.shape != (n,):
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"Transmission.{name} must be a tensor of shape ({n},), got {got}")
        for key, values in self.extras.items():
            if len(values) != n:
                raise ValueError(f"Transmission.extras[{key!r}] has {len(values)} values for {n} images")

    @classmethod
    def from_lists(cls, reconstructions: list[torch.Tensor], bits: list[int], channel_uses: list[int], failed: list[bool],
                   extras: Mapping[str, list] | None = None) -> "Transmission":
        """A Transmission from per-image lists: reconstructions (3, H, W) float32, the rest scalars."""
        return cls(
            reconstructions=torch.stack(reconstructions),
            bits=torch.tensor(bits, dtype=torch.int64),
            channel_uses=torch.tensor(channel_uses, dtype=torch.int64),
            failed=torch.tensor(failed, dtype=torch.bool),
            extras={k: list(v) for k, v in (extras or {}).items()},
        )


@runtime_checkable
class Pipeline(Protocol):
    """A transmission chain. ``name`` appears in result rows; ``params`` describes its settings."""

    name: str
    ratio: float

    def transmit(self, images: torch.Tensor, snr_db: float | torch.Tensor, channel: Channel, rng: Rng) -> Transmission: ...

    def params(self) -> dict[str, Any]: ...


class PipelineBase:
    """Base class of the built-in pipelines, and the easiest start for your own.

    Subclasses implement :meth:`transmit` and extend :meth:`params`; semcom builds them with the
    config node's keyword arguments plus these keywords:

    Args:
        name: pipeline name in result rows.
        ratio: bandwidth ratio rho = complex channel uses / (3 H W).
        fallback: receiver image for a lost transmission, ``grey`` | ``black`` | ``corrupt``.
        device: torch device of the computation.
        encodings: the source-encoding cache of the job (:class:`semcom.codecs.base.EncodingCache`),
            for pipelines that run a source codec; None: the process-wide cache.

    Declarations read by the result store and the figures:
        extra_columns: names of the per-image extra columns (``Transmission.extras`` keys).
        bound: an ideal bound (a capacity-achieving code), drawn dashed; not a real chain.
        uses_dataset: the rows depend on the job's other images (a choice over the whole dataset,
            as the best-MCS envelope makes in ``prepare``), so they are keyed with the dataset's
            content digest.
    """

    kind = "custom"
    extra_columns: tuple[str, ...] = ()
    bound = False
    uses_dataset = False

    def __init__(self, name: str, *, ratio: float, fallback: str = "grey", device: str | torch.device = "cpu", encodings=None):
        if not isinstance(name, str) or not name:
            raise SemcomError(f"pipeline {type(self).__name__}: name={name!r} must be a non-empty string (it names the rows)")
        if fallback not in FALLBACKS:
            raise SemcomError(f"fallback={fallback!r} is unknown: choose one of {', '.join(FALLBACKS)}")
        self.name = name
        self.ratio = float(ratio)
        self.fallback = fallback
        self.device = torch.device(device)
        self.encodings = encodings

    @property
    def label(self) -> str:
        """Display name in figures (default: the row name)."""
        return self.name

    def params(self) -> dict[str, Any]:
        """Every setting that determines the rows (recorded in them and part of their identity)."""
        return {"fallback": self.fallback}

    def transmit(self, images: torch.Tensor, snr_db: float | torch.Tensor, channel: Channel, rng: Rng) -> Transmission:
        raise NotImplementedError


def codec_display(spec, codec) -> str:
    """How a pipeline's label names its source codec: the configured name (``bpg`` -> ``BPG``,
    whichever implementation serves it), or the codec's own name for a ``_target_`` codec."""
    name = spec if isinstance(spec, str) else getattr(codec, "name", "codec")
    return DISPLAY.get(name, name)


def build_pipeline(cfg: Mapping, ratio: float, fallback: str = "grey", device: str | torch.device = "cpu", encodings=None) -> Pipeline:
    """Pipeline from its config node: ``{kind: ..., name: ..., **params}`` (a registered kind) or
    ``{_target_: mypkg.MyPipeline, **params}`` (any importable class); semcom adds ``ratio``,
    ``fallback``, ``device`` and ``encodings`` where the constructor takes them."""
    from semcom.registry import PIPELINES

    if fallback not in FALLBACKS:
        raise SemcomError(f"fallback={fallback!r} is unknown: choose one of {', '.join(FALLBACKS)}")
    context = {"ratio": float(ratio), "fallback": fallback, "device": device, "encodings": encodings}
    return PIPELINES.build(dict(cfg), context=context)


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
