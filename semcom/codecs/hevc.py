"""HEVC intra through pillow-heif (x265 encoder, libde265 decoder): BPG's coding core.

BPG is one HEVC intra frame in a small custom header. No BPG encoder is packaged for PyPI,
Debian or npm, so when ``bpgenc``/``bpgdec`` are not on PATH (:mod:`semcom.codecs.bpg`) the
``bpg`` codec falls back to this class, and every result row names it: ``codec`` =
``hevc-intra (pillow-heif 1.8.1, libheif 1.23.6, x265)``.

Settings that make it match BPG (measured on Kodak, docs/validation/codecs.md): 4:4:4 chroma, 8 bits,
and x265's psycho-visual rate-distortion tuning off (``psy-rd=0``, ``psy-rdoq=0``; it trades PSNR
for perceived sharpness and costs 0.6-0.8 dB of PSNR against BPG).

Header policy (``header``):

* ``"payload"`` (default): the bits a receiver needs are the HEVC payload only, the hvcC decoder
  configuration record (VPS, SPS, PPS) followed by the coded slice NAL units with their 4-byte
  length prefixes (:mod:`semcom.codecs.heif`). The HEIF boxes around it (about 270 bytes) are a
  function of the image size and the codec settings, which the receiver knows, so it rebuilds
  them; nothing else is sent (both parts delimit themselves). This is close to BPG's own
  accounting (its header codes the size and a compact copy of the parameter sets).
* ``"heif"``: the whole HEIF file as libheif writes it.

libde265 decodes corrupted payloads in the isolated worker (``isolate = True``).
"""

from __future__ import annotations

import io
import os
from functools import cached_property

import numpy as np
import pillow_heif
from PIL import Image

from semcom.codecs.base import DecodeError, SourceCodec
from semcom.codecs.heif import HeifFormatError, heif_payload, rebuild_heif

HEADER_POLICIES = ("payload", "heif")


def x265_threads() -> dict[str, str]:
    """``{"x265:pools": N}`` from ``$OMP_NUM_THREADS`` (a positive integer), else ``{}`` (x265's default: all cores)."""
    n = os.environ.get("OMP_NUM_THREADS", "")
    return {"x265:pools": n} if n.isdigit() and int(n) > 0 else {}


class HEVCIntra(SourceCodec):
    """One HEVC intra frame via pillow-heif, libheif's x265 quality scale.

    libheif turns quality q into an x265 quantiser in steps of two quality points (q = 2k - 1
    and 2k give the same stream) and nothing changes above 96, so the rate ladder is the even
    qualities 0, 2, ..., 96: 49 distinct encodings, each encoded once.

    Args:
        chroma: ``444`` (default, as BPG in CompressAI's benchmark) or ``420``.
        psy: keep x265's psycho-visual tuning (default False: ``psy-rd=0``, ``psy-rdoq=0``).
        header: ``payload`` (default) or ``heif``; see the module docstring.
    """

    name = "hevc"
    qualities = range(0, 97, 2)
    isolate = True

    def __init__(self, chroma: int = 444, psy: bool = False, header: str = "payload"):
        if int(chroma) not in (420, 422, 444):
            raise ValueError(f"chroma must be 420, 422 or 444, got {chroma}")
        if header not in HEADER_POLICIES:
            raise ValueError(f"header must be one of {HEADER_POLICIES}, got {header!r}")
        self.chroma = int(chroma)
        self.psy = bool(psy)
        self.header = header

    @property
    def implementation(self) -> str:
        return f"hevc-intra (pillow-heif {pillow_heif.__version__}, libheif {pillow_heif.libheif_version()}, x265)"

    @property
    def cache_key(self) -> str:
        return f"{self.implementation} chroma={self.chroma} psy={self.psy} header={self.header}"

    @property
    def enc_params(self) -> dict[str, str]:
        return {} if self.psy else {"x265:psy-rd": "0", "x265:psy-rdoq": "0"}

    def __getstate__(self):  # the cached reference containers are rebuilt where needed
        state = dict(self.__dict__)
        state.pop("_reference", None)
        state.pop("_references", None)
        return state

    def heif_file(self, image: np.ndarray, quality: int) -> bytes:
        """The HEIF file libheif writes for ``image`` (H, W, 3) uint8 at ``quality``.

        x265's thread pool follows ``$OMP_NUM_THREADS`` when it is set (joblib's loky workers set
        it to cores / jobs, so parallel jobs do not oversubscribe the cores: one thread costs 11 %
        less CPU per encoding than two); the bytes do not depend on it (tested)."""
        buf = io.BytesIO()
        heif = pillow_heif.from_pillow(Image.fromarray(image, "RGB"))
        heif.save(buf, quality=int(quality), chroma=self.chroma, enc_params={**self.enc_params, **x265_threads()})
        return buf.getvalue()

    @cached_property
    def _reference(self) -> bytes:
        """The container both sides derive from the settings: a 64x64 grey image's file."""
        return self.heif_file(np.full((64, 64, 3), 128, np.uint8), 50)

    def reference_for(self, shape: tuple[int, int]) -> bytes:
        """The container for an H x W image: a grey H x W image's file (cached per size).

        libheif codes a size that suits HEVC (at least 64 and a multiple of 4, e.g. 84 x 64 for
        83 x 61), records that in ``ispe`` and crops it with a clean-aperture ``clap`` box, so
        the container depends on the exact size, which the receiver knows.
        """
        h, w = int(shape[0]), int(shape[1])
        refs = self.__dict__.setdefault("_references", {})
        if (h, w) not in refs:
            refs[(h, w)] = self.heif_file(np.full((h, w, 3), 128, np.uint8), 50)
        return refs[(h, w)]

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        data = self.heif_file(image, quality)
        return heif_payload(data) if self.header == "payload" else data

    def to_heif(self, data: bytes, shape: tuple[int, int]) -> bytes:
        """The HEIF file a receiver decodes for received ``data`` (H, W = ``shape``)."""
        if self.header == "heif":
            return data
        try:
            return rebuild_heif(self.reference_for(shape), data)
        except (HeifFormatError, IndexError, ValueError) as exc:
            raise DecodeError(f"hevc: cannot parse the payload: {exc}") from None

    def decode_array(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        heif = self.to_heif(data, shape)
        return np.asarray(pillow_heif.open_heif(heif, convert_hdr_to_8bit=True).to_pillow().convert("RGB"))
