"""Semantic Consistency Score of a folder of images: ``python -m semcom.tools.consistency <folder>``.

SCS (Bent 2024) = mean over image pairs i < j of max(100 cos(e_i, e_j), 0), e = CLIP image
embedding (default OpenAI ViT-B/32; see :mod:`semcom.metrics.clip`). Images may differ in size
(each is resized and centre-cropped on its own). Prints the score, the number of images and pairs,
and the checkpoint; ``--pairs`` also prints every pair's score. Typical use: several generations
for one prompt or one received message, to measure how consistent a generative decoder is.
"""

from __future__ import annotations

import argparse
import sys

import torch

from semcom.errors import SemcomError


def folder_consistency(folder, model: str = "clip/vit-b-32", convert: bool = True, device: str = "cpu"):
    """(SCS, n images, n pairs, checkpoint tag, names, embeddings (n, D)) of the images in ``folder``."""
    from semcom.datasets import list_images, load_image
    from semcom.metrics.clip import CLIPEmbedder, consistency_score

    paths = list_images(folder)
    embedder = CLIPEmbedder(model).load()
    feats = torch.cat([embedder.images(load_image(p, convert=convert)[None].to(device)) for p in paths])
    score, pairs = consistency_score(feats)
    return score, len(paths), pairs, embedder.tag, [p.name for p in paths], feats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.tools.consistency", description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of images (png, jpg, ...)")
    parser.add_argument("--model", default="clip/vit-b-32", help="registered checkpoint, model folder, or Hugging Face id")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairs", action="store_true", help="also print every pair's clamped score")
    args = parser.parse_args(argv)
    try:
        score, n, pairs, tag, names, feats = folder_consistency(args.folder, args.model, device=args.device)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"scs={score:.4f} images={n} pairs={pairs} model={tag}")
    if args.pairs:
        e = torch.nn.functional.normalize(feats.double(), dim=-1)
        for i in range(n):
            for j in range(i + 1, n):
                print(f"{names[i]}\t{names[j]}\t{max(100 * float(e[i] @ e[j]), 0.0):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
