"""LPIPS v0.1 (Zhang et al. 2018), AlexNet (default) or VGG16 backbone.

Matches the reference implementation richzhang/PerceptualSimilarity (``lpips`` 0.1.4,
``LPIPS(net=..., version="0.1")``, eval mode):

1. inputs in [0, 1] are mapped to [-1, 1] by this metric (``2 x - 1``): callers pass the project's
   [0, 1] images; feeding [0, 1] to a network calibrated on [-1, 1] is a known bug elsewhere;
2. the fixed scaling layer ``(x - shift) / scale``, shift (-.030, -.088, -.188), scale (.458, .448, .450);
3. backbone features at 5 taps (AlexNet relu1..relu5; VGG16 relu1_2, relu2_2, relu3_3, relu4_3, relu5_3);
4. each tap unit-normalised over channels (``f / (||f||_2 + 1e-10)``), squared difference;
5. a 1x1 convolution without bias (the v0.1 "lin" weights), spatial mean, sum over the 5 taps.

Output: (N,) float32 distance, 0 for identical images, lower is better. Checkpoints:
``torchvision/alexnet`` or ``torchvision/vgg16`` and ``lpips/lin-alex`` or ``lpips/lin-vgg``.
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.metrics import checkpoints  # noqa: F401  (registers the checkpoints)
from semcom.metrics.backbones import (
    ALEXNET_RELU_TAPS,
    VGG16_RELU_TAPS,
    TappedFeatures,
    alexnet_features,
    load_features,
    vgg16_features,
)
from semcom.metrics.base import Metric, check_unit_range, module_on
from semcom.errors import SemcomError
from semcom.weights import file_tag, resolve

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10

_NETS = {
    # net: (stack builder, taps, backbone checkpoint, lin checkpoint, tap channels)
    "alex": (alexnet_features, ALEXNET_RELU_TAPS, "torchvision/alexnet", "lpips/lin-alex", (64, 192, 384, 256, 256)),
    "vgg": (vgg16_features, VGG16_RELU_TAPS, "torchvision/vgg16", "lpips/lin-vgg", (64, 128, 256, 512, 512)),
}


class LPIPSNet(nn.Module):
    """Scaling layer + tapped backbone + lin layers. ``features(x)`` takes [-1, 1] images."""

    def __init__(self, net: str = "alex", stack: nn.Sequential | None = None):
        super().__init__()
        build, taps, _, _, channels = _NETS[net]
        self.backbone = TappedFeatures(stack if stack is not None else build(), taps)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in channels)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    def load_lins(self, path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        for i, lin in enumerate(self.lins):
            w = state.get(f"lin{i}.model.1.weight") if isinstance(state, dict) else None
            if w is None or tuple(w.shape) != tuple(lin.weight.shape):
                got = "missing" if w is None else f"shape {tuple(w.shape)}"
                raise SemcomError(f"{path}: lin{i}.model.1.weight is {got}, expected {tuple(lin.weight.shape)}: "
                                  "this is not the LPIPS v0.1 linear-layer file for this network; replace it")
            lin.weight.data.copy_(w)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised tap features of [-1, 1] images. The backbone runs channels-last (the
        oneDNN convolutions are about 20 % faster so on a CPU; values equal within float rounding)."""
        feats = self.backbone(((x - self.shift) / self.scale).contiguous(memory_format=torch.channels_last))
        return [f / (f.square().sum(1, keepdim=True).sqrt() + EPS) for f in feats]

    def distance(self, f0: list[torch.Tensor], f1: list[torch.Tensor]) -> torch.Tensor:
        """(N,) LPIPS from two lists of normalised features."""
        total = 0.0
        for lin, a, b in zip(self.lins, f0, f1):
            total = total + lin((a - b).square()).mean(dim=(2, 3))
        return total.flatten()


class LPIPS(Metric):
    """LPIPS v0.1 distance, (N,) for (N, 3, H, W) float images in [0, 1]; ``net`` "alex" or "vgg".

    Images smaller than the backbone needs (``min_size``, measured: AlexNet 31 px, VGG16 16 px)
    score NaN with one warning (:func:`semcom.metrics.base.too_small`). ``prepare`` keeps the
    reference features.
    """

    higher_is_better = False
    range = (0.0, float("inf"))
    min_size = 31

    def __init__(self, net: str = "alex"):
        if net not in _NETS:
            from semcom.errors import SemcomError

            raise SemcomError(f"LPIPS net {net!r} is unknown: choose alex or vgg")
        self.net_name = net
        self.name = "lpips" if net == "alex" else f"lpips_{net}"
        self.min_size = 31 if net == "alex" else 16
        self.label = f"LPIPS ({net})"
        self.weights = (_NETS[net][2], _NETS[net][3])
        self._net: LPIPSNet | None = None

    def load(self) -> "LPIPS":
        if self._net is None:
            backbone_path, lin_path = resolve(self.weights[0]), resolve(self.weights[1])
            net = LPIPSNet(self.net_name, load_features(_NETS[self.net_name][0](), backbone_path))
            net.load_lins(lin_path)
            self._net = net.eval().requires_grad_(False)
            self.checkpoint = f"{file_tag(self.weights[0], backbone_path)}+{file_tag(self.weights[1], lin_path)}"
        return self

    def prepare(self, reference: torch.Tensor) -> list[torch.Tensor]:
        check_unit_range(reference, self.name)
        self.load()
        net = module_on(self._net, reference.device)
        with torch.no_grad():
            return net.features(reference.float() * 2 - 1)

    def score(self, state: list[torch.Tensor], reconstruction: torch.Tensor) -> torch.Tensor:
        check_unit_range(reconstruction, self.name)
        net = module_on(self._net, reconstruction.device)
        with torch.no_grad():
            return net.distance(state, net.features(reconstruction.float() * 2 - 1)).float()

