"""ADJSCC (Xu, Ai, Chen, Wang, Gu, "Wireless image transmission using deep source channel coding
with attention modules", IEEE TCSVT 2021): one model for the whole SNR range.

Encoder: five feature-learning (FL) modules, each a 5x5 convolution, GDN and PReLU (strides
2, 2, 1, 1, 1; the last has c = 96 rho filters and no PReLU), with an attention-feature (AF)
module after each of the first four. Decoder: the mirror image with transposed convolutions,
IGDN and PReLU, AF modules after the first four, and a sigmoid at the output.

AF module: context = [channel means of the feature map, SNR] -> FC (C+1 -> C/r) -> ReLU ->
FC (C/r -> C) -> sigmoid -> scales each channel of the features. The paper uses 256 filters
and r = 16; ``width`` sets the filters here (the shipped checkpoints state theirs). GDN is
CompressAI's when importable (see :mod:`semcom.jscc.gdn`).
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.jscc.base import JSCCModel, snr_feature
from semcom.jscc.gdn import GDN


class AttentionFeature(nn.Module):
    """SNR-conditioned channel attention: features (N, C, H, W), SNR dB (N,) -> scaled features."""

    def __init__(self, channels: int, reduction: int = 16, min_hidden: int = 8, extra_inputs: int = 1):
        super().__init__()
        hidden = max(min_hidden, channels // reduction)
        self.net = nn.Sequential(
            nn.Linear(channels + extra_inputs, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, features: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        context = torch.cat([features.float().mean(dim=(2, 3)), side.float()], dim=1)
        scale = self.net(context).to(features.dtype)
        return features * scale[:, :, None, None]


class _FL(nn.Module):
    """Feature-learning module: (transposed) 5x5 convolution, (I)GDN, optional PReLU."""

    def __init__(self, cin: int, cout: int, stride: int, transpose: bool, activation: bool):
        super().__init__()
        if transpose:
            self.conv = nn.ConvTranspose2d(cin, cout, 5, stride=stride, padding=2, output_padding=stride - 1)
        else:
            self.conv = nn.Conv2d(cin, cout, 5, stride=stride, padding=2)
        self.gdn = GDN(cout, inverse=transpose)
        self.act = nn.PReLU(cout) if activation else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.gdn(self.conv(x)))


class ADJSCC(JSCCModel):
    """Xu et al. 2021. Input (N, 3, H, W), H and W padded to multiples of 4; SNR-adaptive."""

    name = "adjscc"
    stride = 4
    size_multiple = 4
    snr_adaptive = True

    def __init__(self, ratio: float = 1 / 16, width: int = 256, reduction: int = 16):
        super().__init__([ratio])
        w, c = int(width), self.c_max
        self.config = {"ratio": float(ratio), "width": w, "reduction": int(reduction)}
        strides = (2, 2, 1, 1, 1)
        enc_out = (w, w, w, w, c)
        self.enc = nn.ModuleList()
        cin = 3
        for i, (s, cout) in enumerate(zip(strides, enc_out)):
            self.enc.append(_FL(cin, cout, s, transpose=False, activation=i < 4))
            cin = cout
        self.enc_af = nn.ModuleList(AttentionFeature(w, reduction) for _ in range(4))
        dec_out = (w, w, w, w, 3)
        self.dec = nn.ModuleList()
        cin = c
        for i, (s, cout) in enumerate(zip(reversed(strides), dec_out)):
            if i < 4:
                self.dec.append(_FL(cin, cout, s, transpose=True, activation=True))
            else:
                self.dec.append(nn.ConvTranspose2d(cin, cout, 5, stride=s, padding=2, output_padding=s - 1))
            cin = cout
        self.dec_af = nn.ModuleList(AttentionFeature(w, reduction) for _ in range(4))

    def analysis(self, images, snr_db, ratio):
        side = snr_feature(snr_db)
        x = images
        for i, fl in enumerate(self.enc):
            x = fl(x)
            if i < 4:
                x = self.enc_af[i](x, side)
        return x

    def synthesis(self, latent, snr_db, ratio):
        side = snr_feature(snr_db)
        x = latent
        for i, fl in enumerate(self.dec):
            x = fl(x)
            if i < 4:
                x = self.dec_af[i](x, side)
        return torch.sigmoid(x)
