"""PSNR, SSIM, MS-SSIM: known distortions and the reference implementation."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from semcom.errors import SemcomError
from semcom.metrics import get_metric


def test_psnr_of_known_distortions(astronaut):
    x = astronaut[None] * 0.9
    assert get_metric("psnr")(x, x + 0.01).item() == pytest.approx(40.0, abs=1e-4)
    assert get_metric("psnr")(x, x + 0.1).item() == pytest.approx(20.0, abs=1e-4)
    g = torch.Generator().manual_seed(0)
    noisy = x + 0.05 * torch.randn(x.shape, generator=g)
    assert get_metric("psnr")(x, noisy).item() == pytest.approx(-20 * np.log10(0.05), abs=0.05)
    assert get_metric("psnr")(x, x).item() == 100.0  # capped, finite


def test_psnr_per_image():
    a = torch.zeros(3, 3, 8, 8)
    b = a + torch.tensor([0.1, 0.01, 0.001]).view(3, 1, 1, 1)
    assert torch.allclose(get_metric("psnr")(a, b), torch.tensor([20.0, 40.0, 60.0]), atol=1e-3)


def test_ssim_matches_scikit_image(astronaut):
    g = torch.Generator().manual_seed(1)
    x = astronaut[None]
    y = (x + 0.08 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ours = get_metric("ssim")(x, y).item()
    ref = structural_similarity(
        x[0].permute(1, 2, 0).numpy(), y[0].permute(1, 2, 0).numpy(),
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=2,
    )
    assert ours == pytest.approx(ref, abs=2e-3)
    assert get_metric("ssim")(x, x).item() == pytest.approx(1.0, abs=1e-6)


def test_ms_ssim_identity_monotone_and_small_image(astronaut, caplog):
    x = astronaut[None]
    m = get_metric("ms_ssim")
    assert m(x, x).item() == pytest.approx(1.0, abs=1e-6)
    g = torch.Generator().manual_seed(2)
    scores = [m(x, (x + s * torch.randn(x.shape, generator=g)).clamp(0, 1)).item() for s in (0.02, 0.05, 0.1, 0.2)]
    assert all(a > b for a, b in zip(scores, scores[1:]))
    small = x[..., :128, :128]
    with caplog.at_level(logging.WARNING):
        out = m(small, small)
    assert torch.isnan(out).all()
    assert "ms_ssim needs images of at least 161 x 161 px" in caplog.text


@pytest.mark.parametrize("size", [(512, 768), (171, 253)])
def test_ssim_and_ms_ssim_equal_pytorch_msssim(size):
    """semcom's SSIM/MS-SSIM (shifted multiply-adds on CPU) are pytorch_msssim's numbers (CompressAI's
    evaluation), odd sides (the padded pooling of MS-SSIM) included; and the torch-convolution
    path that other devices take gives the same values."""
    import pytorch_msssim

    from semcom.metrics import ssim_fast

    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, *size, generator=g)
    y = (x + torch.tensor([0.03, 0.2]).view(2, 1, 1, 1) * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ref_s = pytorch_msssim.ssim(x, y, data_range=1.0, size_average=False)
    ref_m = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    assert torch.allclose(get_metric("ssim")(x, y), ref_s, atol=1e-6, rtol=0)
    assert torch.allclose(get_metric("ms_ssim")(x, y), ref_m, atol=1e-5, rtol=0)
    assert ref_s[0] - ref_s[1] > 0.1  # the noisier pair is far lower: the comparison is not between constants
    win = ssim_fast.gaussian_window()
    for img in (x, x * y):
        assert torch.allclose(ssim_fast.blur_valid(img, win, "torch"), ssim_fast.blur_valid(img, win, "shift"), atol=1e-6, rtol=0)
    short = x[:, :, :7, :]  # a side shorter than the window stays unfiltered, as in pytorch_msssim
    assert torch.allclose(ssim_fast.blur_valid(short, win, "torch"), ssim_fast.blur_valid(short, win, "shift"), atol=1e-6, rtol=0)


def test_metric_errors():
    with pytest.raises(SemcomError, match="psnr"):
        get_metric("nope")
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="NaN"):
        get_metric("psnr")(x, x + float("nan"))
    with pytest.raises(ValueError, match="shape"):
        get_metric("psnr")(x, torch.zeros(1, 3, 8, 9))
