"""DownsampledPNG: shrink the image, store it losslessly as PNG, enlarge it at the receiver.

A crude but honest source codec: its quality index q in 1..16 keeps q/16 of each side, so rate
grows with quality, and semcom's rate control (``fit_to_budget``) finds the largest q that fits a
channel budget like it does for JPEG.
"""

from __future__ import annotations

import io

import numpy as np
import PIL
from PIL import Image

from semcom.codecs.base import SourceCodec


class DownsampledPNG(SourceCodec):
    """PNG of the image shrunk to q/16 of each side (Lanczos), enlarged back with bicubic."""

    name = "halfpng"
    qualities = range(1, 17)

    @property
    def implementation(self) -> str:
        return f"downsampled-png (Pillow {PIL.__version__})"

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        h, w = image.shape[:2]
        size = (max(1, round(w * quality / 16)), max(1, round(h * quality / 16)))
        buf = io.BytesIO()
        Image.fromarray(image, "RGB").resize(size, Image.LANCZOS).save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    def decode_array(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
            return np.asarray(im.convert("RGB").resize((shape[1], shape[0]), Image.BICUBIC))
