"""Source codec interface.

A :class:`SourceCodec` turns an 8-bit RGB image (H, W, 3) uint8 into bytes at an integer
quality parameter (higher quality, more bits) and back. Rate control to a bit budget is
:func:`semcom.codecs.rate.fit_to_budget`; encodings are cached by :mod:`semcom.codecs.cache`.

Bits counted are what a receiver needs to decode, under each codec's stated header policy
(JPEG, WebP, JPEG2000: the whole file or codestream; HEVC intra: see :mod:`semcom.codecs.hevc`).

Decoding a bitstream that arrived with errors (``fallback=corrupt``) goes through
:meth:`SourceCodec.decode_untrusted`: codecs whose decoder library can crash or hang on corrupt
input (``isolate = True``) decode it in a separate worker process with a time limit
(:mod:`semcom.codecs.isolation`); error-free bitstreams always decode in-process (the fast path).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from semcom.errors import DecodeError


@dataclass(frozen=True)
class Encoded:
    """One encoding of one image: the quality parameter used and the bytes a receiver needs."""

    quality: int
    data: bytes

    @property
    def bits(self) -> int:
        return 8 * len(self.data)


class SourceCodec:
    """Base class: one small subclass per codec.

    Attributes:
        name: short name used in pipeline names and result rows (``jpeg``).
        qualities: the quality parameter's search range, in order of increasing rate.
    """

    name: str = "codec"
    qualities: range = range(1, 101)
    #: Decode corrupted bitstreams in a worker process with a time limit (crash/hang isolation).
    isolate: bool = False
    #: Seconds one isolated decode may take before the worker is killed.
    decode_timeout_s: float = 20.0

    @property
    def implementation(self) -> str:
        """Library and version that produced the bitstream (recorded in result rows)."""
        return self.name

    @property
    def cache_key(self) -> str:
        """Identifies the codec and its settings in the encoding cache."""
        return self.implementation

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        """Encode ``image`` (H, W, 3) uint8 at ``quality``."""
        raise NotImplementedError

    def decode(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        """Decode to (H, W, 3) uint8 of size ``shape``; :class:`DecodeError` if that is impossible.

        Calls :meth:`decode_array`; any exception it raises becomes a DecodeError naming the codec,
        and an image of another size is refused.
        """
        try:
            out = self.decode_array(data, shape)
        except DecodeError:
            raise
        except Exception as exc:  # libraries raise many types on corrupt data
            raise DecodeError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        out = np.asarray(out)
        if out.shape != (int(shape[0]), int(shape[1]), 3) or out.dtype != np.uint8:
            raise DecodeError(f"{self.name}: decoded {out.shape} {out.dtype}, expected ({shape[0]}, {shape[1]}, 3) uint8")
        return out

    def decode_array(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        """What a subclass implements: the bytes decoded to (H, W, 3) uint8 (may raise anything)."""
        raise NotImplementedError

    def decode_untrusted(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        """Decode a bitstream that may be corrupt; never crashes or hangs the caller.

        In-process for codecs whose decoder is robust to corrupt input (``isolate`` False);
        otherwise in the shared worker process, killed after ``decode_timeout_s`` seconds. Any
        failure (exception, crash, timeout, wrong size) raises :class:`DecodeError`.
        """
        if not self.isolate:
            return self.decode(data, shape)
        from semcom.codecs.isolation import isolated_decode

        return isolated_decode(self, data, shape, self.decode_timeout_s)


class PillowCodec(SourceCodec):
    """A codec that Pillow writes and reads (JPEG, WebP, JPEG 2000): subclasses give the Pillow
    ``format`` and :meth:`save_options`. Decoding refuses a header of another size before the
    pixels are allocated (a damaged header can claim any size)."""

    format: str = ""

    def save_options(self, quality: int) -> dict:
        """Keyword arguments of ``Image.save`` for ``quality``."""
        raise NotImplementedError

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(image, "RGB").save(buf, format=self.format, **self.save_options(int(quality)))
        return buf.getvalue()

    def decode_array(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        with Image.open(io.BytesIO(data), formats=[self.format]) as im:
            if im.size != (shape[1], shape[0]):
                raise DecodeError(f"{self.name}: header says {im.size[1]}x{im.size[0]}, expected {shape[0]}x{shape[1]}")
            im.load()
            return np.asarray(im.convert("RGB"))


def image_digest(image: np.ndarray) -> str:
    """Content hash of an image array (shape and bytes)."""
    h = hashlib.sha1(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


__all__ = ["DecodeError", "Encoded", "PillowCodec", "SourceCodec", "image_digest"]
