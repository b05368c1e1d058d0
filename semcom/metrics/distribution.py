"""Distribution metrics of image sets: FID, KID (Inception pool3 features) and the Inception Score.

All three are :class:`~semcom.metrics.base.SetMetric`: ``update(reference, reconstruction)`` per
batch of (N, 3, H, W) float images in [0, 1], then ``compute()`` -> dict with the value and ``n``.
Features: TF Inception-v3 (2015-12-05) pool3, 2048-d, after clean-fid's "clean" resize
(semcom.metrics.inception), as float64.

**FID** (Heusel 2017) = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), covariances with
ddof = 1, as clean-fid / pytorch-fid compute it. The trace of the matrix square root is computed
exactly without ``scipy.linalg.sqrtm`` (which takes 100-180 s for 2048x2048 on a 2-core CPU):
the eigenvalues of S1 S2 are those of S1^(1/2) S2 S1^(1/2) (real, >= 0), so

* n1 or n2 <= 2048: with centred feature matrices A (n1 x d), B (n2 x d),
  Tr (S1 S2)^(1/2) = ||A B^T||_* / sqrt((n1 - 1)(n2 - 1)) (nuclear norm: singular values of an
  n1 x n2 matrix);
* otherwise: eigenvalues of S1^(1/2) S2 S1^(1/2) (two symmetric eigendecompositions).

Both are exact; :func:`frechet_distance_scipy` is the clean-fid formula with scipy's sqrtm, kept
for comparison (tests check they agree). FID on few images is dominated by its bias (it grows
as n falls, for the same distributions): compare FIDs only at equal n; results carry ``fid_n``.

**KID** (Binkowski 2018): unbiased MMD^2 with the polynomial kernel k(x, y) = (x.y / d + 1)^3,
averaged over ``subsets`` (100) random subsets of m = min(n1, n2, ``subset_size`` (1000)) images
drawn without replacement from each set (clean-fid / StyleGAN's estimator); reports the mean and
the standard deviation over subsets. Subsets are drawn with a seeded generator: deterministic.

**Inception Score** (Salimans 2016): exp(E_x KL(p(y|x) || p(y))) over ``splits`` (10) consecutive
splits, mean and std (ddof 0); p(y|x) = softmax of pool3 x the 1008-class softmax weights,
without bias, as the original code and StyleGAN do. Needs ``inception/logits``. The reference is
ignored (IS scores the reconstructions alone). With fewer images than splits, one split is used
(``is_splits`` says how many).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

from semcom.errors import SemcomError
from semcom.metrics import checkpoints  # noqa: F401  (registers the checkpoints)
from semcom.metrics.base import SetMetric, check_unit_range
from semcom.metrics.inception import load_inception, pool3_features
from semcom.weights import file_tag, resolve

log = logging.getLogger(__name__)

FEATURE_DIM = 2048
#: KID: sets up to this size get their kernel matrices computed once (at most 3 x 32 MB).
GRAM_MAX = 2048
#: Below this many images per set FID is dominated by bias; outputs say so.
FID_RELIABLE_N = 2048


def trace_sqrt_product(a: torch.Tensor, b: torch.Tensor) -> float:
    """Tr (S_a S_b)^(1/2) for the ddof-1 covariances of feature sets ``a`` (n1, d), ``b`` (n2, d)."""
    a = (a - a.mean(0)).double()
    b = (b - b.mean(0)).double()
    n1, n2, d = a.shape[0], b.shape[0], a.shape[1]
    if min(n1, n2) <= d:
        return float(torch.linalg.svdvals(a @ b.t()).sum() / math.sqrt((n1 - 1) * (n2 - 1)))
    s1 = a.t() @ a / (n1 - 1)
    s2 = b.t() @ b / (n2 - 1)
    w, v = torch.linalg.eigh(s1)
    root = (v * w.clamp_min(0).sqrt()) @ v.t()
    ev = torch.linalg.eigvalsh(root @ s2 @ root)
    return float(ev.clamp_min(0).sqrt().sum())


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """FID between feature sets ``a`` (n1, d) and ``b`` (n2, d), n >= 2 each (exact; see module doc)."""
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 images per set, got {a.shape[0]} and {b.shape[0]}")
    a, b = a.double(), b.double()
    diff = a.mean(0) - b.mean(0)
    tr1 = ((a - a.mean(0)).square().sum() / (a.shape[0] - 1)).item()
    tr2 = ((b - b.mean(0)).square().sum() / (b.shape[0] - 1)).item()
    return float(diff @ diff) + tr1 + tr2 - 2.0 * trace_sqrt_product(a, b)


def frechet_distance_scipy(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """clean-fid / pytorch-fid's formula with ``scipy.linalg.sqrtm`` (slow for d = 2048 on a CPU)."""
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def kernel_inception_distance(a: torch.Tensor, b: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float, int]:
    """Unbiased polynomial-kernel MMD^2 between ``a`` (n1, d) and ``b`` (n2, d): (mean, std, m)."""
    n = min(a.shape[0], b.shape[0], subset_size)
    if n < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {a.shape[0]} and {b.shape[0]}")
    a, b = a.double(), b.double()
    d = a.shape[1]
    rng = np.random.default_rng(seed)

    def kernel(x, y):
        return (x @ y.t() / d + 1) ** 3

    # Small sets: the three kernel matrices once, then every subset indexes them.
    full = max(a.shape[0], b.shape[0]) <= GRAM_MAX
    if full:
        kbb, kaa, kba = kernel(b, b), kernel(a, a), kernel(b, a)
    values = []
    for _ in range(subsets):
        ix = torch.from_numpy(rng.choice(b.shape[0], n, replace=False))
        iy = torch.from_numpy(rng.choice(a.shape[0], n, replace=False))
        if full:
            kxx, kyy, kxy = kbb[ix][:, ix], kaa[iy][:, iy], kba[ix][:, iy]
        else:
            x, y = b[ix], a[iy]
            kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
        within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
        values.append(float(within - 2 * kxy.sum() / (n * n)))
    v = np.asarray(values)
    return float(v.mean()), float(v.std()), n


def inception_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float, int]:
    """IS of (N, K) logits: (mean, std over splits (ddof 0), splits used)."""
    probs = torch.softmax(logits.double(), dim=1).numpy()
    n = probs.shape[0]
    if n == 0:
        raise ValueError("Inception Score of an empty set")
    k = splits if n >= splits else 1
    scores = []
    for i in range(k):
        part = probs[i * n // k : (i + 1) * n // k]
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = part * (np.log(part) - np.log(part.mean(0, keepdims=True)))
        kl = np.nan_to_num(kl, nan=0.0)  # 0 log 0 = 0
        scores.append(math.exp(kl.sum(1).mean()))
    return float(np.mean(scores)), float(np.std(scores)), k


class _InceptionSetMetric(SetMetric):
    """Shared loading and features of FID / KID (pool3) and IS (pool3 + logits)."""

    checkpoint_name = "inception/pool3"

    def __init__(self):
        super().__init__()
        self.weights = (self.checkpoint_name,)
        self._net = None

    def load(self):
        if self._net is None:
            path = resolve(self.checkpoint_name)
            self._net = load_inception(path)
            self.checkpoint = file_tag(self.checkpoint_name, path)
            self.feature_id = f"inception-pool3-clean299:{self.checkpoint}"
        return self

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 2048) float64 CPU pool3 features."""
        check_unit_range(images, self.name)
        self.load()
        return pool3_features(self._net, images)


class FID(_InceptionSetMetric):
    """Frechet Inception Distance between the reference set and the reconstruction set (lower is better).

    ``compute()`` -> ``{"fid": value, "n": images}``; n < 2048 gives a biased (too high) value.
    """

    name = "fid"
    label = "FID (biased at small n)"
    range = (0.0, float("inf"))
    higher_is_better = False

    def compute_from(self, reference_features, reconstruction_features) -> dict:
        n = int(reconstruction_features.shape[0])
        if n < FID_RELIABLE_N:
            log.debug("fid on n=%d images (< %d): biased upward, compare only at equal n", n, FID_RELIABLE_N)
        return {"fid": frechet_distance(reference_features, reconstruction_features), "n": n}


class KID(_InceptionSetMetric):
    """Kernel Inception Distance (unbiased MMD^2, polynomial kernel), lower is better.

    ``compute()`` -> ``{"kid": mean, "kid_std": std over subsets, "kid_subset": m, "n": images}``.
    """

    name = "kid"
    label = "KID"
    higher_is_better = False

    def __init__(self, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
        super().__init__()
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def compute_from(self, reference_features, reconstruction_features) -> dict:
        mean, std, m = kernel_inception_distance(reference_features, reconstruction_features, self.subsets, self.subset_size, self.seed)
        return {"kid": mean, "kid_std": std, "kid_subset": m, "n": int(reconstruction_features.shape[0])}


class InceptionScore(_InceptionSetMetric):
    """Inception Score of the reconstructions (higher is better); the reference is not used.

    ``compute()`` -> ``{"is": mean, "is_std": std, "is_splits": k, "n": images}``. Features are
    the 1008 logits (softmax weights, no bias by default: ``bias=True`` adds it).
    """

    name = "is"
    label = "Inception Score"
    range = (1.0, float("inf"))
    higher_is_better = True
    uses_reference = False
    checkpoint_name = "inception/logits"

    def __init__(self, splits: int = 10, bias: bool = False):
        super().__init__()
        self.splits, self.bias = splits, bias

    def load(self):
        if self._net is None:
            super().load()
            if self._net.output is None:
                self._net = None
                raise SemcomError(f"{self.checkpoint} has pool3 features only (no 1008-class output layer): the "
                                  "Inception Score needs NVIDIA's inception-2015-12-05.pt (checkpoint inception/logits)")
            self.feature_id = f"inception-logits{'-bias' if self.bias else ''}-clean299:{self.checkpoint}"
        return self

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(N, K) float64 CPU logits."""
        pool3 = super().features(images)
        with torch.no_grad():
            out = self._net.output
            return self._net.logits(pool3.to(out.weight.device), bias=self.bias).double().cpu()

    def compute_from(self, reference_features, reconstruction_features) -> dict:
        mean, std, k = inception_score(reconstruction_features, self.splits)
        return {"is": mean, "is_std": std, "is_splits": k, "n": int(reconstruction_features.shape[0])}
