"""BPG through Fabrice Bellard's ``bpgenc``/``bpgdec`` when they are on PATH.

Called as CompressAI's codec benchmark calls them: ``bpgenc -o out.bpg -q QP -f 444 -e x265
-c ycbcr -b 8 in.png`` and ``bpgdec -o out.png in.bpg``. The quality index is ``51 - QP`` (0..51,
higher is better) so that rate grows with it. Bits counted: the whole ``.bpg`` file (BPG's header
is a few bytes plus compactly coded parameter sets).

No BPG encoder is packaged for PyPI, Debian or npm; without the binaries, :func:`bpg_codec` (the
``bpg`` codec name) returns HEVC intra through pillow-heif (:mod:`semcom.codecs.hevc`) instead,
and result rows say which one ran (``codec`` column: ``bpg ...`` or ``hevc-intra ...``).

Both programs run as child processes with a time limit, so a corrupted file cannot crash or hang
the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import numpy as np
from PIL import Image

from semcom.codecs.base import DecodeError, SourceCodec
from semcom.codecs.hevc import HEVCIntra


class BPG(SourceCodec):
    """``bpgenc``/``bpgdec`` (4:4:4, x265, YCbCr, 8 bits), quality index 0..51 = 51 - QP."""

    name = "bpg"
    qualities = range(0, 52)

    def __init__(self, encoder: str = "bpgenc", decoder: str = "bpgdec", chroma: int = 444, timeout_s: float = 120.0):
        self.encoder_path = shutil.which(encoder)
        self.decoder_path = shutil.which(decoder)
        if self.encoder_path is None or self.decoder_path is None:
            raise FileNotFoundError(f"{encoder} and {decoder} must be on PATH")
        if int(chroma) not in (420, 444):
            raise ValueError(f"chroma must be 420 or 444, got {chroma}")
        self.chroma = int(chroma)
        self.timeout_s = float(timeout_s)
        self.decode_timeout_s = float(timeout_s)

    @property
    def implementation(self) -> str:
        return f"bpg ({os.path.basename(self.encoder_path)}, x265, {self.chroma})"

    @property
    def cache_key(self) -> str:
        return f"{self.implementation} {self.encoder_path}"

    def encode_command(self, png: str, out: str, quality: int) -> list[str]:
        qp = 51 - int(quality)
        if not 0 <= qp <= 51:
            raise ValueError(f"bpg quality index must be 0..51, got {quality}")
        return [self.encoder_path, "-o", out, "-q", str(qp), "-f", str(self.chroma), "-e", "x265", "-c", "ycbcr", "-b", "8", png]

    def decode_command(self, bpg: str, out: str) -> list[str]:
        return [self.decoder_path, "-o", out, bpg]

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        with tempfile.TemporaryDirectory(prefix="semcom-bpg-") as tmp:
            png, out = os.path.join(tmp, "in.png"), os.path.join(tmp, "out.bpg")
            Image.fromarray(image, "RGB").save(png)
            subprocess.run(self.encode_command(png, out, quality), check=True, capture_output=True, timeout=self.timeout_s)
            with open(out, "rb") as f:
                return f.read()

    def decode_array(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="semcom-bpg-") as tmp:
            src, png = os.path.join(tmp, "in.bpg"), os.path.join(tmp, "out.png")
            with open(src, "wb") as f:
                f.write(data)
            try:
                subprocess.run(self.decode_command(src, png), check=True, capture_output=True, timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                raise DecodeError(f"bpg: bpgdec did not finish within {self.timeout_s:g} s") from None
            except (subprocess.CalledProcessError, OSError) as exc:
                raise DecodeError(f"bpg: bpgdec failed: {exc}") from None
            with Image.open(png) as im:
                return np.asarray(im.convert("RGB"))

    def decode_untrusted(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        # bpgdec already runs in its own process with a time limit
        return self.decode(data, shape)


def bpg_available(encoder: str = "bpgenc", decoder: str = "bpgdec") -> bool:
    return shutil.which(encoder) is not None and shutil.which(decoder) is not None


def bpg_codec(chroma: int = 444, encoder: str = "bpgenc", decoder: str = "bpgdec", psy: bool = False,
              header: str = "payload") -> SourceCodec:
    """Real BPG when ``bpgenc``/``bpgdec`` are on PATH, else HEVC intra through pillow-heif.

    ``psy`` and ``header`` apply to the pillow-heif fallback only (:class:`HEVCIntra`).
    """
    if bpg_available(encoder, decoder):
        return BPG(encoder, decoder, chroma=chroma)
    return HEVCIntra(chroma=chroma, psy=psy, header=header)
