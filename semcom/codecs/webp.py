"""WebP (lossy, VP8) through Pillow (libwebp)."""

from __future__ import annotations

import PIL
from PIL import features

from semcom.codecs.base import PillowCodec


class WebP(PillowCodec):
    """Pillow WebP, lossy, quality 0..100, 4:2:0 (VP8's only colour format).

    Args:
        method: libwebp effort 0 (fast) .. 6 (slowest, smallest). Default 4 is Pillow's default
            and what CompressAI's codec benchmark uses (it passes only ``quality``).

    Bits counted: the whole ``.webp`` file (RIFF and VP8 chunk headers, 20 bytes, included).
    libwebp is fuzzed continuously (OSS-Fuzz), so corrupted files decode in-process.
    """

    name = "webp"
    format = "WEBP"
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

    def save_options(self, quality: int) -> dict:
        return {"quality": quality, "method": self.method, "lossless": False}
