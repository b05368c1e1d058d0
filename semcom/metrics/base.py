"""Metric interface.

A per-image metric is called as ``metric(reference, reconstruction)`` on float32 RGB batches
(N, 3, H, W) in [0, 1] and returns a float tensor (N,). Each metric has a ``name`` (its result
column), ``higher_is_better``, and ``checkpoint`` (the weights it used, ``<registry name>@<sha256
prefix>`` joined by ``+``, or None), and states its conventions in its docstring.

Every metric declares what the result store and the figures need to know about it
(:meth:`Metric.declaration`): ``label`` and ``unit`` (axis label), ``range`` (the values a score
can take; confidence bands are clipped to it) and ``companions`` (extra result columns
``<name>_<part>`` that one scoring pass writes, e.g. ViTScore's precision and recall).

Metrics with weights resolve them in :meth:`Metric.load` (called on first use; the runner calls
it up front so that a missing checkpoint is reported before any work). A metric whose reference
side is costly (LPIPS, DISTS: a network pass) splits the work: ``state = prepare(reference)``
once, then ``score(state, reconstruction)`` for as many reconstructions of that reference as
needed (the runner scores every SNR point against one prepared batch).

Set metrics (FID, KID, IS) set ``per_image = False``: ``update(reference, reconstruction)`` per
batch, then ``compute()`` -> dict of floats with ``n``. They are built on per-image ``features``
(identified by ``feature_id``; metrics with the same id share them) and ``compute_from``, so a
caller can store features and compute the set value later (the runner does, to survive resume).
"""

from __future__ import annotations

import logging

import torch

from semcom.errors import SemcomError

log = logging.getLogger(__name__)


class Metric:
    name: str = "metric"
    higher_is_better: bool = True
    per_image: bool = True
    checkpoint: str | None = None
    #: scores are a function of (reference, reconstruction): the runner may reuse them for a
    #: reconstruction it has scored before (semcom.runner.score_memo); False for stochastic variants.
    deterministic: bool = True
    #: registry names (semcom.weights) of the checkpoints :meth:`load` resolves.
    weights: tuple[str, ...] = ()
    #: axis label (default: the name in capitals) and unit ("" for unitless scores).
    label: str = ""
    unit: str = ""
    #: (lowest, highest) value a score can take.
    range: tuple[float, float] = (float("-inf"), float("inf"))
    #: suffixes of companion columns written beside ``name`` (``("p", "r")``: ``<name>_p``, ``<name>_r``).
    companions: tuple[str, ...] = ()
    #: smallest image side (pixels) the metric can score; a smaller image scores NaN, with one
    #: warning per metric and process (:func:`too_small`). Measured for the built-in metrics
    #: (docs/reliability.md); a plugin metric states its own (default 1: any size).
    min_size: int = 1
    #: how far outside [0, 1] inputs may stray (:func:`check_unit_range`); pixel metrics allow
    #: unclamped noisy images (0.5), networks calibrated on [0, 1] or [-1, 1] allow rounding only.
    range_tol: float = 0.01

    def columns(self) -> list[str]:
        """The result columns one scoring pass writes: ``name`` and its companions."""
        return [self.name, *(f"{self.name}_{c}" for c in self.companions)]

    def declaration(self) -> dict:
        """What the result store records about this metric's columns (see the module docstring)."""
        lo, hi = self.range
        return {"columns": self.columns(), "label": self.label or self.name.upper(), "unit": self.unit,
                "range": [lo, hi], "higher_is_better": bool(self.higher_is_better), "per_image": bool(self.per_image)}

    def load(self) -> "Metric":
        """Resolve checkpoints and build networks (idempotent); SemcomError if weights are missing."""
        return self

    def __call__(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        check_pair(reference, reconstruction, self.name, self.range_tol)
        if too_small(self, reference):
            return torch.full((reference.shape[0],), float("nan"), device=reference.device)
        self.load()
        with torch.no_grad():
            return self.score(self.prepare(reference), reconstruction)

    def prepare(self, reference: torch.Tensor):
        """Reference-side state reusable for several reconstructions (default: the batch itself)."""
        return reference

    def score(self, state, reconstruction: torch.Tensor) -> torch.Tensor:
        """(N,) scores of ``reconstruction`` against the prepared reference ``state``."""
        return self.compute_batch(state, reconstruction)

    def compute_batch(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score_columns(self, state, reconstruction: torch.Tensor) -> dict[str, torch.Tensor]:
        """Result columns of one scoring pass, ``{name: (N,)}``; metrics with companion values
        (ViTScore P and R, detection mean IoU) add them under ``<name>_<part>``."""
        return {self.name: self.score(state, reconstruction)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, higher_is_better={self.higher_is_better})"


class InputError(SemcomError, ValueError):
    """Images handed to a metric that it cannot score as given (one line: the problem and the fix).
    A ``ValueError`` too, so callers that caught the older ``ValueError``/``TypeError`` still do."""


#: tolerance of the [0, 1] range check (rounding of a resampler or a decoder's float output).
RANGE_TOL = 0.01


def check_pair(reference: torch.Tensor, reconstruction: torch.Tensor, name: str, tol: float = RANGE_TOL) -> None:
    """The inputs of every metric call: tensors, (N, 3, H, W), equal shapes, floating point, finite,
    values in [0, 1] (within ``tol``, the metric's ``range_tol``); :class:`InputError` naming the
    problem and the fix."""
    for role, x in (("reference", reference), ("reconstruction", reconstruction)):
        if not isinstance(x, torch.Tensor):
            raise InputError(f"{name}: the {role} is a {type(x).__name__}, not a torch tensor: "
                             "pass float tensors (N, 3, H, W) in [0, 1], e.g. torch.from_numpy(a).permute(2, 0, 1)[None] / 255")
    check_images(reference, name, "reference")
    check_images(reconstruction, name, "reconstruction")
    if reference.shape != reconstruction.shape:
        raise InputError(f"{name}: reference {tuple(reference.shape)} and reconstruction {tuple(reconstruction.shape)} differ in shape: "
                         "pass images of the same size (crop or resize one to the other)")
    check_finite(reference, name, "reference")
    check_finite(reconstruction, name, "reconstruction")
    check_unit_range(reference, name, tol, role="reference")
    check_unit_range(reconstruction, name, tol, role="reconstruction")


def check_images(images: torch.Tensor, name: str, role: str = "images") -> None:
    """(N, 3, H, W) floating point."""
    if images.dim() != 4 or images.shape[1] != 3:
        fix = "add the batch dimension: x[None]" if images.dim() == 3 and images.shape[0] == 3 else \
            "put channels first: x.permute(0, 3, 1, 2)" if images.dim() == 4 and images.shape[-1] == 3 else \
            "pass RGB batches (N, 3, H, W)"
        raise InputError(f"{name}: the {role} has shape {tuple(images.shape)}, not (N, 3, H, W): {fix}")
    if not images.is_floating_point():
        fix = "divide by 255: x.float() / 255" if images.dtype == torch.uint8 else "convert: x.float() (values in [0, 1])"
        raise InputError(f"{name}: the {role} is {images.dtype}: images are float in [0, 1]; {fix}")


def check_finite(images: torch.Tensor, name: str, role: str = "images") -> None:
    """No NaN or Inf."""
    bad = ~torch.isfinite(images)
    if bool(bad.any()):
        kind = "NaN" if bool(torch.isnan(images).any()) else "Inf"
        raise InputError(f"{name}: the {role} contains {kind} ({int(bad.sum())} values): "
                         "images are finite floats in [0, 1]; find where the NaN/Inf comes from, or torch.nan_to_num(x).clamp(0, 1)")


def check_unit_range(images: torch.Tensor, name: str, tol: float = RANGE_TOL, role: str = "images") -> None:
    """Refuse data that is plainly not in [0, 1] (e.g. [-1, 1] or [0, 255]): metrics would silently
    give wrong numbers (PSNR of [0, 255] floats is about -8 dB). Excursions up to ``tol`` are allowed."""
    if images.numel() == 0:
        return
    lo, hi = float(images.min()), float(images.max())
    if lo < -tol or hi > 1 + tol:
        if hi > 1 + tol:
            what, hint = f"values up to {hi:.4g}", "divide by 255: x / 255" if hi > 2 and hi <= 255 + tol and lo >= -tol else \
                "clamp or rescale to [0, 1]: x.clamp(0, 1)"
        else:
            what, hint = f"values down to {lo:.4g}", "map [-1, 1] to [0, 1]: (x + 1) / 2" if lo >= -1 - tol and hi <= 1 + tol else \
                "clamp or rescale to [0, 1]: x.clamp(0, 1)"
        raise InputError(f"{name} got {what} in the {role}: images are float in [0, 1]; {hint}")


_WARNED_SMALL: set[str] = set()


def too_small(metric: "Metric", images: torch.Tensor) -> bool:
    """True when the shorter side of ``images`` is below ``metric.min_size``: the caller scores NaN.
    Warns once per metric (name) and process, naming the size and the metric's minimum."""
    need = int(getattr(metric, "min_size", 1) or 1)
    h, w = int(images.shape[-2]), int(images.shape[-1])
    if min(h, w) >= need:
        return False
    if metric.name not in _WARNED_SMALL:
        _WARNED_SMALL.add(metric.name)
        log.warning("%s needs images of at least %d x %d px; a %d x %d image scores NaN (further images below the minimum "
                    "are not reported again): resize or crop them, or drop %s from metrics", metric.name, need, need, h, w,
                    metric.name)
    return True


def reset_size_warnings() -> None:
    """Warn again about small images (a new run in the same process)."""
    _WARNED_SMALL.clear()


def module_on(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move ``module`` to ``device`` if it is elsewhere (metrics follow their inputs' device)."""
    p = next(iter(module.parameters()), None)
    if p is None:
        p = next(iter(module.buffers()), None)
    if p is not None and p.device != device:
        module.to(device)
    return module


class ImageStates(list):
    """A prepared reference batch held as one object per image (detections, scene graphs); the
    runner picks the images still to score with :meth:`take_images` (a plain list of per-layer
    batch tensors, as LPIPS prepares, is indexed tensor by tensor instead)."""

    def take_images(self, index) -> "ImageStates":
        return type(self)(self[i] for i in index)


class SetMetric(Metric):
    """A metric of a set of images (FID, KID, IS): accumulate with ``update``, then ``compute``.

    ``update(reference, reconstruction)`` takes batches like a per-image metric; ``compute()``
    returns a dict of floats (at least ``{name: value, "n": images}``); ``reset()`` starts over.
    Subclasses implement ``features(images) -> (N, D)`` float64 CPU tensor, ``feature_id``, and
    ``compute_from(reference_features, reconstruction_features)``; ``uses_reference = False``
    (IS) ignores the reference.
    """

    per_image = False
    uses_reference: bool = True
    feature_id: str = ""

    def __init__(self):
        self._ref: list[torch.Tensor] = []
        self._rec: list[torch.Tensor] = []

    def __call__(self, reference, reconstruction):
        raise TypeError(f"{self.name} is a set metric: call update(ref, rec) for each batch, then compute()")

    def features(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def compute_from(self, reference_features: torch.Tensor | None, reconstruction_features: torch.Tensor) -> dict:
        raise NotImplementedError

    def update(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> None:
        check_pair(reference, reconstruction, self.name, self.range_tol)
        if too_small(self, reference):
            return
        self.load()
        if self.uses_reference:
            self._ref.append(self.features(reference))
        self._rec.append(self.features(reconstruction))

    def compute(self) -> dict:
        if not self._rec:
            raise ValueError(f"{self.name}: no images: call update(ref, rec) first")
        ref = torch.cat(self._ref) if self.uses_reference else None
        return self.compute_from(ref, torch.cat(self._rec))

    def reset(self) -> None:
        self._ref, self._rec = [], []
