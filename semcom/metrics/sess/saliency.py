"""Spectral-residual saliency (Hou and Zhang 2007), as OpenCV's StaticSaliencySpectralResidual.

The grey image is resized to 64x64; with its 2-D spectrum A exp(i phi), the residual
log A - box3(log A) is put back with the phase, ``|ifft2(exp(residual + i phi))|^2`` is blurred
(5x5 Gaussian, sigma 8), min-max normalised to [0, 1] and resized back to H x W (bilinear).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter, uniform_filter

WORK_SIZE = 64


def spectral_residual(image: torch.Tensor) -> np.ndarray:
    """Saliency (H, W) float64 in [0, 1] of one (3, H, W) float [0, 1] image."""
    h, w = image.shape[-2:]
    grey = image.float().mean(0, keepdim=True)[None].cpu()
    small = F.interpolate(grey, size=(WORK_SIZE, WORK_SIZE), mode="bilinear", align_corners=False, antialias=True)[0, 0]
    spec = np.fft.fft2(small.double().numpy())
    log_amp = np.log(np.abs(spec) + 1e-12)
    residual = log_amp - uniform_filter(log_amp, size=3, mode="nearest")
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spec)))) ** 2
    sal = gaussian_filter(sal, sigma=8.0, truncate=2.0 / 8.0, mode="nearest")
    lo, hi = sal.min(), sal.max()
    sal = (sal - lo) / (hi - lo) if hi > lo else np.zeros_like(sal)
    out = F.interpolate(torch.from_numpy(sal)[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    return out.numpy()
