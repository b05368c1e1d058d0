"""Source codecs, 5G channel codes (LDPC, polar) and rate control to a bit budget.

``build_codec(name, **params)`` returns a :class:`SourceCodec`; ``SOURCE_CODECS`` maps names to
factories:

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

from collections.abc import Callable

from semcom.codecs.base import ENCODINGS, DecodeError, Encoded, EncodingCache, SourceCodec, fit_to_budget
from semcom.codecs.bpg import BPG, bpg_codec
from semcom.codecs.hevc import HEVCIntra
from semcom.codecs.jpeg import JPEG
from semcom.codecs.jpeg2000 import JPEG2000
from semcom.codecs.webp import WebP
from semcom.errors import SemcomError

#: The CompressAI zoo architectures served by :class:`semcom.codecs.learned.CompressAICodec`.
LEARNED_CODECS = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "cheng2020-anchor")


def _learned(architecture: str) -> Callable[..., SourceCodec]:
    def make(**params) -> SourceCodec:
        from semcom.codecs.learned import CompressAICodec  # imports torch and compressai

        return CompressAICodec(architecture, **params)

    make.__name__ = f"learned_{architecture}"
    return make


SOURCE_CODECS: dict[str, Callable[..., SourceCodec]] = {
    "jpeg": JPEG,
    "webp": WebP,
    "jpeg2000": JPEG2000,
    "bpg": bpg_codec,
    "hevc": HEVCIntra,
    **{arch: _learned(arch) for arch in LEARNED_CODECS},
}


def build_codec(name: str, device=None, **params) -> SourceCodec:
    """The codec ``name`` with its keyword ``params``; SemcomError for unknown names/parameters.

    ``device`` reaches the codecs that compute with torch (the learned ones) and no others.
    """
    if name not in SOURCE_CODECS:
        raise SemcomError(f"unknown codec {name!r}: choose one of {', '.join(sorted(SOURCE_CODECS))}")
    if name in LEARNED_CODECS and device is not None:
        params = {**params, "device": device}
    try:
        return SOURCE_CODECS[name](**params)
    except (TypeError, ValueError) as exc:
        raise SemcomError(f"bad parameters for codec {name!r}: {exc}") from None


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
    "SOURCE_CODECS",
    "SourceCodec",
    "WebP",
    "bpg_codec",
    "build_codec",
    "fit_to_budget",
]
