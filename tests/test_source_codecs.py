"""WebP, JPEG 2000, HEVC intra (BPG fallback), real-BPG plumbing, rate control, self-delimiting streams."""

from __future__ import annotations

import os
import stat
import sys
import textwrap

import numpy as np
import pytest

from semcom.codecs import BPG, JPEG, JPEG2000, EncodingCache, HEVCIntra, WebP, bpg_codec, build_codec, fit_to_budget
from semcom.codecs.heif import heif_payload, parse_boxes, rebuild_heif
from semcom.codecs.jpeg2000 import target_bpp
from semcom.errors import SemcomError
from semcom.pipelines.base import to_uint8


@pytest.fixture(scope="module")
def crop(astronaut):
    """A 96x128 crop (face and background), (H, W, 3) uint8."""
    return to_uint8(astronaut[None, :, 40:136, 180:308])[0]


def psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


@pytest.mark.parametrize("codec", [WebP(), JPEG2000(), HEVCIntra()], ids=["webp", "jpeg2000", "hevc"])
def test_rate_control_highest_quality_that_fits_and_trailing_zeros(codec, crop):
    cache = EncodingCache()
    budget = 1.0 * crop.shape[0] * crop.shape[1]  # 1 bpp
    enc = fit_to_budget(codec, crop, budget, cache)
    assert enc is not None and enc.bits <= budget
    qs = list(codec.qualities)
    nxt = qs[qs.index(enc.quality) + 1]
    assert cache.encode(codec, crop, nxt).bits > budget
    rec = codec.decode(enc.data, crop.shape[:2])
    assert rec.shape == crop.shape and rec.dtype == np.uint8
    assert 27 < psnr(crop, rec) < 45  # 1 bpp on a small photo crop
    # the channel delivers whole code blocks: zero padding after the stream must not matter
    np.testing.assert_array_equal(codec.decode(enc.data + bytes(300), crop.shape[:2]), rec)
    # a sweep reuses the ladder: the same search again encodes nothing
    misses = cache.misses
    fit_to_budget(codec, crop, budget, cache)
    assert cache.misses == misses


def test_jpeg2000_ladder_hits_openjpeg_rate_target(crop):
    codec = JPEG2000()
    for q in (96, 160):  # 0.16 and 0.64 bpp
        bits = 8 * len(codec.encode(crop, q))
        assert bits / crop[..., 0].size == pytest.approx(target_bpp(q), rel=0.08)


def test_jpeg2000_uses_the_colour_transform(crop):
    """mct=1 (RGB->YCbCr) beats Pillow's default mct=0 clearly at the same size on a photo."""
    import io

    from PIL import Image

    codec = JPEG2000()
    with_mct = psnr(crop, codec.decode(codec.encode(crop, 150), crop.shape[:2]))
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="JPEG2000", no_jp2=True, quality_mode="rates", quality_layers=[24 / target_bpp(150)],
                               irreversible=True, mct=0)
    without = psnr(crop, np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    assert with_mct > without + 0.5


def test_hevc_payload_rebuilds_the_encoders_file_byte_for_byte(crop):
    codec = HEVCIntra()
    heif = codec.heif_file(crop, 40)
    payload = heif_payload(heif)
    assert rebuild_heif(codec._reference, payload + bytes(64), crop.shape[1], crop.shape[0]) == heif
    # what is not sent: the container boxes, the same number of bytes at any quality
    overhead = len(heif) - len(payload)
    assert overhead == len(codec.heif_file(crop, 80)) - len(heif_payload(codec.heif_file(crop, 80)))
    assert 150 < overhead < 600
    assert [b.kind for b in parse_boxes(heif)] == [b"ftyp", b"meta", b"mdat"]
    # header=heif counts (and sends) the whole file; both decode to the same image
    whole = HEVCIntra(header="heif")
    assert whole.encode(crop, 40) == heif
    np.testing.assert_array_equal(whole.decode(heif, crop.shape[:2]), codec.decode(payload, crop.shape[:2]))


def test_hevc_ladder_has_every_distinct_encoding(crop):
    """libheif maps qualities 2k-1 and 2k to the same stream; the ladder keeps the even ones."""
    codec = HEVCIntra()
    tiny = crop[:32, :48]
    assert codec.encode(tiny, 41) == codec.encode(tiny, 42) != codec.encode(tiny, 40)
    assert codec.encode(tiny, 96) == codec.encode(tiny, 100)
    assert list(codec.qualities) == list(range(0, 97, 2))


def test_hevc_bytes_do_not_depend_on_x265_threads(astronaut, monkeypatch):
    """x265 follows $OMP_NUM_THREADS (one thread per joblib worker), the stream stays the same."""
    from semcom.codecs.hevc import x265_threads

    image = to_uint8(astronaut[None])[0][:256, :384]  # big enough for x265 to split the work
    codec = HEVCIntra()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert x265_threads() == {}
    default = [codec.encode(image, q) for q in (20, 60, 90)]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert x265_threads() == {"x265:pools": "1"}
    assert [codec.encode(image, q) for q in (20, 60, 90)] == default
    monkeypatch.setenv("OMP_NUM_THREADS", "auto")
    assert x265_threads() == {}


def test_hevc_psy_off_is_the_bpg_setting_and_named(crop):
    codec = build_codec("hevc")
    assert codec.enc_params == {"x265:psy-rd": "0", "x265:psy-rdoq": "0"} and codec.chroma == 444
    assert codec.implementation.startswith("hevc-intra (pillow-heif ")
    # 4:4:4 keeps chroma detail that 4:2:0 loses at the same quality
    rec444 = codec.decode(codec.encode(crop, 90), crop.shape[:2])
    c420 = HEVCIntra(chroma=420)
    rec420 = c420.decode(c420.encode(crop, 90), crop.shape[:2])
    assert psnr(crop, rec444) > psnr(crop, rec420)


FAKE_BPGENC = """\
#!{python}
import sys
a = sys.argv[1:]
with open(a[-1], "rb") as f:
    png = f.read()
out = a[a.index("-o") + 1]
open(out + ".args", "w").write(" ".join(a))
with open(out, "wb") as f:
    f.write(b"BPG\\xfb" + bytes([int(a[a.index("-q") + 1])]) + png)
"""
FAKE_BPGDEC = """\
#!{python}
import sys, time
a = sys.argv[1:]
data = open(a[-1], "rb").read()
if not data.startswith(b"BPG\\xfb"):
    time.sleep(30)  # a decoder that hangs on garbage
    sys.exit(1)
open(a[a.index("-o") + 1], "wb").write(data[5:])
"""


@pytest.fixture()
def fake_bpg(tmp_path, monkeypatch):
    """Stand-ins for bpgenc/bpgdec (they store the PNG): test the subprocess plumbing only."""
    for name, text in (("bpgenc", FAKE_BPGENC), ("bpgdec", FAKE_BPGDEC)):
        p = tmp_path / name
        p.write_text(textwrap.dedent(text).format(python=sys.executable))
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_bpg_binary_plumbing_with_stand_in_programs(fake_bpg, crop):
    codec = bpg_codec()
    assert isinstance(codec, BPG) and codec.implementation.startswith("bpg (bpgenc")
    data = codec.encode(crop, 51 - 28)  # QP 28
    assert data[:5] == b"BPG\xfb" + bytes([28])
    np.testing.assert_array_equal(codec.decode(data, crop.shape[:2]), crop)
    # CompressAI's benchmark command line
    cmd = codec.encode_command("in.png", "out.bpg", 51 - 28)
    assert cmd[1:] == ["-o", "out.bpg", "-q", "28", "-f", "444", "-e", "x265", "-c", "ycbcr", "-b", "8", "in.png"]
    # a hanging decoder is stopped by the time limit
    slow = BPG(timeout_s=1.0)
    from semcom.codecs import DecodeError

    with pytest.raises(DecodeError, match="did not finish"):
        slow.decode_untrusted(b"garbage", crop.shape[:2])


def test_bpg_falls_back_to_hevc_intra_without_the_programs(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    codec = bpg_codec()
    assert isinstance(codec, HEVCIntra) and "hevc-intra" in codec.implementation
    with pytest.raises(SemcomError, match="unknown codec 'bgp'"):
        build_codec("bgp")
    with pytest.raises(SemcomError, match="bad parameters for codec 'webp'"):
        build_codec("webp", method=9)
    assert isinstance(build_codec("jpeg"), JPEG)


def test_rate_control_reuses_the_cached_ladder_as_a_bracket(crop):
    codec, cache = JPEG(), EncodingCache()
    pixels = crop.shape[0] * crop.shape[1]
    first = fit_to_budget(codec, crop, 0.8 * pixels, cache)
    misses = cache.misses
    assert misses <= 2 + 7  # lowest, highest, then binary search over 95 qualities
    for bpp in (0.7, 0.9, 1.3, 0.6):
        before = cache.misses
        enc = fit_to_budget(codec, crop, bpp * pixels, cache)
        assert enc.bits <= bpp * pixels < cache.encode(codec, crop, enc.quality + 1).bits
        assert cache.misses - before <= 7  # only the bracket between known ladder points is searched
    assert first.quality == fit_to_budget(codec, crop, 0.8 * pixels, EncodingCache()).quality
