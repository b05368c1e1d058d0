"""One registry for every component kind: names, ``_target_`` nodes, contracts, checkpoints that
rebuild any model, the Python API. (Entry points of an installed package: examples/semcom-example.)"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.errors import SemcomError
from semcom.registry import CHANNELS, CODECS, DATASETS, METRICS, MODELS, PIPELINES, listing, registry
from semcom.runner.config import compose, expand_targets
from semcom.runner.job import run_job

FAST = ["channel=awgn", "metrics=[psnr]", "plots=false", "device=cpu"]


class HalfGrey:
    """A user pipeline: shows the image mixed half-and-half with grey (deterministic, no channel)."""

    bound = False

    def __init__(self, name="halfgrey", mix=0.5, *, ratio, fallback="grey", device="cpu"):
        self.name, self.ratio, self.mix = name, ratio, float(mix)

    def params(self):
        return {"mix": self.mix}

    def transmit(self, images, snr_db, channel, rng):
        from semcom.pipelines.base import Transmission

        n = images.shape[0]
        rec = (1 - self.mix) * images + self.mix * 0.5
        zeros = torch.zeros(n, dtype=torch.int64)
        return Transmission(rec, zeros, zeros.clone(), torch.zeros(n, dtype=torch.bool))


class WrongOutput(HalfGrey):
    def transmit(self, images, snr_db, channel, rng):
        return images  # a tensor, not a Transmission


def test_every_kind_lists_its_builtins():
    names = {e.kind: set() for e in listing()}
    for e in listing():
        names[e.kind].add(e.name)
    assert {"separate", "capacity", "learned", "transform"} <= names["pipeline"]
    assert {"deepjscc", "adjscc", "swinjscc"} <= names["model"] and {"jpeg", "bpg", "webp", "jpeg2000"} <= names["codec"]
    assert {"awgn", "rayleigh_block", "tdl_ofdm"} <= names["channel"] and {"psnr", "lpips", "fid", "vitscore"} <= names["metric"]
    assert {"builtin", "kodak", "folder"} <= names["dataset"]
    assert registry("metrics") is METRICS
    out = subprocess.run([sys.executable, "-m", "semcom", "list", "codec"], capture_output=True, text=True).stdout
    assert "jpeg " in out and "semcom.codecs.jpeg.JPEG" in out and "lpips" not in out


@pytest.mark.parametrize("reg, spec, cls", [
    (MODELS, {"_target_": "semcom.jscc.deepjscc.DeepJSCC", "ratio": 1 / 16}, "DeepJSCC"),
    (CODECS, {"_target_": "semcom.codecs.webp.WebP", "method": 2}, "WebP"),
    (CHANNELS, {"_target_": "semcom.channels.rician.Rician", "k_db": 3.0}, "Rician"),
    (METRICS, {"_target_": "semcom.metrics.pixel.PSNR"}, "PSNR"),
    (DATASETS, {"_target_": "semcom.datasets.builtin", "limit": 1}, "Dataset"),
])
def test_a_target_node_builds_any_importable_class(reg, spec, cls):
    assert type(reg.build(spec)).__name__ == cls


@pytest.mark.parametrize("reg, spec, message", [
    (METRICS, {"_target_": "nopkg.Metric"}, "no module 'nopkg' is installed"),
    (METRICS, {"_target_": "semcom.metrics.pixel.Nope"}, "semcom.metrics.pixel has no attribute 'Nope'"),
    (METRICS, {"_target_": "collections.OrderedDict"}, "returned a OrderedDict, not a semcom.metrics.base.Metric"),
    (CHANNELS, {"_target_": "semcom.channels.awgn.AWGN", "colour": 1}, "bad keyword arguments"),
    (PIPELINES, {"_target_": "collections.OrderedDict"}, "has no transmit() method"),
    (MODELS, "nope", "unknown model 'nope': choose one of adjscc, deepjscc, swinjscc"),
])
def test_a_component_that_breaks_its_contract_gets_one_line(reg, spec, message):
    with pytest.raises(SemcomError, match=message.replace("(", r"\(").replace(")", r"\)")) as exc:
        reg.build(spec, context={"ratio": 0.1, "fallback": "grey", "device": "cpu"} if reg is PIPELINES else None)
    assert "\n" not in str(exc.value)


def test_target_on_the_command_line_selects_the_custom_option():
    assert expand_targets(["pipeline._target_=x.Y", "+pipeline.k=1"]) == ["pipeline=custom", "pipeline._target_=x.Y", "+pipeline.k=1"]
    assert expand_targets(["+model._target_=x.Y"]) == ["model=custom", "model._target_=x.Y"]
    assert expand_targets(["pipeline=custom", "pipeline._target_=x.Y"]) == ["pipeline=custom", "pipeline._target_=x.Y"]
    cfg = compose(["pipeline._target_=semcom.pipelines.capacity_bound.CapacityBound", "+pipeline.codec=webp", "+pipeline.name=webp_cap"])
    assert dict(cfg.pipeline) == {"_target_": "semcom.pipelines.capacity_bound.CapacityBound", "name": "webp_cap", "codec": "webp"}


def test_user_pipeline_metric_and_channel_from_target_nodes(tmp_path, small_folder):
    cfg = compose([*FAST, "dataset=folder", f"dataset.path={small_folder}", "snr_db=[5]",
                   f"pipeline._target_={__name__}.HalfGrey", "+pipeline.mix=0.25"])
    cfg.metrics = ["psnr", {"_target_": "semcom.metrics.pixel.SSIM"}]
    cfg.channel = {"_target_": "semcom.channels.rician.Rician", "k_db": 3.0}
    df = run_job(cfg, tmp_path, progress=False)
    # mixing a quarter of grey in: MSE = 0.25^2 E[(x - 0.5)^2], whatever the channel
    images = [np.asarray(Image.open(p), dtype=np.float64) / 255 for p in sorted(small_folder.glob("*.png"))]
    expected = [-10 * np.log10(np.square(np.round(0.25 * (0.5 - x) * 255) / 255).mean()) for x in images]
    assert np.allclose(df.sort_values("image").psnr, expected, atol=0.05)
    assert set(df.pipeline) == {"halfgrey"} and df.ssim.between(0, 1).all() and set(df.channel) == {"rician[k_db=3]"}


def test_a_pipeline_returning_the_wrong_thing_is_named(tmp_path, small_folder):
    cfg = compose([*FAST, "dataset=folder", f"dataset.path={small_folder}", "snr_db=[5]", f"pipeline._target_={__name__}.WrongOutput"])
    with pytest.raises(SemcomError, match=r"pipeline halfgrey: transmit\(\) returned a Tensor, not a semcom.pipelines.Transmission"):
        run_job(cfg, tmp_path, progress=False)


def test_a_training_run_checkpoint_runs_as_pipeline_and_exports_anywhere(tmp_path, small_folder):
    """python -m semcom.train, then its last.pt (or its folder) as pipeline=learned with nothing else
    given; export into any folder, which then loads the same."""
    from semcom.jscc.checkpoints import load_checkpoint
    from semcom.jscc.export import main as export_main
    from semcom.jscc.training import train

    cfg = compose(["model=deepjscc", "ratio=1/16", "steps=2", "batch_size=2", "crop=32", "eval_every=1000", "data.train=[natural/CSet5]",
                   "data.val=[]", f"out_root={tmp_path / 'runs'}", "progress=false"], config_name="train")
    from omegaconf import OmegaConf

    run = train(OmegaConf.to_container(cfg, resolve=True))
    assert (run / "last.pt").is_file() and run.name == "deepjscc-awgn-r1_16"
    job = compose([*FAST, "pipeline=learned", f"pipeline.checkpoint={run}", "ratio=1/16", "dataset=folder",
                   f"dataset.path={small_folder}", "snr_db=[10]"])
    df = run_job(job, tmp_path / "job", progress=False)
    assert set(df.pipeline) == {"deepjscc-awgn-r1_16"} and df.psnr.notna().all()
    assert export_main([str(run / "last.pt"), "mine", "--out", str(tmp_path / "ckpts")]) == 0
    model, meta = load_checkpoint(str(tmp_path / "ckpts" / "mine.pt"))
    again, _ = load_checkpoint(str(run / "last.pt"))
    assert meta["model_target"] == "semcom.jscc.deepjscc.DeepJSCC"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_python_api_equals_the_command_line(tmp_path, small_folder):
    """semcom.evaluate with a model object, a name and a tensor dataset gives the CLI's numbers."""
    import semcom
    from semcom.datasets import load_dataset
    from semcom.jscc.checkpoints import load_checkpoint

    ds = {"name": "folder", "path": str(small_folder)}
    model, _ = load_checkpoint("deepjscc-awgn-r1_16")
    res = semcom.evaluate([model, "jpeg_capacity"], dataset=ds, channels=["awgn", "rayleigh_block"], snr_db=[1, 10], ratio="1/16",
                          metrics=["psnr"], out_dir=tmp_path / "api", progress=False, figures=True)
    assert len(res.table) == 2 * 2 * 2 * 2 and set(res.summary.pipeline) == {"deepjscc", "jpeg_capacity"}
    assert (tmp_path / "api" / "figures" / "psnr_vs_snr.png").is_file() and res.figure("psnr", tmp_path / "f")[0].is_file()
    cli = run_job(compose(["pipeline=deepjscc", "pipeline.checkpoint=deepjscc-awgn-r1_16", "channel=rayleigh_block", "dataset=folder", f"dataset.path={small_folder}",
                           "snr_db=[1,10]", "ratio=1/16", "metrics=[psnr]", "plots=false"]), tmp_path / "cli", progress=False)
    api = res.table[(res.table.pipeline == "deepjscc") & (res.table.channel == "rayleigh_block")]
    key = ["image", "snr_db"]
    assert np.array_equal(api.sort_values(key).psnr.to_numpy(), cli.sort_values(key).psnr.to_numpy())
    images = torch.stack([it.image for it in load_dataset("folder", str(small_folder)).items])
    t = semcom.evaluate(["jpeg_capacity"], dataset=images, snr_db=[10], metrics=["psnr"], out_dir=tmp_path / "t", progress=False)
    assert sorted(t.table.image) == ["image_000", "image_001"] and t.table.psnr.notna().all()
    with pytest.raises(SemcomError, match="x / 255"):
        semcom.evaluate(["jpeg_capacity"], dataset=images * 255, snr_db=[10], out_dir=tmp_path / "bad", progress=False)
