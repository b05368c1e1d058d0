"""A small Swin-transformer JSCC in the style of WITT (Yang et al. 2023) and SwinJSCC (Yang et
al. 2024), with SNR and rate adaptation.

Encoder: p x p patch embedding (3 -> dims[0], stride p) -> Swin stage 1 -> patch merging ->
stage 2 -> ... (stride p 2^(stages-1)) -> LayerNorm -> SNR/rate modulation -> Linear
(dims[-1] -> c_max). Decoder: Linear (c_max -> dims[-1]) -> SNR/rate modulation -> the stages
in reverse with patch expanding between them -> Linear to p x p x 3 pixels -> sigmoid.
WITT uses p = 2, four stages (dims 128..320), window 8; the default here, sized to train on two
CPU cores, is p = 4, two stages (dims 48, 96; depths 2, 2; heads 2, 4), window 4: stride 8.

**SNR adaptation** (WITT's channel ModNet, reduced to one gate): the mean token, the SNR (dB/10)
and the ratio (x16) go through a 2-layer MLP whose sigmoid output scales every channel of every
token, in the encoder before the projection and in the decoder after it.

**Rate adaptation** (in the spirit of SwinJSCC's rate ModNet, simplified): the encoder projects to
c_max = 384 rho_max channels ordered by training; at ratio rho only the first 384 rho are sent
(a fixed prefix, not SwinJSCC's per-token learned selection) and the decoder sees zeros in the
rest. A model trained with several ``ratios`` draws one per batch; a single-ratio model is an
ordinary fixed-rate JSCC. At stride 8, rho = 1/16 sends 24 real channels, 1/6 sends 64
(c = 6 stride^2 rho).

Sizes must be multiples of stride x ``window`` (32 for the defaults); other sizes are
reflect-padded by :class:`~semcom.jscc.base.JSCCModel`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from semcom.jscc.base import JSCCModel, snr_feature
from semcom.jscc.swin import PatchExpand, PatchMerging, SwinBlock, init_weights


class Modulation(nn.Module):
    """Channel gate from (mean token, SNR, ratio): (N, H, W, C) -> same shape."""

    def __init__(self, dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or max(16, dim // 2)
        self.net = nn.Sequential(nn.Linear(dim + 2, hidden), nn.GELU(), nn.Linear(hidden, dim), nn.Sigmoid())

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor, ratio: float) -> torch.Tensor:
        rate = torch.full_like(snr_db.float(), 16.0 * float(ratio)).reshape(-1, 1)
        context = torch.cat([x.float().mean(dim=(1, 2)), snr_feature(snr_db), rate], dim=1)
        return x * self.net(context).to(x.dtype)[:, None, None, :]


def _stage(dim: int, depth: int, heads: int, window: int) -> nn.Sequential:
    return nn.Sequential(*(SwinBlock(dim, heads, window, shift=bool(i % 2)) for i in range(depth)))


class SwinJSCC(JSCCModel):
    """Swin JSCC, SNR-adaptive, optionally rate-adaptive over ``ratios``.

    ``patch`` x ``patch`` patch embedding, then one Swin stage per entry of ``dims`` / ``depths``
    / ``heads`` with a patch merging between stages: stride = patch * 2^(stages - 1).
    """

    name = "swinjscc"
    snr_adaptive = True

    def __init__(
        self,
        ratios: list[float] = (1 / 16,),
        dims: tuple[int, ...] = (48, 96),
        depths: tuple[int, ...] = (2, 2),
        heads: tuple[int, ...] = (2, 4),
        window: int = 4,
        patch: int = 4,
    ):
        if not len(dims) == len(depths) == len(heads) or not dims:
            raise ValueError(f"dims {dims}, depths {depths} and heads {heads} need one entry per stage")
        self.stride = int(patch) * 2 ** (len(dims) - 1)
        super().__init__(list(ratios))
        dims = [int(d) for d in dims]
        self.window, self.patch = int(window), int(patch)
        self.size_multiple = self.stride * self.window
        self.config = {
            "ratios": [float(r) for r in self.ratios],
            "dims": dims,
            "depths": [int(d) for d in depths],
            "heads": [int(h) for h in heads],
            "window": self.window,
            "patch": self.patch,
        }
        w, last = self.window, dims[-1]
        self.embed = nn.Conv2d(3, dims[0], self.patch, stride=self.patch)
        self.embed_norm = nn.LayerNorm(dims[0])
        self.enc_stages = nn.ModuleList(_stage(d, n, h, w) for d, n, h in zip(dims, depths, heads))
        self.merges = nn.ModuleList(PatchMerging(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.enc_norm = nn.LayerNorm(last)
        self.enc_mod = Modulation(last)
        self.to_latent = nn.Linear(last, self.c_max)

        self.from_latent = nn.Linear(self.c_max, last)
        self.dec_mod = Modulation(last)
        self.dec_stages = nn.ModuleList(_stage(d, n, h, w) for d, n, h in zip(reversed(dims), reversed(depths), reversed(heads)))
        self.expands = nn.ModuleList(PatchExpand(a, b) for a, b in zip(reversed(dims[1:]), reversed(dims[:-1])))
        self.dec_norm = nn.LayerNorm(dims[0])
        self.to_pixels = nn.Linear(dims[0], 3 * self.patch * self.patch)
        self.apply(init_weights)

    def analysis(self, images, snr_db, ratio):
        x = self.embed_norm(self.embed(images).permute(0, 2, 3, 1))
        for i, stage in enumerate(self.enc_stages):
            if i:
                x = self.merges[i - 1](x)
            x = stage(x)
        x = self.enc_mod(self.enc_norm(x), snr_db, ratio)
        return self.to_latent(x).permute(0, 3, 1, 2)

    def synthesis(self, latent, snr_db, ratio):
        x = self.dec_mod(self.from_latent(latent.permute(0, 2, 3, 1)), snr_db, ratio)
        for i, stage in enumerate(self.dec_stages):
            if i:
                x = self.expands[i - 1](x)
            x = stage(x)
        x = self.to_pixels(self.dec_norm(x)).permute(0, 3, 1, 2)
        return torch.sigmoid(F.pixel_shuffle(x, self.patch))
