"""JPEG through Pillow (libjpeg), baseline, Pillow's default 4:2:0 subsampling."""

from __future__ import annotations

import PIL

from semcom.codecs.base import PillowCodec


class JPEG(PillowCodec):
    """Pillow JPEG at quality 1..95 (Pillow advises against > 95).

    ``optimize=True`` writes optimised Huffman tables (smaller files); the default matches how
    CompressAI's codec benchmark calls Pillow.
    """

    name = "jpeg"
    format = "JPEG"
    qualities = range(1, 96)

    def __init__(self, optimize: bool = False, subsampling: int | None = None):
        self.optimize = bool(optimize)
        self.subsampling = subsampling

    @property
    def implementation(self) -> str:
        return f"pillow-jpeg {PIL.__version__}"

    @property
    def cache_key(self) -> str:
        return f"{self.implementation} optimize={self.optimize} subsampling={self.subsampling}"

    def save_options(self, quality: int) -> dict:
        options = {"quality": quality, "optimize": self.optimize}
        if self.subsampling is not None:
            options["subsampling"] = self.subsampling
        return options
