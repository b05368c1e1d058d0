"""run_job against a result store: resume, force, mixed settings refused, saved reconstructions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from semcom.runner.config import compose
from semcom.errors import SemcomError
from semcom.runner.job import run_job
from semcom.store.reconstructions import read_meta, scan
from semcom.store.parts import ResultStore


def _cfg(folder, *extra):
    return compose(["pipeline=jpeg_capacity", "dataset=folder", f"dataset.path={folder}", "ratio=1/16", "metrics=[psnr]",
                    "plots=false", *extra])


def _part_rows(store: ResultStore) -> int:
    return sum(len(pd.read_parquet(p)) for p in store.parts())


def test_resume_skips_stored_keys_force_recomputes(tmp_path, small_folder):
    store = ResultStore(tmp_path / "store" / "results.parts")
    df = run_job(_cfg(small_folder, "snr_db=[5]"), tmp_path / "job1", progress=False, store_dir=tmp_path / "store")
    assert len(df) == 2 and _part_rows(store) == 2
    # the row carries the key and the whole config that produced it
    row = df.iloc[0]
    assert json.loads(row.config) == {**json.loads(row.config), "snr_db": [5], "ratio": "1/16", "metrics": ["psnr"]}
    assert json.loads(row.config)["pipeline"]["kind"] == "capacity" and row.ratio == 0.0625 and row.device == "cpu"
    # same job again: nothing computed, nothing written
    run_job(_cfg(small_folder, "snr_db=[5]"), tmp_path / "job2", progress=False, store_dir=tmp_path / "store")
    assert _part_rows(store) == 2
    # one more SNR point (another job folder, as a renumbered multirun job would have): only the new keys
    df3 = run_job(_cfg(small_folder, "snr_db=[5,12]"), tmp_path / "job3", progress=False, store_dir=tmp_path / "store")
    assert _part_rows(store) == 4 and len(df3) == 4
    assert {json.dumps(json.loads(c)["snr_db"]) for c in df3[df3.snr_db == 5].config} == {"[5]"}  # kept, not recomputed
    # force=true recomputes every key of the job; reading keeps one row per key, the newest
    df4 = run_job(_cfg(small_folder, "snr_db=[5,12]", "force=true"), tmp_path / "job4", progress=False, store_dir=tmp_path / "store")
    assert _part_rows(store) == 8 and len(store.load()) == 4 and len(df4) == 4
    assert all(json.loads(c)["force"] for c in store.load().config)
    pd.testing.assert_series_equal(df3.sort_values(["snr_db", "image"]).psnr.reset_index(drop=True),
                                   df4.sort_values(["snr_db", "image"]).psnr.reset_index(drop=True))  # same seed, same numbers


def test_a_new_metric_recomputes_the_rows(tmp_path, small_folder):
    run_job(_cfg(small_folder, "snr_db=[5]"), tmp_path, progress=False)
    df = run_job(_cfg(small_folder, "snr_db=[5]", "metrics=[psnr,ssim]"), tmp_path, progress=False)
    assert df.ssim.notna().all() and len(df) == 2


def test_store_refuses_rows_of_the_same_name_with_other_settings(tmp_path, small_folder):
    run_job(_cfg(small_folder, "snr_db=[5]"), tmp_path / "a", progress=False, store_dir=tmp_path / "s")
    with pytest.raises(SemcomError, match=r"pipeline 'jpeg_capacity' with other parameters \(fallback: 'grey' -> 'black'\).*pipeline.name="):
        run_job(_cfg(small_folder, "snr_db=[5]", "fallback=black"), tmp_path / "b", progress=False, store_dir=tmp_path / "s")
    # a channel's key is its label, which names its non-default settings: both coexist
    run_job(_cfg(small_folder, "snr_db=[5]", "channel=rayleigh_block"), tmp_path / "c", progress=False, store_dir=tmp_path / "s")
    df = run_job(_cfg(small_folder, "snr_db=[5]", "channel=rayleigh_block", "channel.coherence=64"), tmp_path / "c2", progress=False,
                 store_dir=tmp_path / "s")
    assert set(df.channel) == {"rayleigh_block[coherence=64]"}
    df = run_job(_cfg(small_folder, "snr_db=[5]", "fallback=black", "pipeline.name=jpeg_capacity_black"), tmp_path / "d",
                 progress=False, store_dir=tmp_path / "s")
    assert set(ResultStore(tmp_path / "s" / "results.parts").load().pipeline) == {"jpeg_capacity", "jpeg_capacity_black"} and len(df) == 2


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) / 255 - b.astype(np.float64) / 255) ** 2)
    return 10 * np.log10(1 / mse)


def test_save_reconstructions_and_the_grid(tmp_path, small_folder):
    from semcom.plot import main as plot_main
    from semcom.plot import plot_reconstruction_grid

    df = run_job(_cfg(small_folder, "snr_db=[3,12]", "save_reconstructions=[b]"), tmp_path, progress=False)
    table = scan(tmp_path)
    rec = table[~table.reference]
    assert set(table.image) == {"b.png"} and len(rec) == 2 and table.reference.sum() == 1
    ref = np.asarray(Image.open(table[table.reference].path.iloc[0]))
    assert np.array_equal(ref, np.asarray(Image.open(small_folder / "b.png")))
    for _, r in rec.iterrows():
        # the PNG is exactly what was scored: its PSNR against the reference is the row's
        row = df[(df.image == "b.png") & (df.snr_db == r.snr_db)].iloc[0]
        assert _psnr(ref, np.asarray(Image.open(r.path))) == pytest.approx(row.psnr, abs=1e-6) == pytest.approx(r.psnr)
        assert read_meta(r.path)["failed"] == bool(row.failed)
    # a resumed job recomputes a selected row whose PNG went missing, and only that row
    store = ResultStore(tmp_path / "results.parts")
    n_before = _part_rows(store)
    Path(rec.path.iloc[0]).unlink()
    run_job(_cfg(small_folder, "snr_db=[3,12]", "save_reconstructions=[b]"), tmp_path, progress=False)
    assert _part_rows(store) == n_before + 1 and len(scan(tmp_path)) == 3
    fig, choice = plot_reconstruction_grid(tmp_path)
    assert choice["image"] == "b.png" and choice["snr_db"] == [3.0, 12.0] and choice["pipelines"] == ["jpeg_capacity"]
    captions = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert len(captions) == 2 and all(c == "lost" or c.endswith(" dB") for c in captions)
    assert plot_main(["grid", str(tmp_path), "--snr", "12"]) == 0
    assert (tmp_path / "figures" / "reconstructions_b_awgn_rho0.0625.pdf").is_file()
    with pytest.raises(SemcomError, match="saved SNRs are 3, 12"):
        plot_reconstruction_grid(tmp_path, snrs=[7.0])
    with pytest.raises(SemcomError, match="not in the dataset: choose from a.png, b.png"):
        run_job(_cfg(small_folder, "snr_db=[3]", "save_reconstructions=[zz]"), tmp_path / "x", progress=False)
