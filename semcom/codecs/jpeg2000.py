"""JPEG 2000 through Pillow (OpenJPEG): 9/7 wavelet, colour transform on, OpenJPEG rate control.

Why Pillow rather than imagecodecs: both wrap OpenJPEG; Pillow is already the project's image
library, exposes the multiple-component transform (``mct``) and OpenJPEG's own rate allocation
(``quality_mode="rates"``), and reads what it writes. Pillow's default is ``mct=0`` (no RGB->YCbCr
transform), which costs about 2.4 dB: this class always passes ``mct=1``.
"""

from __future__ import annotations

import PIL
from PIL import features

from semcom.codecs.base import PillowCodec

#: Quality index q asks OpenJPEG for BPP_MIN * 2^(q / STEPS_PER_OCTAVE) bits per pixel.
BPP_MIN = 0.02
STEPS_PER_OCTAVE = 32


def target_bpp(quality: int) -> float:
    """Bits per pixel that quality index ``quality`` asks OpenJPEG for (a geometric ladder)."""
    return BPP_MIN * 2.0 ** (int(quality) / STEPS_PER_OCTAVE)


class JPEG2000(PillowCodec):
    """Pillow/OpenJPEG JPEG 2000 codestream (``.j2k``, no JP2 box wrapper).

    The quality index ``q`` in 0..320 is a geometric ladder of target rates, 0.02 bpp to about
    20 bpp in steps of 2^(1/32) (about 2 %); OpenJPEG's rate allocation (``quality_mode="rates"``,
    one quality layer) hits the target from below. Irreversible 9/7 wavelet (the lossy mode),
    ``mct=1``.

    Bits counted: the whole codestream (SOC .. EOC, main header included, about 100 bytes).
    OpenJPEG has a long history of crashes on malformed input: corrupted codestreams are decoded
    in the isolated worker (``isolate = True``).
    """

    name = "jpeg2000"
    format = "JPEG2000"
    qualities = range(0, 321)
    isolate = True

    def __init__(self, irreversible: bool = True, num_resolutions: int = 6):
        self.irreversible = bool(irreversible)
        self.num_resolutions = int(num_resolutions)

    @property
    def implementation(self) -> str:
        return f"pillow-jpeg2000 {PIL.__version__} (openjpeg {features.version('jpg_2000')})"

    @property
    def cache_key(self) -> str:
        return f"{self.implementation} irreversible={self.irreversible} res={self.num_resolutions} mct=1"

    def save_options(self, quality: int) -> dict:
        ratio = 24.0 / target_bpp(quality)  # OpenJPEG's rate = raw size / wanted size
        return {"no_jp2": True, "quality_mode": "rates", "quality_layers": [max(1.0, ratio)],
                "irreversible": self.irreversible, "mct": 1, "num_resolutions": self.num_resolutions}
