"""Channel realizations, common random numbers across SNR points and pipelines, honest intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from semcom.report.summary import interval, point_stats, summarize
from semcom.runner.config import compose
from semcom.runner.job import run_job
from semcom.runner.plan import plan_job

BASE = ["channel=rayleigh_block", "metrics=[psnr]", "plots=false", "device=cpu", "ratio=1/16"]


def test_the_fade_of_an_image_is_the_same_at_every_snr_and_for_every_pipeline(tmp_path, small_folder):
    snrs = "snr_db=[-5,0,5,10,20]"
    plans = [plan_job(compose([*BASE, f"pipeline={p}", "dataset=folder", f"dataset.path={small_folder}", snrs, "realizations=3"]),
                      None, tmp_path / p) for p in ("jpeg_capacity", "deepjscc")]
    for plan in plans:
        gains = {}
        for c in plan.cells:
            gains.setdefault((c.item, c.realization), set()).add(complex(plan.channel.gains((1, 8), [plan.generator(c)], "cpu")[0, 0]))
        assert all(len(g) == 1 for g in gains.values())  # one fade per (image, realization), whatever the SNR
        assert len({next(iter(g)) for g in gains.values()}) == len(gains)  # realizations are independent draws
    a, b = ({(c.item, c.snr_db, c.realization): plan.generator(c).initial_seed() for c in plan.cells} for plan in plans)
    assert a == b  # the same generators for both pipelines


def test_capacity_budget_of_a_realization_never_falls_as_snr_rises(tmp_path, small_folder):
    """Under block fading with common random numbers, each (image, realization) keeps its fade,
    so its capacity budget (and the bound's bits) only grow with the SNR."""
    cfg = compose([*BASE, "pipeline=jpeg_capacity", "dataset=folder", f"dataset.path={small_folder}", "snr_db=[-4,0,4,8,12,16]",
                   "realizations=4"])
    df = run_job(cfg, tmp_path, progress=False)
    assert len(df) == 2 * 6 * 4 and set(df.realization) == {0, 1, 2, 3}
    for _, g in df.groupby(["image", "realization"]):
        g = g.sort_values("snr_db")
        assert (np.diff(g.capacity_bits.to_numpy()) > 0).all()
        assert (np.diff(g.failed.to_numpy().astype(int)) <= 0).all()  # once it fits, it fits at every higher SNR
    summary = summarize(df)
    assert (summary["n"] == 2).all() and (summary["realizations"] == 4).all()
    one = df[(df.snr_db == 4.0)].groupby("image").psnr.mean()  # realizations averaged per image first
    assert summary[summary.snr_db == 4.0].psnr.iloc[0] == pytest.approx(one.mean())
    assert summary[summary.snr_db == 4.0].failed_rate.iloc[0] == pytest.approx(df[df.snr_db == 4.0].failed.mean())


def test_intervals_treat_the_image_as_the_unit_and_stay_in_range():
    rows = [{"dataset": "d", "pipeline": "p", "checkpoint": "", "channel": "c", "ratio": 0.1, "snr_db": 1.0, "image": f"i{i}",
             "realization": r, "psnr": 1.0 + 0.5 * i + (r == 1) * 90.0} for i in range(6) for r in range(2)]
    df = pd.DataFrame(rows)
    stats = point_stats(df, ["snr_db"], "psnr", "t").iloc[0]
    per_image = 1.0 + 0.5 * np.arange(6) + 45.0
    assert stats["n"] == 6 and stats["mean"] == pytest.approx(per_image.mean())
    lo, hi = interval(per_image, "t")
    assert (stats["lo"], stats["hi"]) == pytest.approx((lo, hi))
    # a 2-image band would run below 0 dB: clipped to PSNR's range [0, 100]
    tiny = pd.DataFrame([{**rows[0], "image": "a", "psnr": 2.0}, {**rows[0], "image": "b", "psnr": 60.0}])
    t2 = point_stats(tiny, ["snr_db"], "psnr", "t").iloc[0]
    assert t2["lo"] == 0.0 and t2["hi"] == 100.0
    assert np.isnan(point_stats(tiny, ["snr_db"], "psnr", "auto").iloc[0]["lo"])  # below 5 images: no band
    boot = point_stats(df, ["snr_db"], "psnr", "bootstrap").iloc[0]
    assert per_image.min() <= boot["lo"] < boot["mean"] < boot["hi"] <= per_image.max()
