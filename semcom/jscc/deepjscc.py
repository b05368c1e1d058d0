"""DeepJSCC (Bourtsoulatze, Kurka, Gunduz, "Deep joint source-channel coding for wireless image
transmission", IEEE TCCN 2019).

The paper's layout: five 5x5 convolutions with PReLU in the encoder (strides 2, 2, 1, 1, 1;
filters 16, 32, 32, 32, c), five 5x5 transposed convolutions in the decoder (filters 32, 32, 32,
16, 3; strides 1, 1, 1, 2, 2), PReLU after each and a sigmoid at the output; no GDN. The
bandwidth ratio is set by the last encoder layer's channel count: c = 96 rho at stride 4
(rho = 1/16 -> c = 6; 1/6 -> c = 16). ``widths`` changes the four hidden widths (paper:
16, 32, 32, 32). Not SNR-adaptive: the SNR inputs are ignored.
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.jscc.base import JSCCModel


def _conv(cin: int, cout: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 5, stride=stride, padding=2)


def _deconv(cin: int, cout: int, stride: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, 5, stride=stride, padding=2, output_padding=stride - 1)


class DeepJSCC(JSCCModel):
    """Bourtsoulatze et al. 2019. Input (N, 3, H, W), H and W padded to multiples of 4."""

    name = "deepjscc"
    stride = 4
    size_multiple = 4
    snr_adaptive = False

    def __init__(self, ratio: float = 1 / 16, widths: tuple[int, ...] = (16, 32, 32, 32)):
        super().__init__([ratio])
        if len(widths) != 4:
            raise ValueError(f"DeepJSCC needs 4 hidden widths, got {widths}")
        w1, w2, w3, w4 = (int(w) for w in widths)
        c = self.c_max
        self.config = {"ratio": float(ratio), "widths": [w1, w2, w3, w4]}
        self.encoder = nn.Sequential(
            _conv(3, w1, 2), nn.PReLU(w1),
            _conv(w1, w2, 2), nn.PReLU(w2),
            _conv(w2, w3, 1), nn.PReLU(w3),
            _conv(w3, w4, 1), nn.PReLU(w4),
            _conv(w4, c, 1), nn.PReLU(c),
        )
        self.decoder = nn.Sequential(
            _deconv(c, w4, 1), nn.PReLU(w4),
            _deconv(w4, w3, 1), nn.PReLU(w3),
            _deconv(w3, w2, 1), nn.PReLU(w2),
            _deconv(w2, w1, 2), nn.PReLU(w1),
            _deconv(w1, 3, 2), nn.Sigmoid(),
        )

    def analysis(self, images: torch.Tensor, snr_db: torch.Tensor, ratio: float) -> torch.Tensor:
        return self.encoder(images)

    def synthesis(self, latent: torch.Tensor, snr_db: torch.Tensor, ratio: float) -> torch.Tensor:
        return self.decoder(latent)
