"""Pixel and structure metrics: PSNR, SSIM, MS-SSIM (conventions of METRICS.md).

SSIM and MS-SSIM follow pytorch_msssim (the implementation CompressAI's evaluation uses):
Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, valid convolution (no padding), data range 1,
each RGB channel scored separately and averaged. MS-SSIM (Wang 2003): 5 scales with weights
[0.0448, 0.2856, 0.3001, 0.2363, 0.1333], 2x2 average pooling, contrast-structure clamped at 0
(ReLU) at every scale, luminance at the coarsest. Computed by :mod:`semcom.metrics.ssim_fast`
(the same definition, with the Gaussian filtering done map by map with shifted multiply-adds on a
CPU: about 5x faster than pytorch_msssim there, equal to it within 1e-5).
"""

from __future__ import annotations

import logging

import torch

from semcom.metrics.base import Metric, too_small
from semcom.metrics.ssim_fast import ms_ssim, ssim

log = logging.getLogger(__name__)

#: MS-SSIM needs the shorter image side to exceed (11 - 1) * 2^4 pixels.
MS_SSIM_MIN_SIDE = 160
#: PSNR is capped here (MSE floor 1e-10) so a lossless image gives a finite number.
PSNR_MAX_DB = 100.0


class PSNR(Metric):
    """10 log10(1 / MSE), peak 1, MSE per image over all pixels and channels, dB."""

    name = "psnr"
    label = "PSNR"
    unit = "dB"
    range = (0.0, 100.0)
    higher_is_better = True
    min_size = 1
    range_tol = 0.5  # unclamped noisy images are meaningful to PSNR; [0, 255] and [-1, 1] data are not

    def compute_batch(self, reference, reconstruction):
        # image by image (cache-sized), float32 difference squared and summed in float64: 6x faster
        # than the whole batch in float64 on a CPU, equal to it within 1e-6 dB
        mse = torch.stack([(r - x).double().square().mean() for r, x in zip(reference, reconstruction)])
        return (10.0 * torch.log10(1.0 / mse.clamp_min(10 ** (-PSNR_MAX_DB / 10)))).float()


class SSIM(Metric):
    """SSIM, Gaussian window 11 / sigma 1.5, K = (0.01, 0.03), data range 1, RGB averaged."""

    name = "ssim"
    label = "SSIM"
    range = (-1.0, 1.0)
    higher_is_better = True
    #: the 11 x 11 Gaussian window, valid convolution
    min_size = 11
    range_tol = 0.5

    def compute_batch(self, reference, reconstruction):
        if too_small(self, reference):
            return torch.full((reference.shape[0],), float("nan"))
        return ssim(reference, reconstruction).float()


class MSSSIM(Metric):
    """MS-SSIM (Wang 2003), data range 1. Images whose shorter side is <= 160 px get NaN and one
    warning per process (the 4 downsamplings leave too few pixels for the 11-tap window)."""

    name = "ms_ssim"
    label = "MS-SSIM"
    range = (0.0, 1.0)
    higher_is_better = True
    #: 4 halvings leave (11 - 1) * 2^4 / 2^4 + 1 px at the coarsest scale for the 11-tap window
    min_size = MS_SSIM_MIN_SIDE + 1
    range_tol = 0.5

    def compute_batch(self, reference, reconstruction):
        if too_small(self, reference):
            return torch.full((reference.shape[0],), float("nan"))
        return ms_ssim(reference, reconstruction).float()
