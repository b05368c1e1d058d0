"""Rank agreement between metric columns (semcom.meta.agreement, python -m semcom.meta agree)."""

import itertools

import numpy as np
import pandas as pd
import pytest

from semcom.errors import SemcomError
from semcom.meta.__main__ import main as meta_main
from semcom.meta.agreement import agreement, matrix


def _table(rows):
    base = {"dataset": "d", "checkpoint": "", "channel": "awgn", "ratio": 1 / 16, "seed": 0, "failed": False}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_orientation_and_hand_counted_pipeline_order():
    rows = []
    # two images x two SNRs x three pipelines; psnr and lpips tell the same story (lpips lower = better);
    # "odd" orders pipelines b > a > c where psnr says c > b > a.
    quality = {"a": 20.0, "b": 25.0, "c": 30.0}
    odd = {"a": 2.0, "b": 3.0, "c": 1.0}
    for snr, img, pipe in itertools.product([1.0, 10.0], ["i1", "i2"], "abc"):
        q = quality[pipe] + snr + (0.5 if img == "i2" else 0.0)
        rows.append({"pipeline": pipe, "snr_db": snr, "image": img, "psnr": q, "lpips": 1.0 / q, "odd": odd[pipe] + snr / 100})
    t = agreement(_table(rows)).set_index(["metric_a", "metric_b"])
    assert t.loc[("psnr", "lpips"), "kendall_points"] == pytest.approx(1.0)
    assert t.loc[("psnr", "lpips"), "kendall_images"] == pytest.approx(1.0)
    assert t.loc[("psnr", "lpips"), "pipeline_order"] == 1.0 and t.loc[("psnr", "lpips"), "pipeline_pairs"] == 6
    # per SNR the pairs (a,b), (a,c), (b,c): psnr says b>a, c>a, c>b; odd says b>a, a>c, b>c -> 1 of 3 alike
    assert t.loc[("psnr", "odd"), "pipeline_order"] == pytest.approx(1 / 3)
    assert t.loc[("psnr", "odd"), "n_points"] == 6
    m = matrix(t.reset_index())
    assert m.loc["lpips", "psnr"] == pytest.approx(1.0) and np.allclose(np.diag(m), 1.0)


def test_errors_and_command_line(tmp_path, capsys):
    rows = [{"pipeline": p, "snr_db": s, "image": "i", "psnr": 10.0 + s + (p == "b"), "ms_ssim": 0.5 + s / 100 + (p == "b") / 10}
            for p in "ab" for s in (1.0, 4.0, 7.0)]
    df = _table(rows)
    with pytest.raises(SemcomError, match="no column vitscore"):
        agreement(df, ["psnr", "vitscore"])
    with pytest.raises(SemcomError, match="at least two metric columns"):
        agreement(df, ["psnr"])
    df.to_parquet(tmp_path / "results.parquet")
    assert meta_main(["agree", str(tmp_path / "results.parquet")]) == 0
    out = pd.read_csv(tmp_path / "agreement.csv")
    # psnr: a1 < b1 < a4 < b4 < a7 < b7; ms_ssim: a1 < a4 < a7 < b1 < b4 < b7 -> 3 discordant of 15 pairs
    assert out.loc[0, "kendall_points"] == pytest.approx((12 - 3) / 15) and out.loc[0, "pipeline_order"] == 1.0
    assert (tmp_path / "figures" / "agreement.pdf").is_file()
    assert "psnr" in capsys.readouterr().out
    assert meta_main(["agree", str(tmp_path / "results.parquet"), "--metrics", "psnr,bogus"]) == 2
