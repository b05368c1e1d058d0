"""Seeding: one seed in the config drives all noise, fading and sampling.

Every image gets its own :class:`torch.Generator`, seeded from a stable hash of
(seed, dataset, image, channel, SNR). The pipeline is deliberately *not* part of the key: two
pipelines that send the same number of symbols of the same image at the same SNR see exactly the
same fading and noise, and the noise an image sees does not depend on which other images share
its batch (so resuming a sweep reproduces the same numbers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
from sionna.phy.utils import complex_normal

#: A single generator for a whole batch, or one generator per row (image) of the batch.
Rng = torch.Generator | Sequence[torch.Generator]


def stable_seed(*parts) -> int:
    """63-bit integer from a SHA-256 of the parts' string forms (stable across runs and machines)."""
    text = "\x1f".join(repr(p) if isinstance(p, float) else str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") & ((1 << 63) - 1)


def image_seed(seed: int, dataset: str, image: str, channel: str, snr_db: float) -> int:
    """Seed of the per-image generator for one channel realisation."""
    return stable_seed("semcom-v1", int(seed), dataset, image, channel, round(float(snr_db), 6))


def cell_seed(seed: int, dataset: str, image: str, channel: str, snr_db: float, realization: int = 0) -> int:
    """Seed of the generator of one result cell (image, channel family, SNR, realization), used by
    the runner and by :mod:`semcom.jscc.evaluate` alike. ``image`` is the image's name in its
    dataset (relative path); the file extension does not enter the seed."""
    stem = image.rsplit(".", 1)[0] if "." in image.rsplit("/", 1)[-1] else image
    base = image_seed(seed, dataset, stem, channel, snr_db)
    return base if not realization else stable_seed("semcom-v1-realization", base, int(realization))


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(int(seed))
    return g


def complex_normal_rows(shape: Sequence[int], rng: Rng, device: torch.device | str) -> torch.Tensor:
    """CN(0, 1) samples of ``shape`` (N, ...), complex64, on ``device``.

    With a sequence of generators, row i is drawn from ``rng[i]`` alone (so its values depend only
    on that row's generator and length); with one generator the whole tensor is drawn from it.
    """
    shape = tuple(int(s) for s in shape)
    if isinstance(rng, torch.Generator):
        return complex_normal(shape, generator=rng, device=str(device))
    if len(rng) != shape[0]:
        raise ValueError(f"got {len(rng)} generators for {shape[0]} rows")
    rows = [complex_normal(shape[1:], generator=g, device=str(device)) for g in rng]
    return torch.stack(rows) if rows else torch.empty(shape, dtype=torch.complex64, device=device)
