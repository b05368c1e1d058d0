"""Row identity by content: every row belongs to exactly the inputs that produced it.

One test per failure the identity scheme fixes (each failed on semcom 0.1): images keyed by stem,
datasets keyed by folder name, checkpoints keyed by path; plus a property test over random folder
layouts, the one-line Ctrl-C, and the merge of a plain multirun.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from semcom.datasets import load_dataset
from semcom.jscc.checkpoints import make_checkpoint
from semcom.jscc.models import build_model
from semcom.report.outputs import collect
from semcom.runner.config import compose
from semcom.runner.job import run_job
from semcom.runner.plan import plan_job

FAST = ["pipeline=jpeg_capacity", "channel=awgn", "metrics=[psnr]", "plots=false", "ratio=1/6", "device=cpu"]


def _noise_png(path: Path, seed: int, size=(48, 40)) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}.get(path.suffix.lower(), "PNG")
    Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(path, format=fmt)


def test_same_stem_other_extension_or_case_are_three_images(tmp_path):
    """a.png, a.jpg and a.PNG are three images: three rows per SNR, n = 3 (0.1: 2 rows, n = 1)."""
    folder = tmp_path / "imgs"
    for i, name in enumerate(("a.png", "a.jpg", "a.PNG")):
        _noise_png(folder / name, i)
    cfg = compose([*FAST, "dataset=folder", f"dataset.path={folder}", "snr_db=[5,20]"])
    df = run_job(cfg, tmp_path / "out", progress=False)
    assert sorted(df.image.unique()) == ["a.PNG", "a.jpg", "a.png"] and len(df) == 6 and df.row_id.nunique() == 6
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert (summary["n"] == 3).all()


def test_two_folders_of_one_name_never_share_rows(tmp_path):
    """x1/imgs then a different x2/imgs (same file names) into one results_dir: the second run
    computes its own rows and reports its own numbers (0.1 reused the first folder's)."""
    for k, seed in (("x1", 0), ("x2", 100)):
        _noise_png(tmp_path / k / "imgs" / "p.png", seed)
    store = tmp_path / "store"
    runs = [run_job(compose([*FAST, "dataset=folder", f"dataset.path={tmp_path / k / 'imgs'}", "snr_db=[20]", f"results_dir={store}"]),
                    tmp_path / k / "out", progress=False) for k in ("x1", "x2")]
    assert runs[0].dataset_id.iloc[0] != runs[1].dataset_id.iloc[0] and runs[0].row_id.iloc[0] != runs[1].row_id.iloc[0]
    assert runs[0].psnr.iloc[0] != runs[1].psnr.iloc[0]
    again = run_job(compose([*FAST, "dataset=folder", f"dataset.path={tmp_path / 'x1' / 'imgs'}", "snr_db=[20]",
                             f"results_dir={store}"]), tmp_path / "x1" / "again", progress=False)
    assert again.psnr.iloc[0] == runs[0].psnr.iloc[0]  # each folder keeps its own rows


def test_a_replaced_image_file_gets_new_rows(tmp_path):
    folder = tmp_path / "imgs"
    _noise_png(folder / "p.png", 0)
    cfg = compose([*FAST, "dataset=folder", f"dataset.path={folder}", "snr_db=[20]"])
    first = run_job(cfg, tmp_path / "out", progress=False)
    _noise_png(folder / "p.png", 1)
    second = run_job(cfg, tmp_path / "out", progress=False)
    assert first.image_id.iloc[0] != second.image_id.iloc[0] and first.psnr.iloc[0] != second.psnr.iloc[0]
    assert collect(tmp_path / "out").psnr.tolist() == second.psnr.tolist()  # the report shows the current file's row


def _checkpoint(path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    model = build_model("deepjscc", {"ratio": 1 / 16})
    torch.save(make_checkpoint("mine", model, {"channel": {"name": "awgn"}}, {"steps": 0}), path)


def test_a_retrained_checkpoint_at_the_same_path_gets_new_rows(tmp_path, small_folder):
    """Rerunning after retraining into the same file recomputes (0.1 reused the old rows: the
    pipeline was identified by the checkpoint's path)."""
    ckpt = tmp_path / "mine.pt"
    cfg = compose(["pipeline=learned", f"pipeline.checkpoint={ckpt}", "dataset=folder", f"dataset.path={small_folder}",
                   "snr_db=[10]", "ratio=1/16", "metrics=[psnr]", "plots=false"])
    _checkpoint(ckpt, 0)
    old = run_job(cfg, tmp_path / "out", progress=False)
    _checkpoint(ckpt, 1)
    new = run_job(cfg, tmp_path / "out", progress=False)
    assert (old.pipeline_id != new.pipeline_id).all() and not np.allclose(old.psnr, new.psnr)
    assert set(old.pipeline) == {"mine"}
    table = collect(tmp_path / "out")
    assert len(table) == len(new) and np.array_equal(table.sort_values("image").psnr, new.sort_values("image").psnr)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["", "sub/", "sub/deeper/", "Sub/"]), st.sampled_from(["a", "b", "A", "a.b"]),
                          st.sampled_from([".png", ".PNG", ".jpg", ".bmp"]), st.booleans()), min_size=1, max_size=8))
def test_every_distinct_image_file_has_its_own_rows(tmp_path_factory, layout):
    """Random folder layouts (stems, extensions, case, nested folders, links to files): every
    file is one image with its own name and its own rows."""
    root = tmp_path_factory.mktemp("layout")
    files = []
    for k, (sub, stem, ext, link) in enumerate(layout):
        path = root / f"{sub}{stem}{ext}"
        if path.exists() or path.is_symlink():
            continue
        if link and files:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(files[0], path)
        else:
            _noise_png(path, k)
        files.append(path)
    ds = load_dataset("folder", str(root), recursive=True)
    names = sorted(p.relative_to(root).as_posix() for p in files)
    assert sorted(it.name for it in ds.items) == names
    plan = plan_job(compose([*FAST, "dataset=folder", f"dataset.path={root}", "dataset.recursive=true", "snr_db=[1,9]"]),
                    None, root / ".out")
    assert len({c.row_id for c in plan.cells}) == 2 * len(files)


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path):
    """Ctrl-C during a job: one line saying how many rows were kept and that rerunning resumes."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "semcom.run", "pipeline=jpeg_ldpc", "dataset.limit=2", "snr_db=[1,4,7,10,13,16]",
           "metrics=[psnr]", "batch_size=1", f"hydra.run.dir={tmp_path}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))
    parts = tmp_path / "results.parts"
    deadline = time.time() + 600
    while time.time() < deadline and not (parts.is_dir() and any(parts.glob("part-*.parquet"))):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    lines = [l for l in err.splitlines() if l.strip() and "%|" not in l and not l.startswith("[")]
    assert proc.returncode == 130, err[-2000:]
    assert len(lines) == 1 and lines[0].startswith("interrupted: ") and "rows kept; run the same command again to resume" in lines[0]
    assert "Traceback" not in err


def test_a_plain_multirun_merges_at_its_end(tmp_path):
    """``-m pipeline=a,b`` without a sweep config writes the merged table and summary (0.1 did not)."""
    sweep = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "-m", "semcom.run", "-m", "pipeline=jpeg_capacity,webp_capacity", "dataset.limit=1",
                           "snr_db=[5]", "metrics=[psnr]", f"hydra.sweep.dir={sweep}"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    df = pd.read_parquet(sweep / "results.parquet")
    assert set(df.pipeline) == {"jpeg_capacity", "webp_capacity"} and (sweep / "summary.csv").is_file()
