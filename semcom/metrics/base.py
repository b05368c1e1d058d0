"""Metric interface.

A per-image metric is called as ``metric(reference, reconstruction)`` on float32 RGB batches
(N, 3, H, W) in [0, 1] and returns a float tensor (N,). Each metric has a ``name`` (its result
column), ``higher_is_better``, and ``checkpoint`` (the weights it used, or None), and states its
conventions in its docstring. Set metrics (FID, ...) set ``per_image = False`` and use
``update(reference, reconstruction)`` then ``compute()``.
"""

from __future__ import annotations

import torch


class Metric:
    name: str = "metric"
    higher_is_better: bool = True
    per_image: bool = True
    checkpoint: str | None = None

    def __call__(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        check_pair(reference, reconstruction, self.name)
        with torch.no_grad():
            return self.compute_batch(reference, reconstruction)

    def compute_batch(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, higher_is_better={self.higher_is_better})"


def check_pair(reference: torch.Tensor, reconstruction: torch.Tensor, name: str) -> None:
    """Shapes (N, 3, H, W), equal, floating point; NaN/Inf in a reconstruction is an error."""
    if reference.shape != reconstruction.shape:
        raise ValueError(f"{name}: reference {tuple(reference.shape)} and reconstruction {tuple(reconstruction.shape)} differ in shape")
    if reference.dim() != 4 or reference.shape[1] != 3:
        raise ValueError(f"{name}: expected RGB batches (N, 3, H, W), got {tuple(reference.shape)}")
    if not reference.is_floating_point() or not reconstruction.is_floating_point():
        raise TypeError(f"{name}: expected float tensors in [0, 1], got {reference.dtype} and {reconstruction.dtype}")
    if not torch.isfinite(reconstruction).all():
        raise ValueError(f"{name}: the reconstruction contains NaN or Inf")


class SetMetric(Metric):
    """A metric of a set of images (FID, KID, IS): accumulate with ``update``, then ``compute``.

    ``update(reference, reconstruction)`` takes batches like a per-image metric; ``compute()``
    returns a dict of floats (at least ``{name: value, "n": images}``); ``reset()`` starts over.
    """

    per_image = False

    def __call__(self, reference, reconstruction):
        raise TypeError(f"{self.name} is a set metric: call update(ref, rec) for each batch, then compute()")

    def update(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> None:
        raise NotImplementedError

    def compute(self) -> dict:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError
