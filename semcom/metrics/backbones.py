"""AlexNet and VGG16 convolutional feature stacks in torchvision's layout (no torchvision needed).

The modules are ``nn.Sequential`` with torchvision's indices, so ``torchvision.models.alexnet()
.features`` / ``vgg16().features`` state dicts load as they are: a features-only state dict
(keys ``0.weight``, ``3.weight``, ...) or a full torchvision state dict (keys ``features.*``,
the classifier keys ignored). PyPI's torchvision does not import beside torch 2.13 CPU, and these
are a few conv layers, so they are defined here.

:class:`TappedFeatures` runs a stack and returns the outputs after chosen layer indices (LPIPS
taps the ReLUs: AlexNet relu1..relu5, VGG16 relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from semcom.errors import SemcomError

#: torchvision AlexNet ``features``: (out channels, kernel, stride, padding) per conv; "M" = max pool 3/2.
ALEXNET_CFG = [(64, 11, 4, 2), "M", (192, 5, 1, 2), "M", (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1), "M"]
#: torchvision VGG16 ``features`` (configuration "D"): 3x3 convs, padding 1; "M" = max pool 2/2.
VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

#: Indices of the ReLU outputs LPIPS uses.
ALEXNET_RELU_TAPS = (1, 4, 7, 9, 11)
VGG16_RELU_TAPS = (3, 8, 15, 22, 29)


def alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features`` (13 modules, indices 0-12), random weights."""
    layers: list[nn.Module] = []
    c_in = 3
    for item in ALEXNET_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
        else:
            c_out, k, s, p = item
            layers += [nn.Conv2d(c_in, c_out, kernel_size=k, stride=s, padding=p), nn.ReLU(inplace=False)]
            c_in = c_out
    return nn.Sequential(*layers)


def vgg16_features() -> nn.Sequential:
    """torchvision's ``vgg16().features`` (31 modules, indices 0-30), random weights."""
    layers: list[nn.Module] = []
    c_in = 3
    for item in VGG16_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c_in, item, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            c_in = item
    return nn.Sequential(*layers)


def features_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The ``features`` part of a torchvision state dict file, keys ``<index>.weight|bias``.

    Accepts a features-only state dict or a full torchvision one (``features.*`` keys taken, the
    classifier dropped).
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise SemcomError(f"{path} is not a state dict: give a torchvision AlexNet/VGG16 state dict file")
    if any(k.startswith("features.") for k in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    return state


def load_features(stack: nn.Sequential, path: str | Path) -> nn.Sequential:
    """Load a torchvision features state dict (see :func:`features_state_dict`) into ``stack``."""
    state = features_state_dict(path)
    own = {k for k in stack.state_dict()}
    missing = sorted(own - set(state))
    if missing:
        raise SemcomError(f"{path} lacks {', '.join(missing[:4])}: it is not a torchvision {len(own) // 2}-conv features state dict")
    ref = stack.state_dict()
    bad = [f"{k} {tuple(state[k].shape)} (expected {tuple(ref[k].shape)})" for k in sorted(own) if tuple(state[k].shape) != tuple(ref[k].shape)]
    if bad:
        raise SemcomError(f"{path}: {', '.join(bad[:3])}: it is not a torchvision {len(own) // 2}-conv features state dict; replace it")
    stack.load_state_dict({k: state[k] for k in own})
    return stack.eval().requires_grad_(False)


class TappedFeatures(nn.Module):
    """Run a Sequential up to its last tap; return the outputs after each tap index (a list)."""

    def __init__(self, stack: nn.Sequential, taps: tuple[int, ...]):
        super().__init__()
        self.layers = nn.Sequential(*list(stack)[: max(taps) + 1])
        self.taps = tuple(taps)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out
