"""Corrupted bitstreams never crash or hang the run: the isolated decoder worker."""

from __future__ import annotations

import time

import numpy as np
import pytest

from semcom.codecs import DecodeError, HEVCIntra, JPEG2000
from semcom.codecs.isolation import DecoderWorker
from semcom.pipelines.base import to_uint8

from hostile_codec import HostileCodec


def test_worker_survives_crash_hang_and_exceptions():
    worker = DecoderWorker()
    codec = HostileCodec()
    try:
        assert worker.decode(codec, b"ok", (4, 5), 5.0).shape == (4, 5, 3)
        with pytest.raises(DecodeError, match="crashed"):
            worker.decode(codec, b"crash", (4, 5), 5.0)
        t = time.monotonic()
        with pytest.raises(DecodeError, match="did not finish within 1.5 s"):
            worker.decode(codec, b"hang", (4, 5), 1.5)
        assert time.monotonic() - t < 60  # includes restarting the worker after the crash
        with pytest.raises(DecodeError, match="RuntimeError: boom"):
            worker.decode(codec, b"raise", (4, 5), 5.0)
        # restarted after the crash and the hang, and still answers
        assert worker.decode(codec, b"ok", (2, 2), 5.0).shape == (2, 2, 3)
        assert worker.starts == 3
    finally:
        worker.close()


def test_decode_untrusted_routes_through_the_worker():
    with pytest.raises(DecodeError, match="did not finish"):
        HostileCodec().decode_untrusted(b"hang", (4, 4))


@pytest.mark.parametrize("codec", [HEVCIntra(), JPEG2000()], ids=["hevc", "jpeg2000"])
def test_corrupted_streams_give_an_image_or_a_decode_error(codec, astronaut):
    img = to_uint8(astronaut[None, :, :64, :64])[0]
    data = bytearray(codec.encode(img, list(codec.qualities)[len(codec.qualities) // 2]))
    rng = np.random.default_rng(0)
    outcomes = set()
    for _ in range(12):
        bad = bytearray(data)
        for pos in rng.integers(0, len(bad), size=8):
            bad[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            out = codec.decode_untrusted(bytes(bad), (64, 64))
            assert out.shape == (64, 64, 3) and out.dtype == np.uint8
            outcomes.add("image")
        except DecodeError:
            outcomes.add("error")
    assert outcomes  # every attempt ended in one of the two, and the test process is alive


def test_chain_corrupt_policy_shows_the_damaged_decode_and_marks_failure(astronaut):
    """HEVC + LDPC just below its threshold: blocks fail; `corrupt` decodes what arrived (in the worker)."""
    import torch

    from semcom.channels import AWGN
    from semcom.pipelines.base import build_pipeline
    from semcom.randomness import generator

    tiny = torch.stack([astronaut[:, 100:164, 200:264], astronaut[:, 300:364, 300:364]])
    cfg = {"kind": "separate", "name": "hevc_ldpc", "codec": "hevc", "mcs": {"rate": 0.75, "qam": 16}, "codeword_bits": 1024}
    out = {fb: build_pipeline(cfg, ratio=1 / 4, fallback=fb).transmit(tiny, 10.0, AWGN(), [generator(1), generator(2)])
           for fb in ("grey", "corrupt")}
    assert out["grey"].failed.all() and out["corrupt"].failed.all()
    assert all(e > 0 for e in out["corrupt"].extras["block_errors"])
    assert torch.all(out["grey"].reconstructions == 0.5)
    # image 0: libde265 made a picture of the damaged stream (an 8-bit image); image 1: grey
    rec = out["corrupt"].reconstructions[0]
    assert not torch.all(rec == 0.5) and torch.equal(rec, (rec * 255).round() / 255)
