"""FID, KID and the Inception Score: clean-fid's calibration, exact algebra, blur, unbiasedness,
the Inception Score's closed form on a small TorchScript model saved where the real one goes."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from semcom.datasets import load_image
from semcom.errors import SemcomError
from semcom.metrics import get_metric, select_metrics
from semcom.metrics.distribution import (
    frechet_distance,
    frechet_distance_scipy,
    inception_score,
    kernel_inception_distance,
)

SHARED = Path(os.environ["SEMCOM_WEIGHTS"]).parent
TID = SHARED / "calibration" / "tid2013_pairs"
KODAK = Path(os.environ["SEMCOM_DATA"]) / "kodak"


@pytest.fixture(scope="module")
def fid_metric():
    return get_metric("fid").load()


@pytest.fixture(scope="module")
def tid_features(fid_metric):
    """pool3 features of the 5 TID2013 references and their 5 distorted versions (512x384)."""
    ref = torch.stack([load_image(p) for p in sorted((TID / "ref_dir").iterdir())])
    dist = torch.stack([load_image(p) for p in sorted((TID / "dist_dir").iterdir())])
    return fid_metric.features(ref), fid_metric.features(dist)


def test_fid_reproduces_clean_fid_calibration(tid_features):
    """clean-fid "clean" mode gives FID(dist_dir, ref_dir) = 220.5819 on these 5 + 5 images."""
    ref, dist = tid_features
    assert ref.shape == (5, 2048) and ref.dtype == torch.float64
    assert frechet_distance(ref, dist) == pytest.approx(220.582, abs=2e-3)
    assert frechet_distance(dist, ref) == pytest.approx(220.582, abs=2e-3)


def test_fid_of_a_set_with_itself_is_zero(tid_features, fid_metric):
    ref, dist = tid_features
    assert abs(fid_metric.compute_from(ref, ref)["fid"]) < 1e-3
    assert abs(fid_metric.compute_from(dist, dist)["fid"]) < 1e-3
    assert fid_metric.compute_from(ref, dist) == {"fid": pytest.approx(220.582, abs=2e-3), "n": 5}


@pytest.mark.parametrize("n1,n2", [(7, 9), (120, 150)])
def test_exact_trace_formula_equals_scipy_sqrtm(n1, n2):
    """Both branches (n < d: nuclear norm of the cross-Gram matrix; n > d: eigenvalues) equal the
    clean-fid formula with scipy.linalg.sqrtm, here at d = 64 where sqrtm is fast."""
    g = torch.Generator().manual_seed(n1)
    mix = torch.randn(64, 64, generator=g, dtype=torch.float64)
    a = torch.relu(torch.randn(n1, 64, generator=g, dtype=torch.float64) @ mix)
    b = torch.relu(torch.randn(n2, 64, generator=g, dtype=torch.float64) @ mix + 0.3)
    ours = frechet_distance(a, b)
    ref = frechet_distance_scipy(a.mean(0).numpy(), np.cov(a.numpy(), rowvar=False), b.mean(0).numpy(), np.cov(b.numpy(), rowvar=False))
    assert ours == pytest.approx(ref, rel=1e-7, abs=1e-7)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return torch.from_numpy(gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="reflect")).float() if sigma else x


def test_fid_grows_monotonically_with_blur_on_kodak(fid_metric):
    """3 Kodak images at half size (256x384, area-downscaled) to keep the test fast; Gaussian blur
    sigma 1, 2, 4 px. With n = 3 the values are dominated by bias; only their order is tested."""
    imgs = torch.stack([load_image(KODAK / f"kodim{i:02d}.png") for i in (1, 3, 5)])  # all 512x768 landscape
    imgs = torch.nn.functional.interpolate(imgs, scale_factor=0.5, mode="area")
    ref = fid_metric.features(imgs)
    fids = [fid_metric.compute_from(ref, fid_metric.features(_blur(imgs, s)))["fid"] for s in (1, 2, 4)]
    assert abs(fid_metric.compute_from(ref, ref)["fid"]) < 1e-3
    assert 0 < fids[0] < fids[1] < fids[2], fids


def test_kid_unbiased_for_two_halves_of_one_set():
    """Two halves of one set of (synthetic, Inception-like: non-negative, correlated, 2048-d)
    features: KID averages to 0 over random halvings; the biased V-statistic does not; a shifted
    set is clearly positive. (With the few real images a test can afford, KID's noise is larger
    than the signal; this checks the estimator itself.)"""
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(64, 2048, generator=g, dtype=torch.float64) / 8  # 64 latent factors -> 2048-d
    pool = torch.relu(torch.randn(400, 64, generator=g, dtype=torch.float64) @ mix)
    shifted = torch.relu(torch.randn(100, 64, generator=g, dtype=torch.float64) @ mix + 0.5)
    kids, biased = [], []
    for r in range(10):
        perm = torch.randperm(400, generator=g)
        a, b = pool[perm[:100]], pool[perm[100:200]]
        kid, std, m = kernel_inception_distance(a, b, subsets=20, subset_size=50, seed=r)
        kids.append(kid)
        d = a.shape[1]
        k = lambda x, y: (x @ y.t() / d + 1) ** 3  # noqa: E731
        biased.append(float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()))
    kids = np.array(kids)
    assert m == 50 and std > 0
    assert abs(kids.mean()) < 3 * kids.std() / math.sqrt(len(kids)) + 1e-12  # mean 0 within its error
    assert np.mean(biased) > 5 * kids.std()  # the V-statistic (diagonal kept) is biased upward
    shift = kernel_inception_distance(pool[:100], shifted, subsets=20, subset_size=50)[0]
    assert shift > 10 * kids.std()


def test_inception_score_closed_forms():
    """One-hot predictions: a split of two images of different classes scores 2, of one class 1."""
    big = 60.0
    eye = torch.eye(3) * big
    pattern = [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 0, 1, 1, 2, 2, 0, 0, 2, 1, 0]  # splits 1-5 same class, 6-10 two classes
    mean, std, k = inception_score(eye[pattern], splits=10)
    assert k == 10 and mean == pytest.approx(1.5, abs=1e-9) and std == pytest.approx(0.5, abs=1e-9)
    assert inception_score(eye[[0, 1, 2] * 4], splits=1)[0] == pytest.approx(3.0, abs=1e-9)  # uniform over 3 classes
    # soft predictions: exp(H(mean p) - mean H(p)), computed independently, per split
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(30, 7, generator=g, dtype=torch.float64) * 2
    p = torch.softmax(logits, 1).numpy()
    expected = []
    for part in np.split(p, 3):
        marginal = part.mean(0)
        expected.append(math.exp(-(marginal * np.log(marginal)).sum() + (part * np.log(part)).sum(1).mean()))
    mean, std, k = inception_score(logits, splits=3)
    assert mean == pytest.approx(np.mean(expected), rel=1e-12) and std == pytest.approx(np.std(expected), rel=1e-9)
    assert inception_score(logits[:4], splits=10)[2] == 1  # fewer images than splits: one split


class _TinyLayers(torch.nn.Module):
    """Stands in for Inception's conv layers: (N, 3, 299, 299) -> (N, 3, 1, 1) channel means."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3), keepdim=True)


class _TinyInception(torch.nn.Module):
    """NVIDIA's inception-2015-12-05.pt layout: ``layers`` and the ``output`` softmax layer."""

    def __init__(self):
        super().__init__()
        self.layers = _TinyLayers()
        self.output = torch.nn.Linear(3, 3)
        with torch.no_grad():
            self.output.weight.copy_(torch.eye(3) * 60.0)
            self.output.bias.copy_(torch.tensor([0.0, 0.0, 1000.0]))  # would make every image class 2 if applied

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.layers(x).flatten(1))


@pytest.fixture()
def tiny_inception(tmp_path, monkeypatch):
    """A small TorchScript file at the place of the real checkpoint (fid/inception-2015-12-05.pt)."""
    root = tmp_path / "weights"
    (root / "fid").mkdir(parents=True)
    torch.jit.script(_TinyInception()).save(str(root / "fid" / "inception-2015-12-05.pt"))
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SEMCOM_OFFLINE", "1")
    return root


def _solid(colours, size=12) -> torch.Tensor:
    return torch.tensor(colours, dtype=torch.float32).view(-1, 3, 1, 1).expand(-1, 3, size, size).contiguous()


def test_inception_score_on_the_real_loading_path(tiny_inception):
    """IS through get_metric("is"): resolve inception/logits, load TorchScript, clean resize,
    pool3 x softmax weights without bias. Pure red/green/blue images are classes 0/1/2."""
    rgb = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    pattern = [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 0, 1, 1, 2, 2, 0, 0, 2, 1, 0]
    images = _solid([rgb[c] for c in pattern])
    m = get_metric("is")
    m.update(images[:8], images[:8])  # two batches; the reference is not used by IS
    m.update(images[8:], images[8:])
    out = m.compute()
    assert out["n"] == 20 and out["is_splits"] == 10
    assert out["is"] == pytest.approx(1.5, abs=1e-9) and out["is_std"] == pytest.approx(0.5, abs=1e-9)
    assert m.checkpoint.startswith("inception/logits@")
    m.reset()
    m.update(images[:3], images[:3])
    assert m.compute()["n"] == 3
    # FID and KID accept NVIDIA's file too (an alternative path of inception/pool3): same API
    fid, kid = get_metric("fid"), get_metric("kid")
    for metric in (fid, kid):
        metric.update(images[:10], images[10:])
    assert fid.compute()["n"] == 10 and fid.compute()["fid"] > 0 and fid.checkpoint.startswith("inception/pool3@")
    assert set(kid.compute()) == {"kid", "kid_std", "kid_subset", "n"}
    with pytest.raises(TypeError, match="set metric"):
        fid(images, images)


def test_inception_score_unavailable_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SEMCOM_OFFLINE", "1")
    with pytest.raises(SemcomError, match=r"inception/logits.*inception-2015-12-05.pt"):
        get_metric("is").load()
    chosen, skipped = select_metrics(["psnr"])
    assert [m.name for m in chosen] == ["psnr"] and not skipped
    chosen, skipped = select_metrics("all")  # nothing resolves here but the pixel metrics
    assert [m.name for m in chosen if type(m).__module__.startswith("semcom.")] == ["psnr", "ssim", "ms_ssim"]  # plugins may add theirs
    assert "inception-2015-12-05.pt" in skipped["is"] and "alexnet" in skipped["lpips"]
    with pytest.raises(SemcomError, match="lpips"):
        select_metrics(["psnr", "lpips"])  # an explicit list is strict
