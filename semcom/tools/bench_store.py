"""Result-store timings at sweep scale: python -m semcom.tools.bench_store [--jobs 100] [--out DIR].

Simulates the store of one large sweep: ``jobs`` jobs x 13 SNR points x 3 batches of 8 Kodak
images (one part file per batch, as run_job writes them), with the columns run_job writes
(including a 1 kB config JSON per row). Each job folds its own parts into one when it ends, as
run_job does (``--no-job-compaction``: leave every part, the worst case of many running jobs).
Prints the time to append every part, to read the whole store (what a starting job does), to
compact it, and to read it again after compaction.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from semcom.store.parts import ResultStore


def rows(job: int, snr: float, batch: int, config: str) -> list[dict]:
    rng = np.random.default_rng(job * 1000 + int(snr) * 10 + batch)
    out = []
    for i in range(8):
        out.append({
            "dataset": "kodak", "image": f"kodim{batch * 8 + i + 1:02d}", "pipeline": f"p{job % 4}", "checkpoint": "",
            "channel": ["awgn", "rayleigh_block"][job % 2], "snr_db": snr, "ratio": 1 / (16 + job // 4), "seed": 0,
            "bits": int(rng.integers(1e4, 1e6)), "channel_uses": 98304, "bpp": 0.5, "ratio_used": 0.0625, "failed": False,
            "height": 512, "width": 768, "psnr": float(rng.normal(30, 3)), "ssim": 0.9, "ms_ssim": 0.95,
            "pipeline_params": json.dumps({"codec": "pillow-jpeg", "qam": 4}), "channel_params": json.dumps({"name": "awgn"}),
            "config": config, "metric_checkpoints": json.dumps({"psnr": None, "ssim": None, "ms_ssim": None}), "device": "cpu",
        })
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--out", help="folder for the store (default: a temporary folder)")
    ap.add_argument("--no-job-compaction", action="store_true")
    args = ap.parse_args()
    config = json.dumps({"pad": "x" * 1000})
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(Path(args.out or tmp) / "results.parts")
        t = time.perf_counter()
        n_written = 0
        for job in range(args.jobs):
            mine = []
            for snr in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13):
                for batch in range(3):
                    mine.append(store.append(rows(job, float(snr), batch, config)))
            n_written += len(mine)
            if not args.no_job_compaction:
                store.compact(mine)
        t_append = time.perf_counter() - t
        n_parts = len(store.parts())
        t = time.perf_counter()
        df = store.load()
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        store.compact()
        t_compact = time.perf_counter() - t
        t = time.perf_counter()
        df2 = store.load()
        t_load2 = time.perf_counter() - t
        assert len(df) == len(df2) == args.jobs * 13 * 24
        print(f"{args.jobs} jobs, {len(df)} rows, {n_written} parts written, {n_parts} in the store at the end")
        print(f"append every part (and per-job compaction): {t_append:.1f} s ({1000 * t_append / n_written:.1f} ms per part)")
        print(f"load all rows: {t_load:.1f} s")
        print(f"compact: {t_compact:.1f} s; load after compaction: {t_load2:.2f} s")


if __name__ == "__main__":
    main()
