"""CompressAI learned codecs: real entropy-coded bitstreams of small models trained here.

Needs the optional CompressAI install (scripts/install_compressai.sh); the weights-resolver and
error-message tests run without it. No pretrained CompressAI weights exist offline: the models
are the zoo architectures at small widths, trained for a few steps in the test.
"""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pytest
import torch

from semcom import weights
from semcom.codecs import EncodingCache, fit_to_budget
from semcom.errors import SemcomError
from semcom.pipelines.base import to_uint8

HAVE_COMPRESSAI = importlib.util.find_spec("compressai") is not None
needs_compressai = pytest.mark.skipif(not HAVE_COMPRESSAI, reason="CompressAI not installed: scripts/install_compressai.sh")


def test_sha256_prefix_digests_are_checked_as_prefixes(tmp_path, monkeypatch):
    f = tmp_path / "compressai" / "m-1-abcdef12.pth.tar"
    f.parent.mkdir()
    f.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(tmp_path))
    weights.register(weights.WeightFile("test/prefix-ok", "compressai/m-1-abcdef12.pth.tar", sha256=digest[:8]))
    assert weights.resolve("test/prefix-ok", download=False) == f
    weights.register(weights.WeightFile("test/prefix-bad", "compressai/m-1-abcdef12.pth.tar", sha256="0" * 8))
    with pytest.raises(SemcomError, match="has sha256"):
        weights.resolve("test/prefix-bad", download=False)
    weights.register(weights.WeightFile("test/prefix-short", "compressai/m-1-abcdef12.pth.tar", sha256=digest[:4]))
    with pytest.raises(ValueError, match="too short"):
        weights.resolve("test/prefix-short", download=False)


@pytest.fixture(scope="module")
def crops(astronaut):
    """Training crops (8, 3, 64, 64) and a test image (64, 96, 3) uint8 not among them."""
    g = torch.Generator().manual_seed(0)
    train = []
    for _ in range(8):
        y, x = (int(v) for v in torch.randint(0, 512 - 64, (2,), generator=g))
        train.append(astronaut[:, y : y + 64, x : x + 64])
    return torch.stack(train), to_uint8(astronaut[None, :, 100:164, 200:296])[0]


def _train(model, images, lam, steps=15, seed=0):
    """A few steps of the rate-distortion loss lam * 255^2 * MSE + bpp, then the coder tables."""
    torch.manual_seed(seed)
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    opt = torch.optim.Adam(main_params, lr=1e-3)
    aux_opt = torch.optim.Adam(aux_params, lr=1e-2)
    model.train()
    pixels = images.shape[0] * images.shape[2] * images.shape[3]
    for _ in range(steps):
        out = model(images)
        bpp = sum(-torch.log2(lik).sum() for lik in out["likelihoods"].values()) / pixels
        loss = lam * 255**2 * torch.mean((out["x_hat"] - images) ** 2) + bpp
        opt.zero_grad()
        aux_opt.zero_grad()
        loss.backward()
        opt.step()
        model.aux_loss().backward()
        aux_opt.step()
    model.update(force=True)
    return model.eval()


@pytest.fixture(scope="module")
def factorized(crops):
    from semcom.codecs.learned import CompressAICodec, import_compressai

    import_compressai()
    from compressai.zoo.image import model_architectures

    train, _ = crops
    arch = model_architectures["bmshj2018-factorized"]
    # two "qualities": 8 and 32 latent channels (a few training steps do not separate lambdas)
    models = {1: _train(arch(N=16, M=8), train, 0.01), 2: _train(arch(N=16, M=32), train, 0.01)}
    return CompressAICodec("bmshj2018-factorized", models=models)


@needs_compressai
def test_factorized_real_bitstream_matches_forward_pass_and_rate(factorized, crops):
    _, img = crops
    for q in (1, 2):
        data = factorized.encode(img, q)
        assert data[0] == q
        rec = factorized.decode(data, img.shape[:2])
        # the decoder's output is the eval-mode forward pass (latents rounded around the medians)
        with torch.no_grad():
            out = factorized.model(q)(factorized._padded(img))
        ref = to_uint8(out["x_hat"][..., :64, 16:112].clamp(0, 1))[0]  # 64x96 centred in 64x128
        assert np.abs(rec.astype(int) - ref.astype(int)).max() <= 1
        # the entropy coder spends what the model's likelihoods promise (+ the quality byte, ANS flush)
        estimate = sum(-torch.log2(lik).sum().item() for lik in out["likelihoods"].values())
        assert 8 * (len(data) - 1) == pytest.approx(estimate, rel=0.05, abs=64)
        # zero padding after the stream (the last code block) changes nothing
        np.testing.assert_array_equal(factorized.decode(data + bytes(50), img.shape[:2]), rec)
    # the wider latent costs more bits: a rate ladder for the rate control
    assert len(factorized.encode(img, 2)) > len(factorized.encode(img, 1))


@needs_compressai
def test_learned_codec_rate_control_and_corrupt_isolation(factorized, crops):
    from semcom.codecs import DecodeError

    _, img = crops
    cache = EncodingCache()
    lo, hi = len(factorized.encode(img, 1)), len(factorized.encode(img, 2))
    enc = fit_to_budget(factorized, img, 8 * (lo + hi) / 2, cache)
    assert enc.quality == 1
    assert fit_to_budget(factorized, img, 8 * hi, cache).quality == 2
    assert fit_to_budget(factorized, img, 8 * lo - 1, cache) is None
    # corrupted streams decode (to garbage) or fail in the worker; the test process survives
    data = bytearray(factorized.encode(img, 2))
    for pos in (3, len(data) // 2, len(data) - 2):
        data[pos] ^= 0xFF
    try:
        out = factorized.decode_untrusted(bytes(data), img.shape[:2])
        assert out.shape == img.shape
    except DecodeError:
        pass
    with pytest.raises(DecodeError, match="names no model"):
        factorized.decode(bytes([7]) + bytes(data[1:]), img.shape[:2])


@needs_compressai
@pytest.mark.parametrize("arch, kwargs", [("bmshj2018-hyperprior", {"N": 8, "M": 16}), ("mbt2018-mean", {"N": 8, "M": 16}),
                                          ("cheng2020-anchor", {"N": 8})])
def test_hyperprior_family_roundtrip(arch, kwargs, crops):
    from semcom.codecs.learned import CompressAICodec, import_compressai

    import_compressai()
    from compressai.zoo.image import model_architectures

    train, img = crops
    model = _train(model_architectures[arch](**kwargs), train[:4], 0.01, steps=3)
    codec = CompressAICodec(arch, models={3: model})
    data = codec.encode(img, 3)
    y_len = int.from_bytes(data[1:5], "big")
    assert 0 < y_len < len(data) - 5  # quality byte, y length, y string, z string
    rec = codec.decode(data + bytes(20), img.shape[:2])
    with torch.no_grad():
        ref = to_uint8(model(codec._padded(img))["x_hat"][..., :64, 16:112].clamp(0, 1))[0]
    diff = rec.astype(float) - ref.astype(float)
    if arch == "cheng2020-anchor":
        # its forward pass rounds y itself, compress rounds y - mean: close, not identical
        assert 10 * np.log10(255**2 / max(np.mean(diff**2), 1e-9)) > 25
    else:
        assert np.abs(diff).max() <= 1
    np.testing.assert_array_equal(codec.decode(codec.encode(img, 3), img.shape[:2]), rec)


@needs_compressai
def test_zoo_weights_are_registered_under_compressai_names(tmp_path, monkeypatch, factorized):
    from semcom.codecs.learned import CompressAICodec, register_zoo_weights

    specs = {s.name: s for s in register_zoo_weights()}
    s = specs["compressai/bmshj2018-factorized-mse-1"]
    assert s.url == "https://compressai.s3.amazonaws.com/models/v1/bmshj2018-factorized-prior-1-446d5c7f.pth.tar"
    assert s.path == "compressai/bmshj2018-factorized-prior-1-446d5c7f.pth.tar" and s.sha256 == "446d5c7f"
    assert len([n for n in specs if n.startswith("compressai/cheng2020-anchor-mse-")]) == 6
    # offline without the file: one line naming the file and where to put it
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("SEMCOM_OFFLINE", "1")
    codec = CompressAICodec("mbt2018-mean")
    assert codec.qualities == list(range(1, 9))
    with pytest.raises(SemcomError, match="mbt2018-mean-1-e522738d.pth.tar"):
        codec.model(1)
    # the zoo loading path builds the architecture from a checkpoint's own shapes
    path = tmp_path / "tiny.pth.tar"
    torch.save(factorized.model(2).state_dict(), path)
    loaded = CompressAICodec("bmshj2018-factorized").load_zoo_checkpoint(path)
    with torch.no_grad():
        x = torch.rand(1, 3, 64, 64)
        assert torch.allclose(loaded(x)["x_hat"], factorized.model(2)(x)["x_hat"], atol=1e-5)
