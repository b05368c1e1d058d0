"""MAE: mean absolute error per image, over pixels and channels, in [0, 1]; lower is better."""

from __future__ import annotations

import torch

from semcom.metrics.base import Metric


class MAE(Metric):
    """Mean absolute difference of two (N, 3, H, W) float images in [0, 1], (N,) float32."""

    name = "mae"
    label = "MAE"
    higher_is_better = False
    range = (0.0, 1.0)

    def compute_batch(self, reference: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        return (reference - reconstruction).abs().flatten(1).mean(1).float()
