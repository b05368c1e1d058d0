"""Seeding: one seed in the config drives all noise, fading and sampling.

Every result cell gets its own :class:`torch.Generator`, seeded from a stable hash of
(seed, image, channel family, realization) (:func:`cell_seed`). Neither the SNR nor the pipeline
is part of the key (common random numbers):

* at every SNR point of a sweep an (image, realization) sees the same fading and the same unit
  noise draws, scaled by the SNR's noise standard deviation, so a curve over SNR is smooth (under
  block fading the capacity of one realization only grows with the SNR);
* two pipelines that send the same number of symbols see exactly the same fading and noise, so
  the difference between them is a paired difference;
* the draws of an image do not depend on which other images share its batch, so resuming a sweep
  reproduces the same numbers.

Realization r of an image is an independent draw of everything (fading, noise, CSI error).
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


#: Version of the seeding scheme; part of every row's key (:mod:`semcom.store.keys`), so rows
#: drawn under another scheme are never mixed with these. v1 (semcom 0.1) seeded per SNR point.
SCHEME = "semcom-v2"


def cell_seed(seed: int, image: str, channel: str, realization: int = 0) -> int:
    """Seed of the generator of one result cell: (seed, image, channel family, realization),
    used by the runner and by :mod:`semcom.jscc.evaluate` alike (see the module docstring).
    ``image`` is the image's name in its dataset (its relative path)."""
    return stable_seed(SCHEME, int(seed), str(image), str(channel), int(realization))


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
