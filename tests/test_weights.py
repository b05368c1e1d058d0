"""Checkpoint resolver: SEMCOM_WEIGHTS, cache, download with sha256, clear errors."""

from __future__ import annotations

import hashlib

import pytest

from semcom import weights
from semcom.errors import SemcomError
from semcom.weights import WeightFile, register, resolve


@pytest.fixture()
def dirs(tmp_path, monkeypatch):
    w, c = tmp_path / "w", tmp_path / "cache"
    w.mkdir()
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(w))
    monkeypatch.setenv("XDG_CACHE_HOME", str(c))
    yield w, c
    for name in [n for n in weights.REGISTRY if n.startswith("test/")]:
        del weights.REGISTRY[name]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_resolve_from_semcom_weights_checks_sha(dirs):
    w, _ = dirs
    (w / "fam").mkdir()
    (w / "fam" / "a.bin").write_bytes(b"hello")
    register(WeightFile("test/a", "fam/a.bin", sha256=_sha(b"hello")))
    assert resolve("test/a") == w / "fam" / "a.bin"
    register(WeightFile("test/b", "fam/a.bin", sha256=_sha(b"other")))
    with pytest.raises(SemcomError, match="sha256"):
        resolve("test/b")


def test_missing_offline_says_where(dirs, monkeypatch):
    register(WeightFile("test/c", "fam/c.bin", url=None))
    with pytest.raises(SemcomError, match=r"put c.bin at \$SEMCOM_WEIGHTS/fam/c.bin"):
        resolve("test/c")
    with pytest.raises(SemcomError, match="unknown checkpoint"):
        resolve("test/nothing")


def test_download_into_cache_with_sha(dirs, tmp_path):
    _, cache = dirs
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    register(WeightFile("test/d", "fam/d.bin", sha256=_sha(b"payload"), url=src.as_uri()))
    path = resolve("test/d")
    assert path == cache / "semcom" / "weights" / "fam" / "d.bin" and path.read_bytes() == b"payload"
    assert resolve("test/d") == path  # second time: from the cache
    register(WeightFile("test/e", "fam/e.bin", sha256=_sha(b"else"), url=src.as_uri()))
    with pytest.raises(SemcomError, match="sha256"):
        resolve("test/e")
    assert not (cache / "semcom" / "weights" / "fam" / "e.bin").exists()
    register(WeightFile("test/f", "fam/f.bin", url=(tmp_path / "absent").as_uri()))
    with pytest.raises(SemcomError, match="downloading"):
        resolve("test/f")


def test_listing_command(dirs, capsys):
    w, _ = dirs
    (w / "x.bin").write_bytes(b"1")
    register(WeightFile("test/listed", "x.bin"))
    register(WeightFile("test/absent", "y.bin", url="https://example.org/y.bin"))
    assert weights.main([]) == 0
    out = capsys.readouterr().out
    assert "test/listed" in out and "ok" in out
    assert "test/absent" in out and "missing" in out and "https://example.org/y.bin" in out
