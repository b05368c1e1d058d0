"""JPEG through Pillow (libjpeg), baseline, Pillow's default 4:2:0 subsampling."""

from __future__ import annotations

import io

import numpy as np
import PIL
from PIL import Image

from semcom.codecs.base import DecodeError, SourceCodec


class JPEG(SourceCodec):
    """Pillow JPEG at quality 1..95 (Pillow advises against > 95).

    ``optimize=True`` writes optimised Huffman tables (smaller files); the default matches how
    CompressAI's codec benchmark calls Pillow.
    """

    name = "jpeg"
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

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        buf = io.BytesIO()
        kwargs = {"quality": int(quality), "optimize": self.optimize}
        if self.subsampling is not None:
            kwargs["subsampling"] = self.subsampling
        Image.fromarray(image, "RGB").save(buf, format="JPEG", **kwargs)
        return buf.getvalue()

    def decode(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.size != (shape[1], shape[0]):  # refuse before allocating a damaged header's size
                    raise DecodeError(f"jpeg: header says {im.size[1]}x{im.size[0]}, expected {shape[0]}x{shape[1]}")
                im.load()
                out = np.asarray(im.convert("RGB"))
        except DecodeError:
            raise
        except Exception as exc:  # Pillow raises many types on corrupt data
            raise DecodeError(f"jpeg: {type(exc).__name__}: {exc}") from None
        if out.shape[:2] != tuple(shape):
            raise DecodeError(f"jpeg: decoded size {out.shape[:2]} != expected {tuple(shape)}")
        return out
