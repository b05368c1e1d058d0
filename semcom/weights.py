"""Checkpoint resolution: one place that turns a model name into a file or folder.

Order: ``$SEMCOM_WEIGHTS/<path>`` (an air-gapped cluster, or this project's CI with
``../shared/weights``), then the user cache ``$XDG_CACHE_HOME/semcom/weights/<path>`` (default
``~/.cache``), then a download from the official source into the cache with a sha256 check.
Offline with no file, :func:`resolve` raises a one-line :class:`SemcomError` saying which file to
put where. ``python -m semcom.weights`` lists what is installed and what is missing.

Modules register what they need with :func:`register` at import time::

    register(WeightFile(
        name="lpips/alex-lin",                       # the name code asks for
        path="lpips/lin/v0.1/alex.pth",              # relative path under SEMCOM_WEIGHTS and the cache
        sha256="...",                                # expected sha256 of that file (None: not checked)
        url="https://...", url_sha256="...",         # official source (None: no download)
        description="LPIPS v0.1 AlexNet linear layers",
    ))

A file whose sha256 does not match is refused with an error naming the file and both digests.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from semcom.errors import SemcomError


@dataclass(frozen=True)
class WeightFile:
    """A named checkpoint.

    Attributes:
        name: registry name, ``<family>/<variant>``.
        path: relative path of the file (or folder, ``is_dir``) under SEMCOM_WEIGHTS and the cache.
        sha256: expected digest of the file at ``path`` (None: not checked). For folders, not used.
            A prefix of at least 8 hex digits is checked as a prefix (torch.hub's convention, which
            names files ``<name>-<sha256 prefix>.<ext>``; CompressAI's zoo publishes only that).
        url: official download address (None: cannot be downloaded, e.g. not redistributable).
        url_sha256: digest of the downloaded file (defaults to ``sha256``).
        alternatives: other accepted relative paths (e.g. a full state dict instead of a
            features-only one), each checked as ``(path, sha256 or None)``.
        description: one line for listings.
        is_dir: the checkpoint is a folder (e.g. a Hugging Face model directory).
    """

    name: str
    path: str
    sha256: str | None = None
    url: str | None = None
    url_sha256: str | None = None
    alternatives: tuple[tuple[str, str | None], ...] = field(default_factory=tuple)
    description: str = ""
    is_dir: bool = False


REGISTRY: dict[str, WeightFile] = {}
_VERIFIED: dict[tuple[str, int, int], str] = {}


def register(spec: WeightFile) -> WeightFile:
    """Add (or replace) a checkpoint in the registry; returns it."""
    REGISTRY[spec.name] = spec
    return spec


def weights_root() -> Path | None:
    root = os.environ.get("SEMCOM_WEIGHTS")
    return Path(root).expanduser() if root else None


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "semcom" / "weights"


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


def _check(path: Path, expected: str | None, spec: WeightFile) -> Path:
    if expected and not spec.is_dir:
        actual = sha256_of(path)
        if not _digest_matches(actual, expected):
            raise SemcomError(
                f"weights file {path} for {spec.name!r} has sha256 {actual[:16]}..., expected {expected[:16]}...: "
                "the file is corrupt or a different version; replace it"
                + (f" with a fresh download of {spec.url}" if spec.url else "")
            )
    return path


def _digest_matches(actual: str, expected: str) -> bool:
    """Full sha256 equality, or a prefix match for a published prefix of >= 8 hex digits."""
    expected = expected.lower()
    if len(expected) == 64:
        return actual == expected
    return len(expected) >= 8 and actual.startswith(expected)


def _exists(path: Path, spec: WeightFile) -> bool:
    return path.is_dir() if spec.is_dir else path.is_file()


def find(name: str) -> Path | None:
    """The installed file for ``name`` (SEMCOM_WEIGHTS, then cache), checked; None if absent."""
    spec = get_spec(name)
    candidates = [(spec.path, spec.sha256), *spec.alternatives]
    roots = [r for r in (weights_root(), cache_root()) if r is not None]
    for root in roots:
        for rel, digest in candidates:
            p = root / rel
            if _exists(p, spec):
                return _check(p, digest, spec)
    return None


def get_spec(name: str) -> WeightFile:
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "(none registered)"
        raise SemcomError(f"unknown checkpoint {name!r}: known checkpoints are {known}")
    return REGISTRY[name]


def resolve(name: str, download: bool = True) -> Path:
    """Path of the checkpoint ``name``: SEMCOM_WEIGHTS, cache, or downloaded (sha256-checked)."""
    found = find(name)
    if found is not None:
        return found
    spec = get_spec(name)
    where = f"$SEMCOM_WEIGHTS/{spec.path}" if weights_root() else f"{cache_root() / spec.path} (or set SEMCOM_WEIGHTS to a folder holding {spec.path})"
    if not download or spec.url is None or os.environ.get("SEMCOM_OFFLINE") == "1":
        src = f" from {spec.url}" if spec.url else ""
        raise SemcomError(f"checkpoint {name!r} not found: put {Path(spec.path).name}{src} at {where}")
    return _download(spec, where)


def _download(spec: WeightFile, where: str) -> Path:
    dest = cache_root() / spec.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".download-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with urllib.request.urlopen(spec.url, timeout=60) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SemcomError(f"checkpoint {spec.name!r} not found and downloading {spec.url} failed ({exc}): put {Path(spec.path).name} at {where}") from None
    expected = spec.url_sha256 or spec.sha256
    if expected:
        actual = sha256_of(tmp)
        if not _digest_matches(actual, expected):
            tmp.unlink(missing_ok=True)
            raise SemcomError(f"download of {spec.url} has sha256 {actual[:16]}..., expected {expected[:16]}...: retry, or place the file at {where}")
    os.replace(tmp, dest)
    return dest


def status() -> list[dict]:
    """One entry per registered checkpoint: name, path or None, problem (or None), description."""
    _import_registrants()
    rows = []
    for name in sorted(REGISTRY):
        spec = REGISTRY[name]
        try:
            path, problem = find(name), None
        except SemcomError as exc:
            path, problem = None, str(exc)
        rows.append({"name": name, "path": path, "problem": problem, "expected": spec.path, "url": spec.url, "description": spec.description})
    return rows


def _import_registrants() -> None:
    """Import the modules that register checkpoints, so listings are complete."""
    import importlib

    for module in REGISTRANTS:
        try:
            importlib.import_module(module)
        except ImportError:  # optional extra not installed: its checkpoints are not listed
            pass


#: Modules whose import registers checkpoints (optional ones may be missing).
REGISTRANTS: list[str] = ["semcom.metrics", "semcom.codecs.learned_weights"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.weights", description="List installed and missing checkpoints.")
    parser.parse_args(argv)
    rows = status()
    root = weights_root()
    print(f"SEMCOM_WEIGHTS={root if root else '(unset)'}  cache={cache_root()}")
    if not rows:
        print("no checkpoints registered")
        return 0
    width = max(len(r["name"]) for r in rows)
    missing = 0
    for r in rows:
        if r["path"] is not None:
            state = f"ok       {r['path']}"
        elif r["problem"]:
            state = f"BAD      {r['problem']}"
            missing += 1
        else:
            missing += 1
            src = f"  (download: {r['url']})" if r["url"] else "  (no download; copy it from the model's source)"
            state = f"missing  put at <SEMCOM_WEIGHTS>/{r['expected']}{src}"
        print(f"{r['name']:<{width}}  {state}")
    print(f"{len(rows) - missing} installed, {missing} missing")
    return 0


if __name__ == "__main__":
    # run the registry of the importable module (the one other modules register into), not this
    # __main__ copy of it
    from semcom.weights import main as _main

    sys.exit(_main())
