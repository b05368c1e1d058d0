"""Downloads with a content check: what weights and datasets fetch from their official sources.

:func:`fetch` writes to a temporary file beside the destination, checks its sha256 and renames it
into place, so an interrupted or corrupted download never leaves a file that looks finished.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from semcom.errors import SemcomError

_VERIFIED: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) for the life of the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _VERIFIED[key] = h.hexdigest()
    return _VERIFIED[key]


def digest_matches(actual: str, expected: str) -> bool:
    """Full sha256 equality, or a prefix match for a digest of 8-63 hex digits (torch.hub style)."""
    expected = expected.lower()
    if len(expected) == 64:
        return actual == expected
    if len(expected) < 8:
        raise ValueError(f"sha256 prefix {expected!r} is too short to check (need at least 8 hex digits)")
    return actual.startswith(expected)


def fetch(url: str, dest: Path, sha256: str | None, what: str, where: str) -> Path:
    """Download ``url`` to ``dest`` (temporary file, sha256 check when ``sha256`` is given, rename).

    ``what`` names the file in errors and ``where`` says where a user may put it by hand instead.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".download-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:
            raise SemcomError(f"{what} is not available offline and downloading {url} failed ({exc}): put it at {where}") from None
        if sha256:
            actual = sha256_of(tmp)
            if not digest_matches(actual, sha256):
                raise SemcomError(f"download of {url} has sha256 {actual[:16]}..., expected {sha256[:16]}...: retry, or put the file at {where}")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
