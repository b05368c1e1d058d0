"""Source codec interface and rate control to a bit budget.

A :class:`SourceCodec` turns an 8-bit RGB image (H, W, 3) uint8 into bytes at an integer
quality parameter (higher quality, more bits) and back. :func:`fit_to_budget` finds, per image,
the highest quality whose bitstream fits a budget in bits, by binary search over the quality
parameter; every (image, quality) encoding is cached (:class:`EncodingCache`), so a sweep over
SNR points reuses the same image's rate-quality ladder instead of re-encoding it.

Bits counted are what a receiver needs to decode, under each codec's stated header policy
(JPEG, WebP, JPEG2000: the whole file or codestream; HEVC intra: see :mod:`semcom.codecs.hevc`).

Decoding a bitstream that arrived with errors (``fallback=corrupt``) goes through
:meth:`SourceCodec.decode_untrusted`: codecs whose decoder library can crash or hang on corrupt
input (``isolate = True``) decode it in a separate worker process with a time limit
(:mod:`semcom.codecs.isolation`); error-free bitstreams always decode in-process (the fast path).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DecodeError(Exception):
    """The bitstream could not be decoded into an image of the expected size."""


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
        """Decode to (H, W, 3) uint8; raise :class:`DecodeError` if that is impossible."""
        raise NotImplementedError

    def decode_untrusted(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        """Decode a bitstream that may be corrupt; never crashes or hangs the caller.

        In-process for codecs whose decoder is robust to corrupt input (``isolate`` False);
        otherwise in the shared worker process, killed after ``decode_timeout_s`` seconds. Any
        failure (exception, crash, timeout, wrong size) raises :class:`DecodeError`.
        """
        if not self.isolate:
            try:
                return self.decode(data, shape)
            except DecodeError:
                raise
            except Exception as exc:  # a library raising something unexpected on garbage
                raise DecodeError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        from semcom.codecs.isolation import isolated_decode

        return isolated_decode(self, data, shape, self.decode_timeout_s)


def image_digest(image: np.ndarray) -> str:
    """Content hash of an image array (shape and bytes)."""
    h = hashlib.sha1(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


class EncodingCache:
    """LRU cache of encodings keyed by (codec settings, image content, quality).

    Args:
        max_entries: encodings kept in memory.
        disk_dir: optional folder where every encoding is also stored (one file per key), so
            that separate processes (the jobs of a sweep, a resumed run) reuse slow encodings
            such as HEVC intra. The process-wide :data:`ENCODINGS` uses ``$SEMCOM_ENCODING_CACHE``
            when that variable is set.
    """

    def __init__(self, max_entries: int = 20000, disk_dir: str | os.PathLike | None = None):
        self.max_entries = max_entries
        self.disk_dir = Path(disk_dir).expanduser() if disk_dir else None
        self.pinned = self.disk_dir is not None  # a folder given here wins over follow_store
        self._store: OrderedDict[tuple, bytes] = OrderedDict()
        self._sizes: dict[tuple[str, str], dict[int, int]] = {}
        self.hits = 0
        self.misses = 0

    def follow_store(self, folder: str | os.PathLike) -> None:
        """Keep encodings on disk under ``folder`` (the runner passes ``<result store>/encodings``,
        so the jobs of a sweep and a resumed run share them), unless a ``disk_dir`` was given at
        construction (``$SEMCOM_ENCODING_CACHE`` for :data:`ENCODINGS`), which stays in use."""
        if not self.pinned:
            self.disk_dir = Path(folder)

    def known_sizes(self, codec: SourceCodec, digest: str) -> dict[int, int]:
        """Bits of every encoding of the image ``digest`` seen so far, by quality (its ladder)."""
        return self._sizes.get((codec.cache_key, digest), {})

    def _disk_path(self, key: tuple) -> Path | None:
        if self.disk_dir is None:
            return None
        name = hashlib.sha1(repr(key).encode()).hexdigest()
        return self.disk_dir / name[:2] / f"{name}.bin"

    def encode(self, codec: SourceCodec, image: np.ndarray, quality: int, digest: str | None = None) -> Encoded:
        key = (codec.cache_key, digest or image_digest(image), int(quality))
        data = self._store.get(key)
        if data is None:
            path = self._disk_path(key)
            if path is not None and path.is_file():
                data = path.read_bytes()
                self.hits += 1
            else:
                self.misses += 1
                data = codec.encode(image, int(quality))
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{os.getpid()}.tmp")
                    tmp.write_bytes(data)
                    os.replace(tmp, path)
            self._store[key] = data
            if len(self._store) > self.max_entries:
                self._store.popitem(last=False)
        else:
            self.hits += 1
            self._store.move_to_end(key)
        self._sizes.setdefault(key[:2], {})[int(quality)] = 8 * len(data)
        return Encoded(int(quality), data)

    def clear(self) -> None:
        """Forget the in-memory entries (files under ``disk_dir`` stay)."""
        self._store.clear()
        self._sizes.clear()
        self.hits = self.misses = 0


#: Process-wide cache shared by all pipelines (jobs of one Hydra multirun share it too).
ENCODINGS = EncodingCache(disk_dir=os.environ.get("SEMCOM_ENCODING_CACHE") or None)


def fit_to_budget(
    codec: SourceCodec, image: np.ndarray, max_bits: float, cache: EncodingCache = ENCODINGS
) -> Encoded | None:
    """Highest-quality encoding of ``image`` with at most ``max_bits`` bits, or None if none fits.

    A bracketing search over ``codec.qualities`` assuming size grows with quality (true for the
    codecs here up to rare one-step wiggles; the result always fits the budget). The search starts
    from the bracket that the image's cached ladder already gives (the largest known quality that
    fits, the smallest known one that does not), so a sweep over many budgets encodes each image
    only a few more times per new budget. Inside a bracket it probes where log(bits), interpolated
    linearly in quality index between the bracket's ends, meets the budget (rate grows about
    exponentially with quality index for these codecs), falling back to the midpoint after a probe
    that did not halve the bracket: about 3 encodings per new budget instead of bisection's
    log2(qualities) (6 for BPG's 52, 9 for JPEG 2000's 321), the same result on a monotone ladder.
    A bracket with no upper end is opened in the middle of the range before the top quality (the
    costliest encoding, rarely within a channel budget).
    """
    qs = list(codec.qualities)
    index = {q: i for i, q in enumerate(qs)}
    digest = image_digest(image)
    known = cache.known_sizes(codec, digest)
    over = [index[q] for q, bits in known.items() if q in index and bits > max_bits]
    hi = min(over) if over else None
    fits = [index[q] for q, bits in known.items() if q in index and bits <= max_bits and (hi is None or index[q] < hi)]
    lo = max(fits) if fits else None
    # invariant once both are set: qs[lo] fits, qs[hi] does not
    if lo is None:
        if hi == 0:
            return None
        if cache.encode(codec, image, qs[0], digest).bits > max_bits:
            return None
        lo = 0
    if hi is None and lo < len(qs) // 2:
        # probe the middle of the range before the top: the top quality is the costliest encoding
        # (HEVC at 512 x 768: 4 CPU s at the top, 1.9 in the middle) and budgets rarely reach it
        mid = (lo + len(qs) - 1) // 2
        if cache.encode(codec, image, qs[mid], digest).bits <= max_bits:
            lo = mid
        else:
            hi = mid
    if hi is None:
        top = cache.encode(codec, image, qs[-1], digest)
        if top.bits <= max_bits:
            return top
        hi = len(qs) - 1
    interpolate = True
    while hi - lo > 1:
        width = hi - lo
        sizes = cache.known_sizes(codec, digest)
        mid = _probe(lo, hi, sizes.get(qs[lo]), sizes.get(qs[hi]), max_bits) if interpolate else (lo + hi) // 2
        if cache.encode(codec, image, qs[mid], digest).bits <= max_bits:
            lo = mid
        else:
            hi = mid
        interpolate = not interpolate or 2 * (hi - lo) <= width  # a probe that did not halve: bisect next
    return cache.encode(codec, image, qs[lo], digest)


def _probe(lo: int, hi: int, bits_lo: int | None, bits_hi: int | None, max_bits: float) -> int:
    """Quality index in (lo, hi) where log(bits) interpolated between the bracket ends meets
    ``max_bits``; the midpoint when the sizes are unknown or not increasing."""
    if not bits_lo or not bits_hi or bits_hi <= bits_lo or max_bits <= 0:
        return (lo + hi) // 2
    frac = (math.log(max_bits) - math.log(bits_lo)) / (math.log(bits_hi) - math.log(bits_lo))
    return min(max(lo + int(frac * (hi - lo)), lo + 1), hi - 1)
