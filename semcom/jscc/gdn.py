"""Generalized divisive normalisation (Balle, Laparra, Simoncelli 2016), as ADJSCC uses it.

    GDN:  y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)      IGDN: y_i = x_i * sqrt(...)

over the channels of a (N, C, H, W) tensor, at every pixel.

**Why this module exists.** The project prefers CompressAI's ``compressai.layers.GDN``, and uses
it whenever ``import compressai`` works. Beside the CPU torch 2.13 build that this project
installs, it does not: ``compressai/__init__.py`` imports every subpackage, among them ones that
``import torchvision`` (whose PyPI wheels fail to load beside torch 2.13.0+cpu, see
docs/ENVIRONMENT.md) and ``requests``; CompressAI's cp311 wheels also pin numpy<2, which Sionna
2.2 cannot use, so it cannot be a dependency of this package. Importing only the GDN submodule
does not help either: ``compressai.layers.gdn`` runs the package ``__init__`` first.

This fallback reproduces CompressAI's parameterisation and state-dict layout exactly
(``beta``, ``gamma`` stored as square roots with a pedestal and a lower bound; buffers
``beta_reparam.pedestal``, ``beta_reparam.lower_bound.bound`` and the same for gamma; the
bound's gradient passes through when it pushes the parameter back above the bound), so a
checkpoint trained with either loads into the other. :data:`GDN_SOURCE` says which one is in use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Offset of the square-root reparameterisation (CompressAI's default, 2^-18).
REPARAM_OFFSET = 2.0**-18


class _LowerBoundFn(torch.autograd.Function):
    """max(x, bound) whose gradient is passed where x >= bound or the gradient pushes x up."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x, bound)
        return torch.maximum(x, bound)

    @staticmethod
    def backward(ctx, grad):
        x, bound = ctx.saved_tensors
        keep = (x >= bound) | (grad < 0)
        return grad * keep, None


class LowerBound(nn.Module):
    """Elementwise lower bound with a straight-through gradient towards the feasible side."""

    def __init__(self, bound: float):
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _LowerBoundFn.apply(x, self.bound.to(x.dtype))


class NonNegative(nn.Module):
    """Stores p = sqrt(v + pedestal); returns v = max(p, bound)^2 - pedestal >= minimum."""

    def __init__(self, minimum: float = 0.0, offset: float = REPARAM_OFFSET):
        super().__init__()
        self.register_buffer("pedestal", torch.tensor([offset**2]))
        self.lower_bound = LowerBound((float(minimum) + offset**2) ** 0.5)

    def init(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(torch.clamp(v + self.pedestal, min=float(self.pedestal)))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.lower_bound(p).square() - self.pedestal


class SemcomGDN(nn.Module):
    """GDN (``inverse=False``) or IGDN (``inverse=True``) over ``channels`` channels.

    Input and output (N, C, H, W). Computed in float32 even under autocast (the square root of
    a sum of squares is fragile in half precision). Initialised as CompressAI does: beta = 1,
    gamma = 0.1 I.
    """

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_reparam = NonNegative(minimum=beta_min)
        self.gamma_reparam = NonNegative()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        c = x.shape[1]
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            beta = self.beta_reparam(self.beta)
            gamma = self.gamma_reparam(self.gamma).reshape(c, c, 1, 1)
            norm = F.conv2d(x.square(), gamma, beta)
            out = x * (norm.sqrt() if self.inverse else norm.rsqrt())
        return out.to(dtype)

    def extra_repr(self) -> str:
        return f"channels={self.beta.numel()}, inverse={self.inverse}"


def _compressai_gdn():
    try:
        from compressai.layers import GDN as CompressAIGDN  # noqa: N811
    except Exception:  # ImportError, or torchvision failing to load its operators
        return None
    return CompressAIGDN


_CAI = _compressai_gdn()
#: "compressai" when CompressAI's GDN is used, else "semcom" (this module's identical fallback).
GDN_SOURCE = "compressai" if _CAI is not None else "semcom"


def GDN(channels: int, inverse: bool = False) -> nn.Module:  # noqa: N802 - a layer factory
    """A GDN/IGDN layer: CompressAI's when importable, else :class:`SemcomGDN` (same state dict)."""
    if _CAI is not None:
        return _CAI(channels, inverse=inverse)
    return SemcomGDN(channels, inverse=inverse)
