"""Result store, merge, summary with confidence intervals, the semcom.results command line."""

from __future__ import annotations

import io
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from semcom.report.outputs import collect, write_outputs
from semcom.report.summary import summarize, t_half_width
from semcom.results import main
from semcom.store.keys import KEY_VERSION, digest, human_key
from semcom.store.parts import ResultStore

# Student-t quantiles in closed form: 2 degrees of freedom t_p = (2p - 1) / sqrt(2 p (1 - p));
# 1 degree of freedom (Cauchy) t_p = tan(pi (p - 1/2)). For p = 0.975: 4.3026527 and 12.7062047.
T975_DOF2 = (2 * 0.975 - 1) / np.sqrt(2 * 0.975 * 0.025)
T975_DOF1 = np.tan(np.pi * 0.475)


def keyed(row: dict) -> dict:
    """A synthetic row with the identity columns a job writes (its key: a digest of its human key)."""
    return {**row, "realization": 0, "row_id": digest(list(human_key(row))), "key_version": KEY_VERSION,
            "setup_id": digest([row["pipeline"], row["channel"]])}


def _rows(pipeline, snr, psnrs, failed=None, channel="awgn"):
    failed = failed or [False] * len(psnrs)
    return [
        keyed({"dataset": "d", "image": f"i{j}", "pipeline": pipeline, "checkpoint": "", "channel": channel, "snr_db": snr,
               "ratio": 0.0625, "seed": 0, "bits": 1000 * (j + 1), "channel_uses": 10, "bpp": 0.1, "ratio_used": 0.06,
               "failed": f, "height": 8, "width": 8, "psnr": p})
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


def test_latest_part_wins_by_name_not_file_time(tmp_path):
    """Copying a store (rsync, cp) changes modification times; the order lives in the part names."""
    store = ResultStore(tmp_path)
    old = store.append(_rows("a", 1.0, [10.0]))
    new = store.append(_rows("a", 1.0, [99.0]))
    os.utime(new, ns=(1, 1))  # the newer part now looks oldest on disk
    assert store.load().psnr.tolist() == [99.0]
    assert store.parts() == [old, new]


def test_compact_keeps_every_key_and_the_latest_values(tmp_path):
    store = ResultStore(tmp_path)
    store.append(_rows("a", 1.0, [10.0, 20.0]))
    store.append(_rows("a", 1.0, [30.0]))  # supersedes i0
    store.append(_rows("a", 4.0, [50.0, 60.0]))
    before = store.load().sort_values(["snr_db", "image"]).reset_index(drop=True)
    store.compact()
    assert len(store.parts()) == 1
    after = store.load().sort_values(["snr_db", "image"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    assert after.psnr.tolist() == [30.0, 20.0, 50.0, 60.0]
    store.append(_rows("a", 1.0, [70.0]))  # a write after compaction still wins
    assert store.load().set_index(["snr_db", "image"]).psnr[(1.0, "i0")] == 70.0


def _writer(args):
    folder, k = args
    store = ResultStore(Path(folder) / "results.parts")
    for i in range(15):
        rows = _rows(f"p{k}", float(i), list(np.linspace(10, 40, 40)))
        store.append(rows)
        write_outputs(pd.DataFrame(rows), folder, plots=False)  # both processes rewrite the same tables
        # always a whole file (read in one go: a reader that opens the path twice can see two versions)
        pd.read_parquet(io.BytesIO((Path(folder) / "results.parquet").read_bytes()))
    return k


def test_two_processes_writing_one_folder_never_tear_a_file(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        assert sorted(pool.map(_writer, [(str(tmp_path), 0), (str(tmp_path), 1)])) == [0, 1]
    df = ResultStore(tmp_path / "results.parts").load()
    assert len(df) == 2 * 15 * 40 and not df.duplicated(["pipeline", "snr_db", "image"]).any()
    assert len(pd.read_parquet(tmp_path / "results.parquet")) == 40
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 1
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_t_interval_closed_form():
    # values 10, 20, 30: mean 20, sample std 10, half-width t_{0.975,2} * 10 / sqrt(3)
    assert t_half_width([10.0], [3])[0] == pytest.approx(T975_DOF2 * 10 / np.sqrt(3), rel=1e-12)
    assert np.isnan(t_half_width([0.0], [1])[0])
    # large n tends to the normal quantile 1.959964
    assert t_half_width([1.0], [10**7])[0] * np.sqrt(10**7) == pytest.approx(1.959964, abs=1e-5)


def test_summary_mean_ci_and_psnr_of_mean_mse():
    df = pd.DataFrame(_rows("a", 1.0, [10.0, 30.0], failed=[True, False]) + _rows("b", 1.0, [10.0, 20.0, 30.0]))
    s = summarize(df).set_index("pipeline")
    assert s.psnr["a"] == pytest.approx(20.0) and s.n["a"] == 2 and s.failed_rate["a"] == pytest.approx(0.5)
    assert s.psnr_of_mean_mse["a"] == pytest.approx(-10 * np.log10((0.1 + 0.001) / 2))
    assert s.psnr_ci95["b"] == pytest.approx(T975_DOF2 * 10 / np.sqrt(3))
    # sample std of (10, 30) = sqrt(200)
    assert s.psnr_ci95["a"] == pytest.approx(T975_DOF1 * np.sqrt(200) / np.sqrt(2))


def test_write_outputs(tmp_path):
    df = pd.DataFrame(_rows("a", 1.0, [10.0, 30.0]) + _rows("a", 4.0, [12.0, 33.0]) + _rows("b_capacity", 1.0, [20.0, 25.0]))
    written = write_outputs(df, tmp_path)
    assert pd.read_parquet(written["results"]).shape[0] == 6
    assert (tmp_path / "figures" / "psnr_vs_snr.png").stat().st_size > 1000
    assert (tmp_path / "figures" / "psnr_vs_snr.pdf").read_bytes()[:4] == b"%PDF"


def _multirun_folder(tmp_path) -> Path:
    """A sweep folder as jobs leave it: a shared store, and one job's own (older layout) store."""
    sweep = tmp_path / "sweep"
    ResultStore(sweep / "results.parts").append(_rows("a", 1.0, [10.0, 20.0, 30.0]))
    ResultStore(sweep / "1" / "results.parts").append(_rows("b", 1.0, [11.0, 21.0, 31.0], channel="rayleigh_block"))
    ResultStore(sweep / "results.parts").append(_rows("a", 1.0, [10.0, 20.0, 30.0]))  # a resumed job rewrote a key
    return sweep


def test_collect_and_merge_cli(tmp_path, capsys):
    sweep = _multirun_folder(tmp_path)
    assert len(collect(sweep)) == 6
    assert main(["merge", str(sweep), "--no-plots"]) == 0
    df = pd.read_parquet(sweep / "results.parquet")
    assert len(df) == 6 and set(df.pipeline) == {"a", "b"}
    assert len(ResultStore(sweep / "results.parts").parts()) == 1  # compacted
    assert main(["summary", str(sweep), "--metrics", "psnr"]) == 0
    out = capsys.readouterr().out
    assert f"20.0000 ± {T975_DOF2 * 10 / np.sqrt(3):.4f}" in out and f"21.0000 ± {T975_DOF2 * 10 / np.sqrt(3):.4f}" in out
    csv = tmp_path / "s.csv"
    assert main(["summary", str(sweep / "results.parquet"), "--csv", str(csv)]) == 0
    assert set(pd.read_csv(csv).columns) >= {"psnr", "psnr_ci95", "n"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["summary", "/definitely/not/here"], "no results found"),
        (["merge", "/definitely/not/here"], "is not a folder"),
        (["summary"], "required"),
        (["bogus"], "invalid choice"),
    ],
)
def test_cli_errors_are_one_line(args, message, capsys):
    with pytest.raises(SystemExit) if args[0] == "bogus" or args == ["summary"] else _nullcontext():
        rc = main(args)
        assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_cli_metric_not_in_results(tmp_path, capsys):
    sweep = _multirun_folder(tmp_path)
    assert main(["summary", str(sweep), "--metrics", "lpips"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "metric 'lpips' is not in the results: choose from psnr" in err[0]


def test_module_entry_point(tmp_path):
    sweep = _multirun_folder(tmp_path)
    p = subprocess.run([sys.executable, "-m", "semcom.results", "merge", str(sweep), "--no-plots"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "6 rows" in p.stdout, p.stderr[-2000:]
    p = subprocess.run([sys.executable, "-m", "semcom.results", "summary", str(tmp_path / "nope")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and p.stderr.strip().startswith("error: no results found") and len(p.stderr.strip().splitlines()) == 1


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_parts_with_different_columns_and_types(tmp_path):
    store = ResultStore(tmp_path)
    store.append([{**_rows("a", 1.0, [10.0])[0], "quality": 50}])
    store.append([{**_rows("b", 1.0, [20.0])[0], "quality": None, "qam": 4}])
    store.append([{**_rows("c", 1.0, [30.0])[0], "quality": "q-high"}])  # a codec with text qualities
    df = store.load().set_index("pipeline")
    assert len(df) == 3 and df.qam["b"] == 4 and np.isnan(df.qam["a"]) and df.quality["c"] == "q-high"
