"""JPEG codec and rate control to a bit budget."""

from __future__ import annotations

import numpy as np
import pytest

from semcom.codecs import JPEG, DecodeError, fit_to_budget
from semcom.codecs.base import EncodingCache
from semcom.pipeline import to_uint8


@pytest.fixture(scope="module")
def image(astronaut):
    return to_uint8(astronaut[None])[0]


def test_fit_to_budget_picks_highest_quality_that_fits(image):
    codec, cache = JPEG(), EncodingCache()
    budget = 0.5 * image.shape[0] * image.shape[1]  # 0.5 bpp
    enc = fit_to_budget(codec, image, budget, cache)
    assert enc is not None and enc.bits <= budget
    above = cache.encode(codec, image, enc.quality + 1)
    assert above.bits > budget
    # at 0.5 bpp JPEG on a 512x512 photo lands around 29-31 dB
    rec = codec.decode(enc.data, image.shape[:2]).astype(np.float64)
    psnr = 10 * np.log10(255.0**2 / np.mean((rec - image) ** 2))
    assert 26 < psnr < 34


def test_fit_to_budget_none_when_nothing_fits_and_cache_reuse(image):
    codec, cache = JPEG(), EncodingCache()
    assert fit_to_budget(codec, image, 1000, cache) is None
    fit_to_budget(codec, image, 200_000, cache)
    misses = cache.misses
    fit_to_budget(codec, image, 200_000, cache)
    assert cache.misses == misses and cache.hits > 0


def test_jpeg_decode_rejects_garbage_and_wrong_size(image):
    codec = JPEG()
    with pytest.raises(DecodeError):
        codec.decode(b"\x00" * 100, image.shape[:2])
    data = codec.encode(image, 50)
    with pytest.raises(DecodeError):
        codec.decode(data, (10, 10))
