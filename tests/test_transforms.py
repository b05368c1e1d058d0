"""Transformation suite: each transformation against its definition, the transform pipeline,
the separation AUC, and a tiny sweep=transform through the ordinary runner."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from semcom.errors import SemcomError
from semcom.pipelines.base import build_pipeline
from semcom.transforms import TRANSFORMS, apply_transform
from semcom.transforms.separation import auc, separation_table

REPO = Path(__file__).resolve().parents[1]
KODAK = Path(os.environ["SEMCOM_DATA"]) / "kodak"


def _img(h=32, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (0.2 + 0.6 * torch.rand(1, 3, h, w, generator=g))


def test_strength_zero_is_identity_and_range_kept():
    x, d = _img(), _img(seed=1)
    for name in TRANSFORMS:
        assert torch.equal(apply_transform(name, x, 0.0, donor=d), x), name
        y = apply_transform(name, x, 1.0, rng=torch.Generator().manual_seed(3), donor=d)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1, name
        assert not torch.allclose(y, x, atol=1e-3), name  # every transformation does something at s = 1


def test_geometric_transforms_move_pixels_where_defined():
    x = _img(40, 40)
    assert torch.equal(apply_transform("hflip", x, 0.3), x.flip(-1))
    t = apply_transform("translate", x, 1.0)  # 10 % of 40 px = 4 px right and down
    assert torch.allclose(t[..., 4:, 4:], x[..., :-4, :-4], atol=1e-5)
    # a blob 10 px right of the centre turns 10 degrees counter-clockwise (up on screen)
    blob = torch.zeros(1, 3, 41, 41)
    yy, xx = torch.meshgrid(torch.arange(41.0), torch.arange(41.0), indexing="ij")
    blob[:] = torch.exp(-((xx - 30) ** 2 + (yy - 20) ** 2) / 4.0)
    r = apply_transform("rotate", blob, 1.0)[0, 0]
    cx, cy = float((r * xx).sum() / r.sum()), float((r * yy).sum() / r.sum())
    a = math.radians(10)
    assert cx == pytest.approx(20 + 10 * math.cos(a), abs=0.15) and cy == pytest.approx(20 - 10 * math.sin(a), abs=0.15)


def test_photometric_transforms_against_closed_forms():
    x = _img()
    c = apply_transform("contrast", x, 0.6)  # no clamping in this range
    assert torch.allclose(c.mean(dim=(-2, -1)), x.mean(dim=(-2, -1)), atol=1e-6)
    assert torch.allclose(c.std(dim=(-2, -1)), x.std(dim=(-2, -1)) * 0.7, rtol=1e-5)
    assert torch.allclose(apply_transform("brightness", x, 0.5), (x + 0.1).clamp(0, 1))
    x2 = 0.35 + 0.3 * _img(seed=4)
    h = apply_transform("hue", x2, 1.0)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    inside = (h > 0.001) & (h < 0.999)
    assert inside.all()  # no clamping here, so the luminance Y is exactly preserved
    assert torch.allclose((h * luma).sum(1), (x2 * luma).sum(1), atol=1e-5)
    grey = torch.full((1, 3, 8, 8), 0.4)
    assert torch.allclose(apply_transform("hue", grey, 1.0), grey, atol=1e-6)
    mse = [float(((apply_transform("jpeg", x, s) - x) ** 2).mean()) for s in (0.25, 1.0)]
    assert 0 < mse[0] < mse[1]
    var = [float(apply_transform("blur", x, s).var()) for s in (0.3, 1.0)]
    assert x.var() > var[0] > var[1]


def test_changing_transforms_against_definitions():
    x, d = _img(64, 64), _img(64, 64, seed=5)
    assert torch.allclose(apply_transform("blend", x, 0.3, donor=d), 0.7 * x + 0.3 * d, atol=1e-6)
    r = apply_transform("replace", x, 0.25, donor=d)  # side 0.8 * 0.5 = 0.4 -> 26 px centred (19..45)
    assert torch.equal(r[..., 19:45, 19:45], d[..., 19:45, 19:45]) and torch.equal(r[..., :19, :], x[..., :19, :])
    s = apply_transform("shuffle", x, 1.0, rng=torch.Generator().manual_seed(0))  # 8 x 8 patches of 8 px
    assert torch.equal(s.flatten().sort().values, x.flatten().sort().values) and not torch.equal(s, x)
    patches = {tuple(x[0, :, i : i + 8, j : j + 8].flatten().tolist()) for i in range(0, 64, 8) for j in range(0, 64, 8)}
    assert all(tuple(s[0, :, i : i + 8, j : j + 8].flatten().tolist()) in patches for i in range(0, 64, 8) for j in range(0, 64, 8))
    quads = torch.zeros(1, 3, 64, 64)
    quads[..., :32, :32], quads[..., :32, 32:], quads[..., 32:, :32], quads[..., 32:, 32:] = 0.1, 0.4, 0.7, 1.0
    out = apply_transform("crop_out", quads, 1.0, rng=torch.Generator().manual_seed(1))  # a 16 px corner: one quadrant only
    assert float(out.std()) < 1e-5 and round(float(out.mean()), 4) in (0.1, 0.4, 0.7, 1.0)


def test_transform_pipeline_names_donors_and_rows():
    p = build_pipeline({"kind": "transform", "transform": "blend", "strength": 0.5, "name": None}, ratio=1 / 6)
    assert p.name == "blend@0.5" and p.params()["family"] == "changing"
    a, b = _img(seed=1)[0], _img(16, 24, seed=2)[0]  # the donor is resized to the image
    p.prepare([a, b], [0.0], None, None)
    tx = p.transmit(a[None], 0.0, None, [torch.Generator().manual_seed(0)])
    donor = torch.nn.functional.interpolate(b[None], size=a.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
    assert torch.allclose(tx.reconstructions, 0.5 * a[None] + 0.5 * donor.clamp(0, 1), atol=1e-6)
    assert tx.extras == {"transform": ["blend"], "family": ["changing"], "strength": [0.5]} and int(tx.bits[0]) == 0
    with pytest.raises(SemcomError, match="snr_db=\\[0\\]"):
        p.prepare([a, b], [0.0, 5.0], None, None)
    lone = build_pipeline({"kind": "transform", "transform": "replace", "strength": 1.0}, ratio=1 / 6)
    with pytest.raises(SemcomError, match="second image"):
        lone.transmit(a[None], 0.0, None, [torch.Generator()])
    with pytest.raises(SemcomError, match="unknown transform"):
        build_pipeline({"kind": "transform", "transform": "warp"}, ratio=1 / 6)
    with pytest.raises(SemcomError, match="outside"):
        build_pipeline({"kind": "transform", "transform": "blur", "strength": 2}, ratio=1 / 6)


def test_auc_and_separation_table_by_hand():
    assert auc([3, 4], [1, 2]) == 1.0 and auc([1, 2], [3, 4]) == 0.0 and auc([1, 3], [2, 2]) == 0.5
    assert auc([2, 2], [2]) == 0.5 and np.isnan(auc([], [1]))
    rows = []
    for i, im in enumerate(["a", "b", "c"]):
        for t, fam, base in (("blur", "preserving", 30.0), ("shuffle", "changing", 10.0)):
            for s in (0.0, 0.5, 1.0):
                psnr = base - 5 * s + i
                rows.append({"image": im, "transform": t, "family": fam, "strength": s, "psnr": psnr,
                             "lpips": -psnr, "noise": float((i * 7 + len(t) * 3 + int(10 * s)) % 5)})
    df = pd.DataFrame(rows)
    table = separation_table(df, ["psnr", "lpips"], n_boot=50).set_index("metric")
    assert table.loc["psnr", "auc"] == 1.0 and table.loc["lpips", "auc"] == 1.0  # LPIPS: lower is better, oriented
    assert table.loc["psnr", "n_preserving"] == 6 and table.loc["psnr", "auc@0.5"] == 1.0
    assert table.loc["psnr", "auc_lo"] == 1.0
    df["psnr"] = np.where(df["family"] == "changing", df["psnr"] + 100, df["psnr"])
    assert separation_table(df, ["psnr"], n_boot=10)["auc"].iloc[0] == 0.0


def test_metric_validation_ci_study_through_the_runner(tmp_path):
    """experiments/metric_validation in its CI form (hflip, blur, shuffle, blend at 0.5 and 1; PSNR,
    SSIM, LPIPS): every point of its sweep composed from the study config and run by run_job into
    one store, then the multirun-end callbacks; two Kodak images shrunk to 64 x 96 stay fast."""
    from itertools import product

    from PIL import Image

    from semcom.runner.config import compose
    from semcom.runner.job import run_job
    from semcom.report.callbacks import SeparationResults

    images = tmp_path / "images"
    images.mkdir()
    for name in ("kodim05", "kodim23"):
        with Image.open(KODAK / f"{name}.png") as im:
            im.resize((96, 64), Image.BICUBIC).save(images / f"{name}.png")
    sweep = tmp_path / "sweep"
    base = ["experiment=metric_validation/ci", "dataset=folder", f"dataset.path={images}", f"hydra.sweep.dir={sweep}", "device=cpu"]
    study = compose(base, return_hydra_config=True)
    params = study.hydra.sweeper.params
    assert study.hydra.callbacks.separation._target_ == "semcom.report.callbacks.SeparationResults"
    assert list(study.snr_db) == [0] and list(study.metrics) == ["psnr", "ssim", "lpips"]
    for name, strength in product(params["transform.name"].split(","), params["transform.strength"].split(",")):
        cfg = compose([*base, f"transform.name={name}", f"transform.strength={strength}"])
        run_job(cfg, tmp_path / "jobs" / f"{name}{strength}", store_dir=sweep, progress=False, plots=False)
    SeparationResults().on_multirun_end(study)
    from semcom.report.outputs import collect

    df = collect(sweep)
    assert sorted(df["pipeline"].unique()) == ["blend@0.5", "blend@1", "blur@0.5", "blur@1", "hflip@0.5", "hflip@1",
                                               "shuffle@0.5", "shuffle@1"]
    assert len(df) == 16 and set(df["snr_db"]) == {0.0} and (df["bits"] == 0).all()
    table = pd.read_csv(sweep / "separation.csv").set_index("metric")
    assert set(table.index) == {"psnr", "ssim", "lpips"} and (table["n_preserving"] == 8).all()
    assert ((table["auc_lo"] <= table["auc"]) & (table["auc"] <= table["auc_hi"])).all()
    assert (sweep / "figures" / "separation_lpips.png").is_file()
    # the README's claim: the flip costs LPIPS more than a sigma-0.75 blur on every image
    lp = df.pivot_table(index="image", columns="pipeline", values="lpips")
    assert (lp["hflip@1"] > lp["blur@0.5"]).all()
    # hflip recomputed by hand: PSNR of the mirrored image
    from semcom.datasets import load_image
    from semcom.metrics import get_metric

    x = load_image(images / "kodim23.png")[None]
    row = df[(df["pipeline"] == "hflip@1") & (df["image"] == "kodim23.png")].iloc[0]
    assert row["psnr"] == pytest.approx(float(get_metric("psnr")(x, x.flip(-1))[0]), abs=1e-4)


def test_sweep_transform_takes_transform_keys_on_the_command_line():
    """sweep=transform selects the transform pipeline itself, so transform.* can be given with it."""
    from semcom.runner.config import compose

    cfg = compose(["sweep=transform", "transform.name=blur", "transform.strength=0.5"], return_hydra_config=True)
    assert cfg.pipeline.kind == "transform" and cfg.transform.name == "blur" and cfg.transform.strength == 0.5
    assert set(cfg.hydra.sweeper.params) == {"transform.name", "transform.strength"}
