"""The example plugin used as a researcher would: installed beside semcom, named on the command line.

Needs ``pip install -e examples/semcom-example`` (the project's test command does it) and the
offline data of the project's tests (``SEMCOM_DATA``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared"
os.environ.setdefault("SEMCOM_DATA", str(SHARED / "data"))
os.environ.setdefault("SEMCOM_WEIGHTS", str(SHARED / "weights"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def semcom(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_semcom_lists_the_plugin_components(tmp_path):
    out = semcom("semcom", "list", "model", "codec", "channel", "metric", cwd=tmp_path).stdout
    for name, target in [("tinyjscc", "semcom_example.model.TinyJSCC"), ("halfpng", "semcom_example.codec.DownsampledPNG"),
                         ("nakagami", "semcom_example.channel.Nakagami"), ("mae", "semcom_example.metric.MAE")]:
        line = next(l for l in out.splitlines() if l.strip().startswith(name + " "))
        assert "semcom-example 0.1.0" in line and target in line


def test_the_codec_fits_a_budget_and_decodes():
    from semcom.codecs import build_codec, fit_to_budget
    from semcom.codecs.cache import EncodingCache

    image = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    codec = build_codec("halfpng")
    sizes = [len(codec.encode(image, q)) for q in codec.qualities]
    assert sizes == sorted(sizes)  # rate grows with quality
    enc = fit_to_budget(codec, image, 8 * sizes[7], EncodingCache())
    assert enc.quality == 8 and codec.decode(enc.data, (64, 96)).shape == (64, 96, 3)
    assert np.array_equal(codec.decode(codec.encode(image, 16), (64, 96)), image)  # q = 16: lossless


def test_the_channel_has_unit_power_and_nakagami_statistics():
    from semcom.channels import build_channel
    from semcom.randomness import generator

    ch = build_channel({"name": "nakagami", "m": 4})
    h = ch.gains((20000, 1), generator(0), "cpu")[:, 0]
    power = h.abs().square()
    assert float(power.mean()) == pytest.approx(1.0, abs=0.03)
    assert float(power.var()) == pytest.approx(1 / 4, rel=0.1)  # Gamma(m, 1/m): variance 1/m


def test_train_then_sweep_beside_builtins_then_python_api(tmp_path):
    """Train TinyJSCC for a few steps (by plugin name and by _target_), run it from its checkpoint
    in a sweep beside built-in pipelines and the plugin codec, channel and metric; the Python API
    gives the same numbers for the same settings."""
    train = ["semcom.train", "model=tinyjscc", "ratio=1/16", "steps=4", "batch_size=2", "crop=32", "eval_every=1000",
             "data.train=[natural/CSet5]", "data.val=[]", "out_root=runs", "progress=false"]
    semcom(*train, cwd=tmp_path)
    last = tmp_path / "runs" / "tinyjscc-awgn-r1_16" / "last.pt"
    assert last.is_file()
    semcom("semcom.train", "model._target_=semcom_example.model.TinyJSCC", "+model.width=8", "name=tiny8", *train[2:], cwd=tmp_path)
    assert torch.load(tmp_path / "runs" / "tiny8" / "last.pt", weights_only=False)["model_config"]["width"] == 8

    sweep = tmp_path / "sweep"
    common = ["channel=nakagami", "+channel.m=2", "dataset.limit=2", "snr_db=[1,10]", "ratio=1/16", "metrics=[psnr,mae]"]
    semcom("semcom.run", "-m", "pipeline=jpeg_capacity", *common, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    # no DeepJSCC was trained for this channel: the AWGN one is named explicitly
    semcom("semcom.run", "pipeline=deepjscc", "pipeline.checkpoint=deepjscc-awgn-r1_16", *common, f"results_dir={sweep}",
           f"hydra.run.dir={tmp_path / 'deepjscc'}", cwd=tmp_path)
    semcom("semcom.run", "pipeline=learned", f"pipeline.checkpoint={last}", *common, f"results_dir={sweep}",
           f"hydra.run.dir={tmp_path / 'learned'}", cwd=tmp_path)
    semcom("semcom.run", "pipeline=jpeg_capacity", "pipeline.codec=halfpng", "pipeline.name=halfpng_capacity", *common,
           f"results_dir={sweep}", f"hydra.run.dir={tmp_path / 'codec'}", cwd=tmp_path)
    semcom("semcom.results", "merge", str(sweep), "--no-plots", cwd=tmp_path)
    df = pd.read_parquet(sweep / "results.parquet")
    assert set(df.pipeline) == {"tinyjscc-awgn-r1_16", "jpeg_capacity", "deepjscc", "halfpng_capacity"}
    assert len(df) == 4 * 2 * 2 and df["mae"].between(0, 1).all() and (df.channel == "nakagami").all()  # m=2 is the default: no [m=2] in the label
    assert df[df.pipeline == "halfpng_capacity"].codec.str.startswith("downsampled-png").all()

    import semcom as sc
    from semcom.jscc.checkpoints import load_checkpoint

    model, _ = load_checkpoint(str(last))  # the trained nn.Module, as a user holds it after training
    res = sc.evaluate([model], dataset={"name": "builtin", "limit": 2}, channels=[{"name": "nakagami", "m": 2}], snr_db=[1, 10],
                      ratio="1/16", metrics=["psnr", "mae"], out_dir=tmp_path / "api", progress=False)
    cli = df[df.pipeline == "tinyjscc-awgn-r1_16"].sort_values(["image", "snr_db"])
    api = res.table.sort_values(["image", "snr_db"])
    assert len(api) == 4 and api.pipeline.iloc[0] == "tinyjscc"
    assert np.array_equal(api["psnr"].to_numpy(), cli["psnr"].to_numpy())
    assert np.array_equal(api["mae"].to_numpy(), cli["mae"].to_numpy())
