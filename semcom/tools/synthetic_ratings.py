"""Write a ratings CSV of synthetic distortions of known order (for trying semcom.meta).

    python -m semcom.tools.synthetic_ratings REF_FOLDER OUT_FOLDER [--size 384x512] [--levels 4]

Every image of REF_FOLDER (resized to --size, H x W) gets Gaussian noise at sigma 0.02, 0.05,
0.1, 0.2 and a Gaussian blur at 1, 2, 4, 8 px (the first --levels of each); the "rating" of a
distortion at level k (0-based) is levels - k, so higher is better and the order is known.
These are NOT human ratings: they check that a metric ranks one distortion type's levels, and
give `correlate` and `fit` something to run on where no human study is at hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from PIL import Image, ImageFilter

from semcom.datasets import list_images, load_image

SIGMAS = (0.02, 0.05, 0.1, 0.2)
BLURS = (1.0, 2.0, 4.0, 8.0)


def _png(x: torch.Tensor, path: Path) -> None:
    Image.fromarray((x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("refs")
    ap.add_argument("out")
    ap.add_argument("--size", default="384x512")
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.split("x"))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(a.seed)
    rows = []
    for path in list_images(a.refs):
        ref = load_image(path, convert=True)[None]
        ref = torch.nn.functional.interpolate(ref, size=(h, w), mode="bilinear", antialias=True).clamp(0, 1)[0]
        ref_png = out / f"{path.stem}.png"
        _png(ref, ref_png)
        for k in range(a.levels):
            noisy = out / f"{path.stem}_noise{k}.png"
            _png(ref + SIGMAS[k] * torch.randn(ref.shape, generator=g), noisy)
            blurred = out / f"{path.stem}_blur{k}.png"
            Image.open(ref_png).filter(ImageFilter.GaussianBlur(BLURS[k])).save(blurred)
            for p, kind in ((noisy, "noise"), (blurred, "blur")):
                rows.append({"reference": ref_png.name, "distorted": p.name, "score": float(a.levels - k), "distortion": kind, "level": k})
    pd.DataFrame(rows).to_csv(out / "ratings.csv", index=False)
    print(f"{len(rows)} rated pairs -> {out / 'ratings.csv'}")


if __name__ == "__main__":
    main()
