"""Source codecs and rate control to a bit budget (channel codes: :mod:`semcom.fec`).

``build_codec(name, **params)`` returns a :class:`SourceCodec`; the names are in
:data:`semcom.registry.CODECS`:

========================  =====================================================================
``jpeg``                  Pillow JPEG (libjpeg), 4:2:0
``webp``                  Pillow WebP (libwebp), lossy
``jpeg2000``              Pillow JPEG 2000 (OpenJPEG), 9/7 wavelet, ``mct=1``
``bpg``                   ``bpgenc``/``bpgdec`` when on PATH, else HEVC intra via pillow-heif
``hevc``                  HEVC intra via pillow-heif (x265 / libde265), always
``bmshj2018-factorized``  CompressAI learned codecs (optional extra; see
``bmshj2018-hyperprior``  :mod:`semcom.codecs.learned`), quality index = CompressAI zoo quality
``mbt2018-mean``
``cheng2020-anchor``
========================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping

from semcom.codecs.base import DecodeError, Encoded, SourceCodec
from semcom.codecs.cache import ENCODINGS, EncodingCache
from semcom.codecs.rate import fit_to_budget
from semcom.codecs.bpg import BPG, bpg_codec
from semcom.codecs.hevc import HEVCIntra
from semcom.codecs.jpeg import JPEG
from semcom.codecs.jpeg2000 import JPEG2000
from semcom.codecs.webp import WebP
from semcom.errors import SemcomError
from semcom.registry import CODECS

#: The CompressAI zoo architectures served by :class:`semcom.codecs.learned.CompressAICodec`.
LEARNED_CODECS = tuple(name for name, e in CODECS.entries().items() if e.target.endswith(".CompressAICodec"))


def build_codec(spec: str | Mapping, device=None, **params) -> SourceCodec:
    """The codec named ``spec`` (or a ``{_target_: ..., **params}`` node naming any
    :class:`SourceCodec` subclass) with its keyword ``params``; SemcomError for unknown names or
    bad parameters. ``device`` reaches the codecs whose constructor takes one (the learned ones)."""
    try:
        return CODECS.build(spec, context={} if device is None else {"device": device}, **params)
    except ValueError as exc:  # a codec refusing a parameter value
        raise SemcomError(f"bad parameters for codec {spec!r}: {exc}") from None


__all__ = [
    "BPG",
    "ENCODINGS",
    "DecodeError",
    "Encoded",
    "EncodingCache",
    "HEVCIntra",
    "JPEG",
    "JPEG2000",
    "LEARNED_CODECS",
    "SourceCodec",
    "WebP",
    "bpg_codec",
    "build_codec",
    "fit_to_budget",
]
