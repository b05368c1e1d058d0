"""DISTS (Ding et al. 2020): structure and texture similarity on VGG16 features with L2 pooling.

Matches the reference implementation dingkeyan93/DISTS (``DISTS_pytorch``, eval mode):

* input in [0, 1], normalised with the ImageNet mean (0.485, 0.456, 0.406) and std
  (0.229, 0.224, 0.225); by default no resize. ``DISTS(resize=256)`` (config:
  ``metric_params.dists.resize=256``) does what the reference demo script's ``prepare_image`` does:
  an image whose shorter side exceeds 256 px is shrunk (bilinear, antialiased) to a shorter side of
  256 px before scoring, reference and reconstruction alike (Kodak 512 x 768 -> 256 x 384: 4x less
  VGG work);
* VGG16 conv stages with every max pool replaced by L2 pooling (squared input, depthwise 3x3
  Hann window [.5, 1, .5] outer product normalised to sum 1, stride 2, padding 1, then
  sqrt(. + 1e-12));
* six feature sets: the raw input (3 ch) and relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
  (64, 128, 256, 512, 512 ch: 1475 in all);
* per channel: structure S1 = (2 mx my + c1) / (mx^2 + my^2 + c1) on spatial means, texture
  S2 = (2 cov + c2) / (vx + vy + c2) on spatial (biased) variances and covariance, c1 = c2 = 1e-6;
* DISTS = 1 - sum_channels (alpha S1 + beta S2), alpha and beta the learned (1, 1475, 1, 1)
  weights divided by their joint sum.

Output: (N,) float32 distance, 0 for identical images, lower is better. Checkpoints
``torchvision/vgg16`` and ``dists/alpha-beta``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from semcom.metrics import checkpoints  # noqa: F401  (registers the checkpoints)
from semcom.metrics.backbones import load_features, vgg16_features
from semcom.metrics.base import Metric, check_unit_range, module_on
from semcom.errors import SemcomError
from semcom.weights import file_tag, resolve

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CHANNELS = (3, 64, 128, 256, 512, 512)
C1 = C2 = 1e-6


class L2Pool(nn.Module):
    """sqrt(depthwise Hann-window blur of x^2, stride 2) + 1e-12 inside the root."""

    def __init__(self, channels: int):
        super().__init__()
        a = torch.tensor([0.5, 1.0, 0.5], dtype=torch.float64)
        g = a[:, None] * a[None, :]
        g = (g / g.sum()).float()
        self.register_buffer("filter", g[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x.square(), self.filter, stride=2, padding=1, groups=x.shape[1])
        return (out + 1e-12).sqrt()


class DISTSNet(nn.Module):
    """VGG16 stages with L2 pooling; ``features(x)`` -> [x, relu1_2, ..., relu5_3] for x in [0, 1]."""

    #: torchvision VGG16 max-pool indices replaced by L2 pooling, and the stage boundaries.
    POOLS = {4: 64, 9: 128, 16: 256, 23: 512}

    def __init__(self, vgg: nn.Sequential | None = None):
        super().__init__()
        vgg = vgg if vgg is not None else vgg16_features()
        layers = list(vgg)[:30]
        stages, current = [], []
        for i, layer in enumerate(layers):
            if i in self.POOLS:
                stages.append(nn.Sequential(*current))
                current = [L2Pool(self.POOLS[i])]
            else:
                current.append(layer)
        stages.append(nn.Sequential(*current))
        self.stages = nn.ModuleList(stages)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.register_buffer("alpha", torch.full((1, sum(CHANNELS), 1, 1), 0.1))
        self.register_buffer("beta", torch.full((1, sum(CHANNELS), 1, 1), 0.1))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [x]
        # channels-last: oneDNN's VGG convolutions run about 1.4x faster on a CPU (same values)
        h = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        return feats

    @staticmethod
    def stats(feats: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per feature set: (values (N, H*W, C), spatial mean (N, C), biased spatial variance (N, C)).

        The features come channels-last from ``features``, so (N, H*W, C) is a view. The variance is
        E[x^2] - E[x]^2 (torch.var_mean's Welford pass is 3x slower here); the two agree to about
        1e-7 relative on VGG features, whose variance is not small against their squared mean.
        """
        out = []
        for f in feats:
            flat = f.permute(0, 2, 3, 1).reshape(f.shape[0], -1, f.shape[1])
            mean = flat.mean(1)
            var = (flat.square().mean(1) - mean.square()).clamp_min(0)
            out.append((flat, mean, var))
        return out

    def distance(self, ref: list, rec: list) -> torch.Tensor:
        """DISTS between two ``stats`` lists (reference, reconstruction), (N,)."""
        total = self.alpha.sum() + self.beta.sum()
        alphas = torch.split((self.alpha / total).flatten(), CHANNELS)
        betas = torch.split((self.beta / total).flatten(), CHANNELS)
        structure = texture = 0.0
        for a, b, (x, mx, vx), (y, my, vy) in zip(alphas, betas, ref, rec):
            s1 = (2 * mx * my + C1) / (mx.square() + my.square() + C1)
            cov = torch.linalg.vecdot(x, y, dim=1) / x.shape[1] - mx * my
            s2 = (2 * cov + C2) / (vx + vy + C2)
            structure = structure + (a * s1).sum(1)
            texture = texture + (b * s2).sum(1)
        return 1 - (structure + texture)


class DISTS(Metric):
    """DISTS distance, (N,) for (N, 3, H, W) float images in [0, 1]; lower is better."""

    name = "dists"
    label = "DISTS"
    range = (0.0, 1.0)
    higher_is_better = False
    weights = ("torchvision/vgg16", "dists/alpha-beta")

    def __init__(self, resize: int | None = None):
        if resize is not None and (not isinstance(resize, int) or resize < 16):
            raise SemcomError(f"dists resize must be a shorter-side length in pixels (>= 16) or null, not {resize!r}")
        self.resize = resize
        self._net: DISTSNet | None = None

    def _sized(self, images: torch.Tensor) -> torch.Tensor:
        """``images`` as float, shrunk to a shorter side of ``resize`` px if it is longer (the
        reference demo's rule: torchvision Resize(256), output sizes truncated to integers)."""
        images = images.float()
        h, w = images.shape[-2:]
        if self.resize is None or min(h, w) <= self.resize:
            return images
        size = (self.resize, int(self.resize * w / h)) if h <= w else (int(self.resize * h / w), self.resize)
        return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)

    def load(self) -> "DISTS":
        if self._net is None:
            vgg_path, ab_path = resolve(self.weights[0]), resolve(self.weights[1])
            net = DISTSNet(load_features(vgg16_features(), vgg_path))
            ab = torch.load(ab_path, map_location="cpu", weights_only=True)
            net.alpha.copy_(ab["alpha"])
            net.beta.copy_(ab["beta"])
            self._net = net.eval().requires_grad_(False)
            self.checkpoint = f"{file_tag(self.weights[0], vgg_path)}+{file_tag(self.weights[1], ab_path)}"
        return self

    def prepare(self, reference: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The reference's features with their spatial means and variances (``DISTSNet.stats``)."""
        check_unit_range(reference, self.name)
        self.load()
        net = module_on(self._net, reference.device)
        with torch.no_grad():
            return net.stats(net.features(self._sized(reference)))

    def score(self, state: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], reconstruction: torch.Tensor) -> torch.Tensor:
        check_unit_range(reconstruction, self.name)
        net = module_on(self._net, reconstruction.device)
        with torch.no_grad():
            return net.distance(state, net.stats(net.features(self._sized(reconstruction)))).float()
