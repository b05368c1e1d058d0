"""Per-image CPU cost of the semantic metrics and ViTScore F vs Gaussian noise, on Kodak.

    python -m semcom.tools.bench_semantic [--images kodim05 kodim15 kodim23] [--threads 2] [--device cpu]

Part 1: for each semantic metric, seconds per image of ``prepare(reference)`` (paid once per
reference image in a sweep: DINOv2/CLIP tokens, YOLOX detections, SeSS graphs) and of
``score(state, reconstruction)`` (paid per SNR point), median over the images, on full-size
Kodak (512x768) with a Gaussian-noise reconstruction (sigma 0.05). ``clip`` uses the ViT-B/32
architecture with random weights when the OpenAI weights are not installed (same compute, the
value is meaningless; the row says so). ``sess`` (SAM + RelateAnything + OpenCLIP ViT-H) cannot
run here and is reported as skipped with the reason.

Part 2: ViTScore (defaults: DINOv2-S/14, last layer, patch tokens, short side 224) P, R, F of each
image against itself plus N(0, sigma^2) noise (clamped to [0, 1]), per sigma, with sess_lite and
detection alongside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

from semcom.datasets import load_image
from semcom.errors import SemcomError
from semcom.metrics import get_metric
from semcom.metrics.clip import CLIPSimilarity

SEMANTIC = ("vitscore", "clip", "detection", "sess_lite", "sess")


def _noisy(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _metric(name: str):
    m = get_metric(name)
    note = ""
    try:
        m.load()
    except SemcomError as exc:
        if name != "clip":
            return None, str(exc)
        from transformers import CLIPConfig, CLIPModel

        torch.manual_seed(0)
        m = CLIPSimilarity(network=CLIPModel(CLIPConfig()))  # CLIPConfig() is the ViT-B/32 architecture
        note = "random-weight ViT-B/32 (OpenAI weights not installed): timing only"
    return m, note


def timings(images: dict[str, torch.Tensor], device: torch.device) -> None:
    print("metric      prepare_s/img  score_s/img  load_s  note")
    for name in SEMANTIC:
        t = time.perf_counter()
        m, note = _metric(name)
        load = time.perf_counter() - t
        if m is None:
            print(f"{name:<11} skipped: {note}")
            continue
        prep, score = [], []
        for x in images.values():
            x = x[None].to(device)
            y = _noisy(x, 0.05)
            m.prepare(x)  # warm-up (first call pays lazy initialisation)
            t = time.perf_counter()
            state = m.prepare(x)
            prep.append(time.perf_counter() - t)
            t = time.perf_counter()
            with torch.no_grad():
                m.score(state, y)
            score.append(time.perf_counter() - t)
        print(f"{name:<11} {statistics.median(prep):13.3f}  {statistics.median(score):11.3f}  {load:6.1f}  {note}", flush=True)


def noise_table(images: dict[str, torch.Tensor], sigmas: list[float], device: torch.device) -> None:
    vit = get_metric("vitscore").load()
    lite = get_metric("sess_lite").load()
    det = get_metric("detection").load()
    print(f"\nViTScore vs Gaussian noise ({vit.checkpoint}); sess_lite and detection alongside")
    print("image    sigma  vitscore_p  vitscore_r  vitscore  sess_lite  detection  ref_objects")
    for name, x in images.items():
        x = x[None].to(device)
        sv, sl, sd = vit.prepare(x), lite.prepare(x), det.prepare(x)
        for sigma in sigmas:
            y = _noisy(x, sigma) if sigma > 0 else x
            c = vit.score_columns(sv, y)
            d = det.score_columns(sd, y)["detection"].item()
            print(f"{name:<8} {sigma:5.2f}  {c['vitscore_p'].item():10.4f}  {c['vitscore_r'].item():10.4f}  {c['vitscore'].item():8.4f}"
                  f"  {lite.score(sl, y).item():9.4f}  {d:9.3f}  {len(sd[0])} ({','.join(sd[0].names())})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="*", default=["kodim05", "kodim15", "kodim23"])
    parser.add_argument("--sigmas", nargs="*", type=float, default=[0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    kodak = Path(os.environ.get("SEMCOM_DATA", "../shared/data")) / "kodak"
    images = {n: load_image(kodak / f"{n}.png") for n in args.images}
    device = torch.device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} images={','.join(images)} ({'x'.join(map(str, next(iter(images.values())).shape[1:]))})")
    if not args.skip_timing:
        timings(images, device)
    noise_table(images, args.sigmas, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
