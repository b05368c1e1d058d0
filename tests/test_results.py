"""Result store, summary, figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from semcom.results import ResultStore, summarize, write_outputs


def _rows(pipeline, snr, psnrs, failed=None):
    failed = failed or [False] * len(psnrs)
    return [
        {"dataset": "d", "image": f"i{j}", "pipeline": pipeline, "checkpoint": "", "channel": "awgn", "snr_db": snr,
         "ratio": 0.0625, "seed": 0, "bits": 1000 * (j + 1), "channel_uses": 10, "bpp": 0.1, "ratio_used": 0.06,
         "failed": f, "height": 8, "width": 8, "psnr": p}
        for j, (p, f) in enumerate(zip(psnrs, failed))
    ]


def test_store_append_load_dedupe(tmp_path):
    store = ResultStore(tmp_path / "parts")
    store.append(_rows("a", 1.0, [10.0, 20.0]))
    store.append(_rows("a", 1.0, [30.0, 40.0]))  # same keys: latest wins
    store.append(_rows("a", 4.0, [50.0]))
    df = store.load()
    assert len(df) == 3
    assert sorted(df[df.snr_db == 1.0].psnr) == [30.0, 40.0]
    assert len(store.keys()) == 3
    assert not list((tmp_path / "parts").glob(".*tmp"))


def test_summary_mean_over_images_and_psnr_of_mean_mse():
    df = pd.DataFrame(_rows("a", 1.0, [10.0, 30.0], failed=[True, False]))
    s = summarize(df)
    assert len(s) == 1
    assert s.psnr[0] == pytest.approx(20.0)
    assert s.failed_rate[0] == pytest.approx(0.5)
    assert s.n[0] == 2
    assert s.psnr_of_mean_mse[0] == pytest.approx(-10 * np.log10((0.1 + 0.001) / 2))


def test_write_outputs(tmp_path):
    df = pd.DataFrame(_rows("a", 1.0, [10.0, 30.0]) + _rows("a", 4.0, [12.0, 33.0]) + _rows("b_capacity", 1.0, [20.0, 25.0]))
    written = write_outputs(df, tmp_path)
    assert pd.read_parquet(written["results"]).shape[0] == 6
    assert (tmp_path / "figures" / "psnr_vs_snr.png").stat().st_size > 1000
    assert (tmp_path / "figures" / "psnr_vs_snr.pdf").read_bytes()[:4] == b"%PDF"
