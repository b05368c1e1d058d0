"""Metrics in the runner: checkpoints recorded per row, set metrics per point surviving resume,
default / all selection that skips metrics whose weights are missing and says why."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
import torch

from semcom.runner.config import compose, preflight
from semcom.errors import SemcomError
from semcom.runner.job import run_job

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
    recorded = json.loads(df["metric_ids"].iloc[0])
    assert recorded["psnr"].startswith("semcom.metrics.pixel.PSNR|None|")
    assert recorded["lpips"].split("|")[1].startswith("torchvision/alexnet@fc39e1bc1d88+lpips/lin-alex@")
    assert recorded["fid"].split("|")[1] == "inception/pool3@7ff4a85c3a63"
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


@pytest.mark.parametrize("pipeline", ["deepjscc", "jpeg_ldpc"])
def test_cells_of_several_snr_points_share_one_call_with_the_same_results(tmp_path, small_folder, monkeypatch, pipeline):
    """batch_size counts (image, SNR) cells: 2 images x 3 SNRs with batch_size=16 is one pipeline
    call (per-image SNRs), and every row equals the one computed a cell at a time (batch_size=1:
    six calls), since noise comes from per-(image, SNR) generators, not from the batch (up to float
    rounding of a convolution run on another batch size: a pixel may round the other way)."""
    from semcom.pipelines.base import build_pipeline as real_build

    calls = []

    def counting_build(*args, **kwargs):
        p = real_build(*args, **kwargs)
        transmit = p.transmit

        def wrapped(images, snr_db, channel, rng):
            calls.append((images.shape[0], tuple(torch.as_tensor(snr_db).reshape(-1).tolist())))
            return transmit(images, snr_db, channel, rng)

        p.transmit = wrapped
        return p

    monkeypatch.setattr("semcom.runner.plan.build_pipeline", counting_build)
    common = [f"pipeline={pipeline}", "snr_db=[1,7,13]", "metrics=[psnr,lpips]", "ratio=1/6" if pipeline == "jpeg_ldpc" else "ratio=1/16"]
    one = run_job(_cfg(small_folder, *common, "batch_size=16"), tmp_path / "one", progress=False)
    assert calls == [(6, (1.0, 1.0, 7.0, 7.0, 13.0, 13.0))]
    calls.clear()
    cellwise = run_job(_cfg(small_folder, *common, "batch_size=1"), tmp_path / "cells", progress=False)
    assert len(calls) == 6 and all(n == 1 for n, _ in calls)
    cols = ["image", "snr_db", "psnr", "lpips", "bits", "failed"]
    a = one[cols].sort_values(["image", "snr_db"]).reset_index(drop=True)
    b = cellwise[cols].sort_values(["image", "snr_db"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-3, rtol=0)
    assert a.groupby("image").psnr.apply(lambda s: s.is_monotonic_increasing).all()  # better with SNR, per image


def test_source_encodings_are_kept_with_the_store_and_reused(tmp_path, small_folder, monkeypatch):
    """Without $SEMCOM_ENCODING_CACHE the jobs of one store share encodings on disk under
    <store>/encodings: a second job (a new process would start with an empty memory cache)
    encodes nothing the first one already encoded."""
    from semcom.codecs import cache as cache_module

    monkeypatch.delenv("SEMCOM_ENCODING_CACHE", raising=False)
    monkeypatch.setattr(cache_module, "_BY_FOLDER", {})  # what a fresh process has
    store = tmp_path / "store"
    run_job(_cfg(small_folder, "snr_db=[5,10]", "metrics=[psnr]", f"results_dir={store}"), tmp_path / "job1", progress=False)
    cache = cache_module.store_cache(store / "encodings")  # the object the job was handed
    files = list((store / "encodings").rglob("*.bin"))
    assert files and cache.misses == len(files)
    monkeypatch.setattr(cache_module, "_BY_FOLDER", {})  # the next job's process: empty memory, same store
    df = run_job(_cfg(small_folder, "snr_db=[5,10]", "metrics=[psnr]", "channel=rayleigh_block", f"results_dir={store}"),
                 tmp_path / "job2", progress=False)
    cache = cache_module.store_cache(store / "encodings")
    assert len(df) == 4 and cache.hits > 0
    assert cache.misses == len(list((store / "encodings").rglob("*.bin"))) - len(files)  # only qualities not seen before
    monkeypatch.setenv("SEMCOM_ENCODING_CACHE", str(tmp_path / "mine"))
    assert cache_module.store_cache(store / "encodings").disk_dir == (tmp_path / "mine").resolve()  # $SEMCOM_ENCODING_CACHE wins


def test_a_reconstruction_scored_before_is_not_scored_again(tmp_path, small_folder, monkeypatch):
    """A digital chain shows the same pixels at several cells: each image error-free at 20 and
    25 dB (same MCS, same bytes) and grey at -10 and -8 dB (every block lost). Of the 8 cells
    the runner scores 4 (image x {grey, decoded}) with LPIPS and extracts FID features of 3
    (the grey images of the two same-size references are one content); the rows equal those of
    a run that scores all 8 cells one by one with the memo off, and repeated cells repeat."""
    from semcom.metrics.distribution import FID
    from semcom.metrics.lpips import LPIPS
    from semcom.runner import references, score_memo

    scored, extracted = [], []
    lpips_cols, fid_feats = LPIPS.score_columns, FID.features
    monkeypatch.setattr(LPIPS, "score_columns", lambda self, st, rec: scored.append(rec.shape[0]) or lpips_cols(self, st, rec))
    monkeypatch.setattr(FID, "features", lambda self, imgs: extracted.append(imgs.shape[0]) or fid_feats(self, imgs))
    common = ["pipeline=jpeg_ldpc", "ratio=1/6", "snr_db=[-10,-8,20,25]", "metrics=[psnr,ms_ssim,lpips,fid]"]
    monkeypatch.setattr(score_memo, "_BY_FOLDER", {})
    monkeypatch.setattr(references, "_PROCESS_CACHE", references.ReferenceCache())  # the 2 references' features: computed once below
    fast = run_job(_cfg(small_folder, *common, "batch_size=16"), tmp_path / "memo", progress=False)
    assert fast["failed"].tolist().count(True) == 4 and sum(scored) == 4 and sum(extracted) == 3 + 2
    scored.clear()
    extracted.clear()
    monkeypatch.setattr(score_memo, "_BY_FOLDER", {})
    monkeypatch.setattr(score_memo.ScoreMemo, "__init__", _no_memory(score_memo.ScoreMemo.__init__))
    slow = run_job(_cfg(small_folder, *common, "batch_size=1"), tmp_path / "plain", progress=False)
    assert sum(scored) == 8 and sum(extracted) == 8
    cols = ["image", "snr_db", "failed", "psnr", "ms_ssim", "lpips"]
    a = fast[cols].sort_values(["image", "snr_db"]).reset_index(drop=True)
    b = slow[cols].sort_values(["image", "snr_db"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-5, rtol=0)
    for _, g in a.groupby("image"):
        assert g.psnr.iloc[0] == g.psnr.iloc[1] < 20 < g.psnr.iloc[2] == g.psnr.iloc[3]
    fid = [pd.read_parquet(d / "points.parquet").sort_values("snr_db")["fid"].to_numpy() for d in (tmp_path / "memo", tmp_path / "plain")]
    assert fid[0] == pytest.approx(fid[1], rel=1e-9)


def _no_memory(init):
    def patched(self, folder=None, max_entries=0):
        init(self, folder, 0)
    return patched


def test_stochastic_metrics_are_never_memoised():
    from semcom.metrics import get_metric
    from semcom.runner import score_memo

    assert score_memo.metric_key(get_metric("psnr")) == ("psnr", "None", "{}")
    assert score_memo.metric_key(get_metric("psnr"), {"a": 1}) != score_memo.metric_key(get_metric("psnr"))
    lossy = get_metric("psnr")
    lossy.deterministic = False
    assert score_memo.metric_key(lossy) is None
    memo = score_memo.ScoreMemo()
    memo.put(("k",), 1.0)
    assert memo.unique_missing([None, ("k",), ("j",), ("j",), None]) == [0, 2, 4]


def test_scores_are_shared_on_disk_by_the_jobs_of_a_store(tmp_path, small_folder, monkeypatch):
    """The memo is kept beside the store (<store>/scores): a job over Rayleigh fading in a fresh
    process (memory cleared) scores only the cells whose pixels the AWGN job did not score, i.e.
    the images a fade lost (grey), since an image decoded error-free is the same bytes on both
    channels; force=true ignores the memo."""
    from semcom.runner import score_memo
    from semcom.metrics.lpips import LPIPS

    scored = []
    lpips_cols = LPIPS.score_columns
    monkeypatch.setattr(LPIPS, "score_columns", lambda self, st, rec: scored.append(rec.shape[0]) or lpips_cols(self, st, rec))
    store = tmp_path / "store"
    common = ["pipeline=jpeg_ldpc", "ratio=1/6", "snr_db=[25,30]", "metrics=[psnr,lpips]", f"results_dir={store}"]
    monkeypatch.setattr(score_memo, "_BY_FOLDER", {})
    awgn = run_job(_cfg(small_folder, *common), tmp_path / "awgn", progress=False)
    assert not awgn.failed.any() and sum(scored) == 2 and len(list((store / "scores").glob("part-*.pkl"))) == 1
    scored.clear()
    monkeypatch.setattr(score_memo, "_BY_FOLDER", {})  # a new worker process
    fading = run_job(_cfg(small_folder, *common, "channel=rayleigh_block"), tmp_path / "fading", progress=False)
    assert sum(scored) == fading[fading.failed].image.nunique()  # a grey per image that a fade lost, whatever the SNR
    ok = fading[~fading.failed].merge(awgn, on=["image", "snr_db"], suffixes=("", "_awgn"))
    assert len(ok) and (ok.lpips == ok.lpips_awgn).all() and (ok.psnr == ok.psnr_awgn).all()
    scored.clear()
    run_job(_cfg(small_folder, *common, "channel=rayleigh_block", "force=true"), tmp_path / "fading", progress=False)
    assert sum(scored) == fading.groupby(["image", "failed"]).ngroups  # recomputed (the call's own repeats aside)
