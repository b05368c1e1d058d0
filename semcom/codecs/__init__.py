"""Source codecs (JPEG, ...), 5G LDPC code blocks, and rate control to a bit budget.

``build_codec(name, **params)`` returns a :class:`SourceCodec`; ``SOURCE_CODECS`` maps names to
classes.
"""

from __future__ import annotations

from semcom.codecs.base import ENCODINGS, DecodeError, Encoded, SourceCodec, fit_to_budget
from semcom.codecs.jpeg import JPEG
from semcom.errors import SemcomError

SOURCE_CODECS: dict[str, type[SourceCodec]] = {
    "jpeg": JPEG,
}


def build_codec(name: str, **params) -> SourceCodec:
    if name not in SOURCE_CODECS:
        raise SemcomError(f"unknown codec {name!r}: choose one of {', '.join(sorted(SOURCE_CODECS))}")
    return SOURCE_CODECS[name](**params)


__all__ = ["ENCODINGS", "DecodeError", "Encoded", "JPEG", "SOURCE_CODECS", "SourceCodec", "build_codec", "fit_to_budget"]
