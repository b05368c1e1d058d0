"""Per-image cost of every metric: ``python -m semcom.tools.bench_metrics [--device cpu|cuda] [--size 512x768]``.

For each per-image metric: seconds per image of a full call ``m(ref, rec)`` (reference and
reconstruction through the network) and of ``score(prepared, rec)`` (the reference prepared once,
as the runner does for every SNR point after the first). For each set metric: seconds per image
of the features, and seconds to compute the set value from ``--n`` images' features (random
features; FID/KID cost depends on n, not on the image size). Metrics whose weights do not
resolve are listed as skipped. Timings are medians over ``--repeats`` runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from semcom.errors import SemcomError
from semcom.metrics import get_metric, metric_names


def _time(fn, repeats: int, sync) -> float:
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(names: list[str], device: torch.device, height: int, width: int, batch: int, repeats: int, n: int) -> list[dict]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(batch, 3, height, width, generator=g).to(device)
    rec = (ref + 0.05 * torch.randn(ref.shape, generator=g).to(device)).clamp(0, 1)
    rows = []
    for name in names:
        m = get_metric(name)
        try:
            m.load()
        except SemcomError as exc:
            rows.append({"metric": name, "skipped": str(exc)})
            continue
        if m.per_image:
            full = _time(lambda: m(ref, rec), repeats, sync) / batch
            state = m.prepare(ref)
            with torch.no_grad():
                score = _time(lambda: m.score(state, rec), repeats, sync) / batch
            rows.append({"metric": name, "full_s_per_image": full, "score_s_per_image": score})
        else:
            feats = _time(lambda: m.features(rec), repeats, sync) / batch
            dim = m.features(rec[:1]).shape[1]
            a = torch.rand(n, dim, generator=g, dtype=torch.float64)
            b = torch.rand(n, dim, generator=g, dtype=torch.float64)
            compute = _time(lambda: m.compute_from(a, b), repeats, sync)
            rows.append({"metric": name, "features_s_per_image": feats, f"compute_s_n{n}": compute})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.tools.bench_metrics", description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", nargs="*", default=metric_names())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", default="512x768", help="HxW of the test images (Kodak: 512x768)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n", type=int, default=24, help="images per set for the set-metric compute time")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.size.lower().split("x"))
    device = torch.device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} size={height}x{width} batch={args.batch} repeats={args.repeats}")
    for row in bench(args.metrics, device, height, width, args.batch, args.repeats, args.n):
        name = row.pop("metric")
        if "skipped" in row:
            print(f"{name:<10} skipped: {row['skipped']}")
        else:
            print(f"{name:<10} " + "  ".join(f"{k}={v:.4g}" for k, v in row.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
