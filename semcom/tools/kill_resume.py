"""Kill a sweep at random points, run it again, and compare with an uninterrupted run.

``python -m semcom.tools.kill_resume [--trials 8] [--kills 3] [--seed 0]``

The sweep is the real command line, ``python -m semcom.run -m sweep=snr pipeline=jpeg_capacity,webp_capacity
channel=rayleigh_block ...`` (two jobs and the merge, one image per batch so that every image and
SNR point is its own part file), over six small crops of the built-in photographs. First it runs
once uninterrupted (the reference). Then each trial starts the same command into a fresh sweep
folder and sends SIGINT, SIGTERM or SIGKILL (chosen at random) at a random time between 0.3 and
1.0 times the reference's duration (so kills land during start-up, in the middle of a job,
between jobs, while a part is written, during compaction and during the merge), ``--kills`` times
in a row, each time into the same folder; then it runs the command to completion with two
processes at once (two writers resuming one store) and compares:

* ``results.parquet`` equals the reference's, every column (config JSON included), row for row;
* the store holds each key once after deduplication, every part file reads, and temporary
  files left by a killed writer are never read as parts (they are counted in the report);

Output: one line per trial (the kills: signal, time, parts present when it landed; the outcome)
and a total: kill points tried, runs, rows lost, rows duplicated, tables different.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from semcom.store.keys import KEY_COLUMNS

from semcom.store.parts import PARTS_DIR, ResultStore

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def make_images(folder: Path, n: int = 6, size: int = 96) -> Path:
    """``n`` size x size RGB crops of the built-in photographs as PNGs in ``folder``."""
    from PIL import Image

    from semcom.datasets import load_dataset
    from semcom.pipelines.base import to_uint8

    folder.mkdir(parents=True, exist_ok=True)
    items = load_dataset("builtin").items
    for i in range(n):
        img = to_uint8(items[i % len(items)].image[None])[0]
        y, x = 40 + 37 * (i // len(items)), 60 + 41 * (i // len(items))
        Image.fromarray(np.ascontiguousarray(img[y : y + size, x : x + size])).save(folder / f"img{i}.png")
    return folder


def sweep_args(images: Path, sweep_dir: Path) -> list[str]:
    return ["-m", "sweep=snr", "pipeline=jpeg_capacity,webp_capacity", "channel=rayleigh_block", "dataset=folder", f"dataset.path={images}",
            "snr_db=[1,5,9,13]", "ratio=1/16", "metrics=[psnr,ssim]", "batch_size=1", "plots=false", f"hydra.sweep.dir={sweep_dir}"]


def start(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    f = open(log, "ab")
    return subprocess.Popen([sys.executable, "-m", "semcom.run", *args], stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def count_parts(sweep_dir: Path) -> int:
    return len(list((sweep_dir / PARTS_DIR).glob("part-*.parquet"))) if (sweep_dir / PARTS_DIR).is_dir() else 0


def sorted_table(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(KEY_COLUMNS)).reset_index(drop=True)


def store_report(sweep_dir: Path) -> dict:
    """Rows in the parts, distinct keys after reading, parts, leftover temporary files."""
    store = ResultStore(sweep_dir / PARTS_DIR)
    raw = sum(len(pd.read_parquet(p)) for p in store.parts())
    loaded = store.load()
    tmp = [p for p in (sweep_dir / PARTS_DIR).iterdir() if p.name.endswith(".tmp")] if (sweep_dir / PARTS_DIR).is_dir() else []
    return {"raw_rows": raw, "rows": len(loaded), "dup_keys": int(loaded.duplicated(list(KEY_COLUMNS)).sum()), "parts": len(store.parts()),
            "tmp_files": len(tmp)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.tools.kill_resume", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--kills", type=int, default=3, help="kills per trial, each into the same sweep folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="folder to work in (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    tmp = tempfile.TemporaryDirectory(prefix="semcom-kill-") if not args.keep else None
    work = Path(args.keep or tmp.name)
    images = make_images(work / "images")

    t0 = time.monotonic()
    ref_dir = work / "reference"
    p = start(sweep_args(images, ref_dir), work / "reference.log")
    if p.wait() != 0:
        print((work / "reference.log").read_text()[-3000:])
        return 1
    duration = time.monotonic() - t0
    reference = sorted_table(pd.read_parquet(ref_dir / "results.parquet"))
    print(f"reference: {len(reference)} rows, {duration:.1f} s uninterrupted (two jobs and the merge)", flush=True)

    totals = {"kills": 0, "runs": 1, "lost": 0, "duplicated": 0, "different": 0, "tmp_files": 0, "by_signal": {s: 0 for s in SIGNALS}}
    for trial in range(args.trials):
        sweep_dir = work / f"trial{trial}"
        log = work / f"trial{trial}.log"
        kills = []
        for _ in range(args.kills):
            name = str(rng.choice(list(SIGNALS)))
            at = float(rng.uniform(0.3, 1.0)) * duration
            proc = start(sweep_args(images, sweep_dir), log)
            t = time.monotonic()
            while proc.poll() is None and time.monotonic() - t < at:
                time.sleep(0.02)
            parts = count_parts(sweep_dir)
            if proc.poll() is None:
                os.killpg(proc.pid, SIGNALS[name])  # the command and its decoder worker, as a terminal or SLURM would
                totals["kills"] += 1
                totals["by_signal"][name] += 1
                kills.append(f"{name}@{at:.1f}s({parts} parts)")
            else:
                kills.append(f"{name}@{at:.1f}s(finished first)")
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                kills[-1] += "+SIGKILL after 120 s"
            totals["runs"] += 1
        # finish with two writers at once resuming the same sweep
        procs = [start(sweep_args(images, sweep_dir), log) for _ in range(2)]
        codes = [q.wait() for q in procs]
        totals["runs"] += 2
        table = sorted_table(pd.read_parquet(sweep_dir / "results.parquet"))
        rep = store_report(sweep_dir)
        keys = set(map(tuple, table[list(KEY_COLUMNS)].astype(str).values))
        ref_keys = set(map(tuple, reference[list(KEY_COLUMNS)].astype(str).values))
        lost = len(ref_keys - keys)
        dup = int(table.duplicated(list(KEY_COLUMNS)).sum()) + rep["dup_keys"]
        same = len(table) == len(reference) and table.equals(reference)
        totals["lost"] += lost
        totals["duplicated"] += dup
        totals["different"] += 0 if same else 1
        totals["tmp_files"] += rep["tmp_files"]
        print(f"trial {trial}: kills {', '.join(kills)}; final exit codes {codes}; table {'equal' if same else 'DIFFERENT'}; "
              f"lost {lost}, duplicated {dup}; store: {rep['parts']} parts, {rep['raw_rows']} rows in parts -> {rep['rows']} keys, "
              f"{rep['tmp_files']} leftover temporary files", flush=True)
        if not same and len(table) == len(reference):
            diff = [c for c in reference.columns if c not in table.columns or not table[c].equals(reference[c])]
            print(f"  columns that differ: {diff}")
    print(f"\ntotal: {totals['kills']} kill points ({', '.join(f'{k} {v}' for k, v in totals['by_signal'].items())}) in {args.trials} trials, "
          f"{totals['runs']} runs; rows lost {totals['lost']}, duplicated {totals['duplicated']}, tables different {totals['different']}; "
          f"temporary files left by killed writers {totals['tmp_files']} (never read); {time.monotonic() - t0:.0f} s")
    if tmp is not None:
        tmp.cleanup()
    return 0 if totals["lost"] == totals["duplicated"] == totals["different"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
