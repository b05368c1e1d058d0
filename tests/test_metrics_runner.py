"""Metrics in the runner: checkpoints recorded per row, set metrics per point surviving resume,
default / all selection that skips metrics whose weights are missing and says why."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from semcom.config import compose, preflight
from semcom.errors import SemcomError
from semcom.experiment import run_job

BASE = ["pipeline=jpeg_capacity", "channel=awgn", "dataset=folder", "ratio=1/16", "snr_db=[10]", "plots=false"]


def _cfg(folder, *extra):
    return compose([*BASE, f"dataset.path={folder}", *extra])


def _parts(out):
    return sorted(p.name for p in (out / "results.parts").glob("part-*.parquet"))


def test_set_metrics_per_point_survive_resume(tmp_path, small_folder):
    out = tmp_path / "out"
    # a first run without FID: rows exist, but no features
    run_job(_cfg(small_folder, "metrics=[psnr]"), out, progress=False)
    # asking for more metrics re-scores those rows (same reconstructions: per-image seeded noise)
    df = run_job(_cfg(small_folder, "metrics=[psnr,ms_ssim,lpips,fid]"), out, progress=False)
    assert len(df) == 2 and df["lpips"].between(0, 1).all() and df["ms_ssim"].notna().all()
    recorded = json.loads(df["metric_checkpoints"].iloc[0])
    assert recorded["psnr"] is None and recorded["lpips"].startswith("torchvision/alexnet@fc39e1bc1d88+lpips/lin-alex@")
    assert recorded["fid"] == "inception/pool3@7ff4a85c3a63"
    points = pd.read_parquet(out / "points.parquet")
    assert len(points) == 1 and points["fid_n"].iloc[0] == 2 and points["fid"].iloc[0] > 0
    assert "biased" in points["note"].iloc[0] and (out / "points.csv").is_file()
    assert json.loads(points["metric_checkpoints"].iloc[0]) == {"fid": "inception/pool3@7ff4a85c3a63"}
    parts = _parts(out)
    # resume: nothing transmitted or scored again, the set metric comes from the stored features
    df2 = run_job(_cfg(small_folder, "metrics=[psnr,ms_ssim,lpips,fid]"), out, progress=False)
    assert _parts(out) == parts
    points2 = pd.read_parquet(out / "points.parquet")
    assert points2["fid"].iloc[0] == pytest.approx(points["fid"].iloc[0], rel=1e-12)
    pd.testing.assert_frame_equal(df.sort_values("image").reset_index(drop=True), df2.sort_values("image").reset_index(drop=True))


def test_default_metrics_skip_missing_weights_and_say_why(tmp_path, small_folder, monkeypatch, caplog):
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SEMCOM_OFFLINE", "1")
    with caplog.at_level(logging.WARNING):
        df = run_job(_cfg(small_folder, "dataset.limit=1"), tmp_path / "out", progress=False)  # metrics=default
    assert {"psnr", "ssim", "ms_ssim"} <= set(df.columns) and "lpips" not in df.columns
    assert "metric lpips skipped: checkpoint 'torchvision/alexnet' not found: put alexnet-owt-7be5be79.pth" in caplog.text
    with pytest.raises(SemcomError, match="torchvision/alexnet"):
        run_job(_cfg(small_folder, "dataset.limit=1", "metrics=[psnr,lpips]"), tmp_path / "out2", progress=False)


def test_metric_selection_in_the_config():
    assert compose([])["metrics"] == "default"
    preflight(["metrics=all"])
    preflight(["metrics=[psnr,ms_ssim,lpips,fid]"])
    with pytest.raises(SemcomError, match="selects a set of metrics on its own"):
        preflight(["metrics=[psnr,all]"])
    with pytest.raises(SemcomError, match="unknown metric 'nope'.*dists, fid, is, kid, lpips"):
        preflight(["metrics=[nope]"])
