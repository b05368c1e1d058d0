"""The encoding cache: every (codec settings, image content, quality) encoding, kept in memory and
optionally on disk, so a sweep over SNR points and the jobs of a sweep reuse an image's
rate-quality ladder instead of encoding it again.

The runner hands each job the cache of its result store (:func:`store_cache`: encodings on disk
under ``<store>/encodings``, one object per folder in a process, so the jobs a multirun worker
runs one after another also share the in-memory entries). :data:`ENCODINGS` is the process-wide
default for direct use of the codecs; ``$SEMCOM_ENCODING_CACHE`` pins the folder of both.

Every file on disk holds a header with the sha256 of its payload (:data:`MAGIC`, then the hex
digest, then the payload). An entry whose digest does not match (a flipped bit, a file cut
short), that cannot be read, or that was written without the header is encoded again and
rewritten, with one warning naming the cache file: a damaged cache never reaches a decoder.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from semcom.codecs.base import Encoded, SourceCodec, image_digest

log = logging.getLogger(__name__)

#: First bytes of a cache file; the sha256 of the payload (64 hex digits) and a newline follow.
MAGIC = b"semcom-encoding 1 sha256 "
_HEADER = len(MAGIC) + 64 + 1


def pack(data: bytes) -> bytes:
    """A cache file's bytes: header with the payload's sha256, then the payload."""
    return MAGIC + hashlib.sha256(data).hexdigest().encode() + b"\n" + data


def unpack(blob: bytes) -> tuple[bytes | None, str]:
    """(payload, "") for an intact cache file, else (None, what is wrong)."""
    if not blob:
        return None, "empty file"
    if not blob.startswith(MAGIC) or len(blob) < _HEADER or blob[_HEADER - 1 : _HEADER] != b"\n":
        return None, "no digest header (damaged, or written by an older semcom)"
    data = blob[_HEADER:]
    if hashlib.sha256(data).hexdigest().encode() != blob[len(MAGIC) : _HEADER - 1]:
        return None, "sha256 of the payload does not match (damaged or cut short)"
    return data, ""


class EncodingCache:
    """LRU cache of encodings keyed by (codec settings, image content, quality).

    Args:
        max_entries: encodings kept in memory.
        disk_dir: optional folder where every encoding is also stored (one file per key), so
            that separate processes (the jobs of a sweep, a resumed run) reuse slow encodings
            such as HEVC intra.
    """

    def __init__(self, max_entries: int = 20000, disk_dir: str | os.PathLike | None = None):
        self.max_entries = max_entries
        self.disk_dir = Path(disk_dir).expanduser() if disk_dir else None
        self._store: OrderedDict[tuple, bytes] = OrderedDict()
        self._sizes: dict[tuple[str, str], dict[int, int]] = {}
        self.hits = 0
        self.misses = 0
        #: damaged disk entries met (each encoded again and rewritten)
        self.corrupt = 0
        self._legacy_warned = False

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
                data = self._read(path)
            if data is not None:
                self.hits += 1
            else:
                self.misses += 1
                data = codec.encode(image, int(quality))
                if path is not None:
                    self._write(path, data)
            self._store[key] = data
            if len(self._store) > self.max_entries:
                self._store.popitem(last=False)
        else:
            self.hits += 1
            self._store.move_to_end(key)
        self._sizes.setdefault(key[:2], {})[int(quality)] = 8 * len(data)
        return Encoded(int(quality), data)

    def _read(self, path: Path) -> bytes | None:
        """The payload of a cache file, or None (with one warning naming it) when it is damaged."""
        try:
            data, why = unpack(path.read_bytes())
        except FileNotFoundError:
            return None
        except OSError as exc:
            data, why = None, f"unreadable ({type(exc).__name__}: {exc})"
        if data is None:
            self.corrupt += 1
            if why.startswith("no digest header"):  # most likely a cache of an older semcom: say so once, not per file
                if not self._legacy_warned:
                    self._legacy_warned = True
                    log.warning("encoding cache entry %s has no sha256 header (written by an older semcom, or damaged): "
                                "encoding again and rewriting it and any other such entry in %s", path, self.disk_dir)
            else:
                log.warning("encoding cache entry %s is damaged (%s): encoding the image again and rewriting the entry", path, why)
        return data

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pack(data))
            os.replace(tmp, path)
        except OSError as exc:  # a full or read-only disk: the in-memory entry still serves this process
            log.warning("cannot write encoding cache entry %s (%s): the encoding is kept in memory only", path, exc)

    def clear(self) -> None:
        """Forget the in-memory entries (files under ``disk_dir`` stay)."""
        self._store.clear()
        self._sizes.clear()
        self.hits = self.misses = 0


#: Process-wide cache shared by all pipelines (jobs of one Hydra multirun share it too).
ENCODINGS = EncodingCache(disk_dir=os.environ.get("SEMCOM_ENCODING_CACHE") or None)

_BY_FOLDER: dict[str, EncodingCache] = {}


def store_cache(folder: str | os.PathLike) -> EncodingCache:
    """The cache of a result store: encodings on disk under ``folder`` (``<store>/encodings``), or
    under ``$SEMCOM_ENCODING_CACHE`` when that is set (it wins, as for :data:`ENCODINGS`). One
    object per folder in a process, so consecutive jobs of a multirun worker share memory too."""
    pinned = os.environ.get("SEMCOM_ENCODING_CACHE")
    key = str(Path(pinned or folder).expanduser().resolve())
    if key not in _BY_FOLDER:
        _BY_FOLDER[key] = ENCODINGS if pinned and ENCODINGS.disk_dir is not None else EncodingCache(disk_dir=key)
    return _BY_FOLDER[key]
