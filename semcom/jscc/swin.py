"""Swin-transformer building blocks (Liu et al. 2021) on (N, H, W, C) token maps.

* :class:`SwinBlock`: LayerNorm -> (shifted) window multi-head self-attention with a learned
  relative position bias -> residual -> LayerNorm -> MLP (GELU) -> residual. Windows are
  ``window`` x ``window`` tokens; odd blocks of a stage shift the windows by ``window // 2``
  with the usual mask between regions that the cyclic shift brought together. H and W must be
  multiples of ``window``; a map no larger than one window is attended as a whole, unshifted.
* :class:`PatchMerging`: 2x2 neighbours concatenated (4C) -> LayerNorm -> Linear: half size.
* :class:`PatchExpand`: Linear C -> 4C' -> pixel shuffle -> LayerNorm: double size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def window_partition(x: torch.Tensor, w: int) -> torch.Tensor:
    """(N, H, W, C) -> (N * H/w * W/w, w*w, C)."""
    n, h, wd, c = x.shape
    x = x.reshape(n, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, w * w, c)


def window_reverse(windows: torch.Tensor, w: int, n: int, h: int, wd: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (N * nW, w*w, C) -> (N, H, W, C)."""
    c = windows.shape[-1]
    x = windows.reshape(n, h // w, wd // w, w, w, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h, wd, c)


def relative_position_index(w: int) -> torch.Tensor:
    """(w*w, w*w) index into a (2w-1)^2 bias table for every pair of tokens in a window."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (w - 1)
    return rel[..., 0] * (2 * w - 1) + rel[..., 1]


def shift_mask(h: int, wd: int, w: int, shift: int, device) -> torch.Tensor:
    """(nW, w*w, w*w) additive mask: -inf-like between tokens of different shifted regions."""
    label = torch.zeros(1, h, wd, 1, device=device)
    k = 0
    for hs in (slice(0, -w), slice(-w, -shift), slice(-shift, None)):
        for ws in (slice(0, -w), slice(-w, -shift), slice(-shift, None)):
            label[:, hs, ws, :] = k
            k += 1
    lw = window_partition(label, w).squeeze(-1)
    return (lw[:, None, :] != lw[:, :, None]).float() * -100.0


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows of ``window**2`` tokens, relative position bias."""

    def __init__(self, dim: int, heads: int, window: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        self.register_buffer("bias_index", relative_position_index(window), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C) with T = window**2; mask (nW, T, T) additive, B a multiple of nW."""
        b, t, c = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.bias_table[self.bias_index.reshape(-1)].reshape(t, t, -1).permute(2, 0, 1)
        bias = bias.unsqueeze(0).to(q.dtype)
        if mask is not None:
            nw = mask.shape[0]
            bias = (bias.unsqueeze(0) + mask.to(q.dtype)[None, :, None]).expand(b // nw, nw, self.heads, t, t)
            bias = bias.reshape(b, self.heads, t, t)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(b, t, c))


class SwinBlock(nn.Module):
    """One Swin transformer block on (N, H, W, C); ``shift``: use shifted windows."""

    def __init__(self, dim: int, heads: int, window: int = 8, shift: bool = False, mlp_ratio: float = 4.0):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self._masks: dict = {}

    def _mask(self, h: int, wd: int, s: int, device) -> torch.Tensor:
        key = (h, wd, str(device))
        if key not in self._masks:
            self._masks[key] = shift_mask(h, wd, self.window, s, device)
        return self._masks[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, wd, c = x.shape
        w = self.window
        if h % w or wd % w:
            raise ValueError(f"token map {h}x{wd} is not a multiple of the window {w}")
        shortcut = x
        x = self.norm1(x)
        s = w // 2 if (self.shift and min(h, wd) > w) else 0
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        mask = self._mask(h, wd, s, x.device) if s else None
        y = window_reverse(self.attn(window_partition(x, w), mask), w, n, h, wd)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = shortcut + y
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """(N, H, W, C) -> (N, H/2, W/2, C_out): 2x2 neighbours concatenated, LayerNorm, Linear."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


class PatchExpand(nn.Module):
    """(N, H, W, C) -> (N, 2H, 2W, C_out): Linear to 4 C_out, pixel shuffle, LayerNorm."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.expand = nn.Linear(dim, 4 * out_dim, bias=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_shuffle(self.expand(x).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        return self.norm(x)


def init_weights(module: nn.Module) -> None:
    """Swin's initialisation: Linear weights N(0, 0.02) truncated, zero biases; LayerNorm 1/0."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
