"""TinyJSCC: the smallest useful JSCC model, two strided convolutions each way.

semcom does everything around it (padding, the real-to-complex mapping, power normalisation, the
channel, equalisation, cropping): the model maps images to a latent at 1/4 of their size and back.
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.jscc.base import JSCCModel


class TinyJSCC(JSCCModel):
    """Images (N, 3, H, W) -> latent (N, c, H/4, W/4) -> images; ``width`` hidden filters.

    ``ratio`` sets the latent channels c = 96 ratio (semcom's rule for stride 4).
    """

    name = "tinyjscc"
    stride = 4
    size_multiple = 4

    def __init__(self, ratio: float = 1 / 16, width: int = 16):
        super().__init__([ratio])
        c = self.c_max
        self.config = {"ratio": float(ratio), "width": int(width)}
        self.encoder = nn.Sequential(nn.Conv2d(3, width, 5, 2, 2), nn.PReLU(width), nn.Conv2d(width, c, 5, 2, 2))
        self.decoder = nn.Sequential(nn.ConvTranspose2d(c, width, 5, 2, 2, output_padding=1), nn.PReLU(width),
                                     nn.ConvTranspose2d(width, 3, 5, 2, 2, output_padding=1), nn.Sigmoid())

    def analysis(self, images: torch.Tensor, snr_db: torch.Tensor, ratio: float) -> torch.Tensor:
        return self.encoder(images)

    def synthesis(self, latent: torch.Tensor, snr_db: torch.Tensor, ratio: float) -> torch.Tensor:
        return self.decoder(latent)
