"""WebP (lossy, VP8) through Pillow (libwebp)."""

from __future__ import annotations

import io

import numpy as np
import PIL
from PIL import Image, features

from semcom.codecs.base import DecodeError, SourceCodec


class WebP(SourceCodec):
    """Pillow WebP, lossy, quality 0..100, 4:2:0 (VP8's only colour format).

    Args:
        method: libwebp effort 0 (fast) .. 6 (slowest, smallest). Default 4 is Pillow's default
            and what CompressAI's codec benchmark uses (it passes only ``quality``).

    Bits counted: the whole ``.webp`` file (RIFF and VP8 chunk headers, 20 bytes, included).
    libwebp is fuzzed continuously (OSS-Fuzz), so corrupted files decode in-process.
    """

    name = "webp"
    qualities = range(0, 101)

    def __init__(self, method: int = 4):
        if not 0 <= int(method) <= 6:
            raise ValueError(f"webp method must be 0..6, got {method}")
        self.method = int(method)

    @property
    def implementation(self) -> str:
        return f"pillow-webp {PIL.__version__} (libwebp {features.version('webp')})"

    @property
    def cache_key(self) -> str:
        return f"{self.implementation} method={self.method}"

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(image, "RGB").save(buf, format="WEBP", quality=int(quality), method=self.method, lossless=False)
        return buf.getvalue()

    def decode(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(data), formats=["WEBP"]) as im:
                if im.size != (shape[1], shape[0]):  # refuse before allocating a damaged header's size
                    raise DecodeError(f"webp: header says {im.size[1]}x{im.size[0]}, expected {shape[0]}x{shape[1]}")
                im.load()
                out = np.asarray(im.convert("RGB"))
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"webp: {type(exc).__name__}: {exc}") from None
        if out.shape[:2] != tuple(shape):
            raise DecodeError(f"webp: decoded size {out.shape[:2]} != expected {tuple(shape)}")
        return out
