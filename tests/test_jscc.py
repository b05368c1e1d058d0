"""Learned JSCC models: shapes, bandwidth ratio, power, GDN, training, checkpoints, pipeline, noise."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.channels import AWGN, RayleighBlock
from semcom.conventions import channel_uses
from semcom.errors import SemcomError
from semcom.jscc import ADJSCC, DeepJSCC, SwinJSCC, build_model
from semcom.jscc.base import complex_to_real, latent_channels, pad_to_multiple, real_to_complex
from semcom.jscc.checkpoints import load_checkpoint, make_checkpoint, shipped
from semcom.jscc.gdn import SemcomGDN
from semcom.pipelines.base import build_pipeline
from semcom.randomness import generator

@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is faster than two on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SMALL_SWIN = {"dims": [16, 32], "depths": [2, 2], "heads": [1, 2], "window": 4, "patch": 4}


def small_models(ratio=1 / 16):
    """One small instance of every architecture (paper layouts, narrow widths)."""
    return [
        DeepJSCC(ratio),
        ADJSCC(ratio, width=16),
        SwinJSCC([ratio], **SMALL_SWIN),
    ]


@pytest.mark.parametrize("ratio", [1 / 16, 1 / 6])
def test_shapes_ratio_and_unit_power(ratio):
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 96)
    for model in small_models(ratio):
        x, layout = model.encode(images, 10.0)
        # channel uses: exactly floor(rho 3HW) when H, W are multiples of the model's stride/window
        assert x.dtype == torch.complex64
        assert x.shape == (2, channel_uses(ratio, 64, 96)) == (2, model.channel_uses(64, 96, ratio))
        assert x.shape[1] / (3 * 64 * 96) == pytest.approx(ratio, abs=1e-12)
        # per-image power exactly one
        power = x.abs().square().mean(dim=1)
        assert torch.allclose(power, torch.ones(2), atol=1e-5), model.name
        with torch.no_grad():
            rec = model.decode(x, layout, 10.0)
        assert rec.shape == images.shape
        assert float(rec.min()) >= 0.0 and float(rec.max()) <= 1.0


def test_latent_channel_counts():
    assert latent_channels(1 / 16, 4) == 6 and latent_channels(1 / 6, 4) == 16
    assert latent_channels(1 / 16, 8) == 24 and latent_channels(1 / 6, 8) == 64
    with pytest.raises(SemcomError, match="whole number"):
        latent_channels(0.1, 4)


def test_unaligned_size_is_padded_and_cropped():
    model = DeepJSCC(1 / 16)
    img = torch.rand(1, 3, 30, 45)
    x, layout = model.encode(img)
    # padded to 32 x 48: 6 channels x 8 x 12 latent reals -> 288 complex symbols
    assert layout["padded"] == (32, 48)
    assert x.shape[1] == 6 * 8 * 12 // 2 == model.channel_uses(30, 45)
    assert model.decode(x, layout).shape == (1, 3, 30, 45)
    swin = SwinJSCC([1 / 16], **SMALL_SWIN)  # size multiple 8 * 4 = 32: padded to 32 x 64
    xs, ls = swin.encode(img)
    assert ls["padded"] == (32, 64) and xs.shape[1] == 24 * 4 * 8 // 2 == swin.channel_uses(30, 45)
    with torch.no_grad():
        assert swin.decode(xs, ls).shape == (1, 3, 30, 45)
    padded, size = pad_to_multiple(img, 4)
    assert size == (30, 45) and padded.shape[-2:] == (32, 48)
    # reflect padding: row 30 mirrors row 28, column 45 mirrors column 43
    assert torch.equal(padded[..., 30, :45], img[..., 28, :])
    assert torch.equal(padded[..., :30, 45], img[..., :, 43])


def test_real_complex_roundtrip_odd_length():
    z = torch.randn(2, 3, 3, 3)  # 27 reals per image: the last symbol carries a zero
    x = real_to_complex(z)
    assert x.shape == (2, 14)
    assert torch.equal(complex_to_real(x, (3, 3, 3)), z)
    assert torch.equal(x[:, 0], torch.complex(z.reshape(2, -1)[:, 0], z.reshape(2, -1)[:, 1]))


def test_rate_adaptive_swin_sends_prefix():
    model = SwinJSCC([1 / 16, 1 / 6], **SMALL_SWIN)
    img = torch.rand(1, 3, 64, 64)
    x16, lay16 = model.encode(img, 5.0, 1 / 16)
    x6, lay6 = model.encode(img, 5.0, 1 / 6)
    assert x16.shape[1] == channel_uses(1 / 16, 64, 64) and x6.shape[1] == channel_uses(1 / 6, 64, 64)
    assert model.decode(x16, lay16, 5.0).shape == img.shape
    with pytest.raises(SemcomError, match="trained for ratio 1/16, 1/6"):
        model.encode(img, 5.0, 1 / 8)


def test_gdn_closed_form_and_compressai_layout():
    gdn, igdn = SemcomGDN(4), SemcomGDN(4, inverse=True)
    x = torch.randn(2, 4, 3, 3)
    # at initialisation beta = 1 and gamma = 0.1 I (CompressAI's init)
    assert torch.allclose(gdn(x), x / torch.sqrt(1 + 0.1 * x**2), atol=1e-5)
    assert torch.allclose(igdn(x), x * torch.sqrt(1 + 0.1 * x**2), atol=1e-5)
    assert sorted(gdn.state_dict()) == sorted(
        ["beta", "gamma", "beta_reparam.pedestal", "beta_reparam.lower_bound.bound", "gamma_reparam.pedestal", "gamma_reparam.lower_bound.bound"]
    )
    # cross-channel term: gamma_ij couples channel j into the norm of channel i
    with torch.no_grad():
        gdn.gamma.copy_(gdn.gamma_reparam.init(torch.tensor([[0.1, 0.5, 0, 0], [0, 0.1, 0, 0], [0, 0, 0.1, 0], [0, 0, 0, 0.1]])))
    y = gdn(x)
    expected0 = x[:, 0] / torch.sqrt(1 + 0.1 * x[:, 0] ** 2 + 0.5 * x[:, 1] ** 2)
    assert torch.allclose(y[:, 0], expected0, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: DeepJSCC(1 / 16), lambda: ADJSCC(1 / 16, width=16), lambda: SwinJSCC([1 / 16], **SMALL_SWIN)])
def test_training_steps_reduce_loss(make):
    torch.manual_seed(0)
    model = make()
    ramp = torch.linspace(0, 1, 32)
    pattern = torch.stack([ramp[None, :].expand(32, 32), ramp[:, None].expand(32, 32), 1 - ramp[None, :].expand(32, 32)])
    images = pattern[None] * torch.rand(4, 3, 1, 1)  # four fixed colour ramps
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    channel = AWGN()

    def loss_now():  # the same noise realisation every step: a fixed objective
        rec, _ = model(images, channel, 10.0, generator(1))
        return (rec - images).square().mean()

    with torch.no_grad():
        before = float(loss_now())
    for _ in range(20):
        loss = loss_now()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(loss_now())
    assert after < 0.6 * before, (before, after)


def test_same_seed_same_noise_as_a_digital_chain():
    """The learned pipeline's noise and fading equal what a QAM chain sending as many symbols sees."""
    from sionna.phy.mapping import Mapper

    model = DeepJSCC(1 / 16)
    img = torch.rand(1, 3, 32, 32)
    for channel in (AWGN(), RayleighBlock()):
        x, _ = model.encode(img)
        out_learned = channel(x, 4.0, [generator(123)])
        bits = torch.randint(0, 2, (1, x.shape[1] * 2), generator=generator(9)).float()
        qam = Mapper("qam", 2)(bits)
        out_digital = channel(qam, 4.0, [generator(123)])
        assert qam.shape == x.shape
        assert torch.equal(out_learned.h, out_digital.h)
        assert torch.allclose(out_learned.y - out_learned.h * x, out_digital.y - out_digital.h * qam, atol=1e-6)


def _tmp_checkpoint(tmp_path, model, channel="awgn"):
    path = tmp_path / f"{model.name}.pt"
    torch.save(make_checkpoint(model.name, model, {"channel": {"name": channel}, "ratio": "1/16"}, {"steps": 0}), path)
    return str(path)


def test_pipeline_refuses_other_ratio_and_model(tmp_path):
    path = _tmp_checkpoint(tmp_path, DeepJSCC(1 / 16))
    cfg = {"kind": "learned", "name": "deepjscc", "model": "deepjscc", "checkpoint": path}
    pipe = build_pipeline(cfg, ratio=1 / 16)
    assert pipe.model.ratios == [1 / 16]
    with pytest.raises(SemcomError, match=r"trained for ratio=1/16, but the job has ratio=1/6: add ratio=1/16") as err:
        build_pipeline(cfg, ratio=1 / 6)
    assert "\n" not in str(err.value)
    with pytest.raises(SemcomError, match="holds a deepjscc model, not adjscc"):
        build_pipeline({**cfg, "model": "adjscc"}, ratio=1 / 16)
    with pytest.raises(SemcomError, match="unknown JSCC checkpoint"):
        build_pipeline({**cfg, "checkpoint": "no-such-model"}, ratio=1 / 16)


def test_pipeline_transmit_counts_symbols_and_uses_side_info(tmp_path):
    model = ADJSCC(1 / 16, width=16)
    path = _tmp_checkpoint(tmp_path, model)
    pipe = build_pipeline({"kind": "learned", "name": "adjscc", "checkpoint": path}, ratio=1 / 16)
    imgs = torch.rand(2, 3, 32, 48)
    tx = pipe.transmit(imgs, 7.0, RayleighBlock(), [generator(1), generator(2)])
    assert tx.reconstructions.shape == imgs.shape
    assert tx.channel_uses.tolist() == [channel_uses(1 / 16, 32, 48)] * 2
    assert tx.bits.tolist() == [0, 0] and not tx.failed.any()
    # effective SNR side information: same seed, nominal side info gives a different decode
    nominal = build_pipeline({"kind": "learned", "name": "adjscc", "checkpoint": path, "side_info": "nominal"}, ratio=1 / 16)
    tx2 = nominal.transmit(imgs, 7.0, RayleighBlock(), [generator(1), generator(2)])
    assert not torch.allclose(tx.reconstructions, tx2.reconstructions)
    tx3 = pipe.transmit(imgs, 7.0, RayleighBlock(), [generator(1), generator(2)])
    assert torch.equal(tx.reconstructions, tx3.reconstructions)


def _folder(tmp_path, n=2, size=(40, 52)):
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    for i in range(n):
        base = np.stack([xx * 4, yy * 5, (xx + yy) * 2], -1) % 256
        arr = np.clip(base + rng.integers(0, 30, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"im{i}.png")
    Image.fromarray(arr[..., 0]).save(folder / "grey.png")  # greyscale: converted to RGB
    return folder


def _train_cfg(tmp_path, folder, steps, **over):
    cfg = {
        "model": {"name": "deepjscc", "widths": [8, 8, 8, 8]},
        "channel": {"name": "awgn"},
        "ratio": "1/16",
        "name": None,
        "out_root": str(tmp_path / "runs"),
        "steps": steps,
        "batch_size": 2,
        "crop": 32,
        "lr": 1e-3,
        "lr_final": 1e-4,
        "decay_start": 1.0,
        "warmup_steps": 0,
        "grad_clip": None,
        "loss": "mse",
        "snr_db_train": [0, 15],
        "data": {"train": [str(folder)], "val": [str(folder)]},
        "val_snr_db": [1, 13],
        "eval_every": 2,
        "log_every": 1,
        "ckpt_every": 2,
        "seed": 0,
        "device": "cpu",
        "amp": True,
        "threads": None,
        "progress": False,
    }
    cfg.update(over)
    return cfg


def test_training_resumes_exactly(tmp_path):
    from semcom.jscc.checkpoints import export
    from semcom.jscc.training import train

    folder = _folder(tmp_path)
    straight = train(_train_cfg(tmp_path, folder, 6, name="straight"))
    train(_train_cfg(tmp_path, folder, 3, name="resumed"))
    resumed = train(_train_cfg(tmp_path, folder, 6, name="resumed"))
    a = torch.load(straight / "last.pt", weights_only=False)
    b = torch.load(resumed / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 6 and a["done"] and b["done"]
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    rows = (resumed / "curve.csv").read_text().strip().splitlines()
    assert rows[0].startswith("step,wall_s,lr,loss,train_psnr,val_psnr_snr1,val_psnr_snr13")
    assert [int(r.split(",")[0]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6]
    assert (resumed / "curve.png").stat().st_size > 1000
    assert b["train_config"]["model"]["widths"] == [8, 8, 8, 8] and b["train_images"] == 3
    # export: a shipped-format checkpoint with the full training config inside, loadable by path
    out = export(resumed / "last.pt", "test-deepjscc", dest_dir=tmp_path / "ship")
    model, meta = load_checkpoint(str(out))
    assert meta["training"]["steps"] == 6 and meta["train_config"]["snr_db_train"] == [0, 15]
    assert isinstance(model, DeepJSCC) and (tmp_path / "ship" / "index.json").is_file()
    # a run folder holding another model config is refused
    with pytest.raises(SemcomError, match="give the run another name"):
        train(_train_cfg(tmp_path, folder, 8, name="resumed", model={"name": "deepjscc", "widths": [8, 8, 8, 16]}))


def test_init_from_copies_matching_tensors(tmp_path):
    from semcom.jscc.training import init_from

    src = DeepJSCC(1 / 16)
    path = _tmp_checkpoint(tmp_path, src)
    dst = DeepJSCC(1 / 6)  # 16 latent channels instead of 6: last encoder and first decoder layers differ
    n = init_from(dst, path)
    total = len(dst.state_dict())
    assert n == total - 4  # encoder conv 5 (weight, bias) + its PReLU, decoder deconv 1 weight
    assert torch.equal(dst.encoder[0].weight, src.encoder[0].weight)
    assert not torch.equal(dst.encoder[8].bias[:6], src.encoder[8].bias)
    with pytest.raises(SemcomError, match="not adjscc"):
        init_from(ADJSCC(1 / 16, width=16), path)


def test_runner_job_with_learned_pipeline(tmp_path, small_folder):
    from semcom.runner.config import compose
    from semcom.runner.job import run_job

    base = ["pipeline=deepjscc", "pipeline.checkpoint=deepjscc-awgn-r1_16", "dataset=folder", f"dataset.path={small_folder}", "snr_db=[4]", "metrics=[psnr]", "plots=false"]
    df = run_job(compose([*base, "ratio=1/16", "channel=rayleigh_block"]), tmp_path / "out", progress=False)
    assert set(df["checkpoint"]) == {"deepjscc-awgn-r1_16"} and set(df["pipeline"]) == {"deepjscc"}
    assert df["channel_uses"].tolist() == [channel_uses(1 / 16, 192, 192)] * 2 and (df["bits"] == 0).all()
    assert df["psnr"].between(5, 60).all()
    with pytest.raises(SemcomError, match="trained for ratio=1/16, but the job has ratio=1/6"):
        run_job(compose([*base, "ratio=1/6"]), tmp_path / "out2", progress=False)


def test_build_model_errors():
    with pytest.raises(SemcomError, match="unknown model 'nope'"):
        build_model("nope", {})
    with pytest.raises(SemcomError, match="bad keyword arguments"):
        build_model("deepjscc", {"ratio": 1 / 16, "colour": 3})


@pytest.mark.parametrize("name", sorted(shipped()))
def test_shipped_checkpoint_beats_grey_on_kodak_crops(name):
    """Every shipped checkpoint, over the channel and at the ratio it was trained for, at 10 dB."""
    from semcom.channels import build_channel
    from semcom.datasets import kodak_dir, load_image
    from semcom.conventions import quantize
    from semcom.metrics import get_metric

    entry = shipped()[name]
    pipe = build_pipeline({"kind": "learned", "name": entry.model, "model": entry.model, "checkpoint": name}, ratio=entry.ratios[0])
    assert pipe.meta["train_config"]["data"]["train"] and pipe.meta["training"]["steps"] > 0
    folder = kodak_dir(download=False)
    crops = torch.stack([load_image(folder / f"kodim{i:02d}.png")[:, 128:256, 128:256] for i in (1, 5, 15, 23)])
    rngs = [generator(i) for i in range(len(crops))]
    rec = quantize(pipe.transmit(crops, 10.0, build_channel(entry.channel), rngs).reconstructions)
    psnr = get_metric("psnr")
    model_db = float(psnr(crops, rec).mean())
    grey_db = float(psnr(crops, torch.full_like(crops, 0.5)).mean())
    # a wide margin: 10 dB over AWGN; 8 dB over block fading, where each crop draws one fade and a
    # deep one costs several dB (measured margins 10.9-12.3 dB over AWGN, 9.7-11.4 dB with fading)
    margin = 10.0 if entry.channel == "awgn" else 8.0
    assert model_db > grey_db + margin, (model_db, grey_db)
    assert math.isfinite(model_db)


def test_evaluate_cli_uses_the_trained_channel(tmp_path):
    """``python -m semcom.jscc.evaluate NAME`` scores over the checkpoint's own channel by default."""
    from semcom.channels import build_channel
    from semcom.datasets import load_dataset
    from semcom.jscc.evaluate import evaluate, main

    name = "deepjscc-rayleigh_block-r1_16"
    out = tmp_path / "table.json"
    assert main([name, "--limit", "1", "--snr", "4", "--json", str(out)]) == 0
    table = json.loads(out.read_text())
    assert table["channel"] == "rayleigh_block" and table["images"] == 1
    model, _ = load_checkpoint(name)
    items = load_dataset("kodak", limit=1, convert=True).items
    faded = evaluate(model, items, [4.0], build_channel("rayleigh_block"))[4.0]
    awgn = evaluate(model, items, [4.0], build_channel("awgn"))[4.0]
    assert table["psnr"]["4"] == pytest.approx(faded, abs=1e-3)
    assert abs(faded - awgn) > 0.05, (faded, awgn)


def test_checkpoint_name_filled_per_job(tmp_path, small_folder):
    from semcom.runner.config import compose
    from semcom.runner.job import run_job
    from semcom.runner.plan import fill_checkpoint_name

    cfg = {"kind": "learned", "checkpoint": "deepjscc-{channel}-r{ratio}"}
    assert fill_checkpoint_name(cfg, "rayleigh_block", 1 / 16)["checkpoint"] == "deepjscc-rayleigh_block-r1_16"
    assert fill_checkpoint_name(cfg, "awgn", 1 / 6)["checkpoint"] == "deepjscc-awgn-r1_6"
    assert fill_checkpoint_name({"checkpoint": "x.pt"}, "awgn", 0.1) == {"checkpoint": "x.pt"}
    with pytest.raises(SemcomError, match="bad placeholder"):
        fill_checkpoint_name({"checkpoint": "m-{snr}"}, "awgn", 0.1)
    # the pipeline config's default name picks the checkpoint of the job's channel and ratio
    base = ["pipeline=deepjscc", "dataset=folder", f"dataset.path={small_folder}", "snr_db=[4]", "metrics=[psnr]", "plots=false", "channel=awgn"]
    df = run_job(compose([*base, "ratio=1/16"]), tmp_path / "out", progress=False)
    assert set(df["checkpoint"]) == {"deepjscc-awgn-r1_16"}
    with pytest.raises(SemcomError, match="unknown JSCC checkpoint 'deepjscc-awgn-r1_8'"):
        run_job(compose([*base, "ratio=1/8"]), tmp_path / "out2", progress=False)
