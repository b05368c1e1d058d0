"""Stage 2 of a job: transmit. The pipeline carries a group of cells over the channel.

Each cell gets its own generator (:meth:`semcom.runner.plan.JobPlan.generator`), so its noise
and fading depend on nothing but the cell, whatever the batch. What comes back is checked
(:class:`~semcom.pipelines.base.Transmission`'s shapes, finite pixels) and, unless
``quantize=false``, rounded to 8 bits: what a receiver displays is what is scored.
"""

from __future__ import annotations

import torch

from semcom.conventions import quantize
from semcom.errors import SemcomError
from semcom.pipelines.base import Transmission
from semcom.runner.plan import Cell, JobPlan


def prepare(plan: JobPlan) -> None:
    """Let a pipeline that decides per SNR over the whole dataset (``prepare``: the best-MCS
    envelope, the donors of a transformation) see every image of the job first, for the SNR
    points that still have rows to compute. With several realizations each (image, realization)
    is one entry of the list it sees, with that cell's generator."""
    prepare = getattr(plan.pipeline, "prepare", None)
    if prepare is None:
        return
    pending = sorted({c.snr_db for c in plan.pending()})
    if not pending:
        return
    entries = [(i, r) for i in range(len(plan.dataset.items)) for r in range(plan.settings.realizations)]
    cells = {(c.item, c.snr_db, c.realization): c for c in plan.cells}

    def rng_for(k: int, snr: float) -> torch.Generator:
        i, r = entries[k]
        return plan.generator(cells[(i, float(snr), r)])

    with torch.no_grad():
        prepare([plan.dataset.items[i].image for i, _ in entries], pending, plan.channel, rng_for)


def transmit(plan: JobPlan, images: torch.Tensor, cells: list[Cell], index: list[int]) -> tuple[Transmission, torch.Tensor]:
    """Send ``cells`` (cell i carries ``images[index[i]]``) in one pipeline call.

    Returns the Transmission and the reconstructions as scored, (N, 3, H, W) on the job's device.
    """
    sub = images if index == list(range(images.shape[0])) else images[torch.as_tensor(index, device=images.device)]
    snrs = [c.snr_db for c in cells]
    snr_arg = snrs[0] if len(set(snrs)) == 1 else torch.tensor(snrs, dtype=torch.float32, device=plan.device)
    with torch.no_grad():
        tx = plan.pipeline.transmit(sub, snr_arg, plan.channel, [plan.generator(c) for c in cells])
    name = plan.pipeline.name
    if not isinstance(tx, Transmission):
        raise SemcomError(f"pipeline {name}: transmit() returned a {type(tx).__name__}, not a semcom.pipelines.Transmission")
    if tuple(tx.reconstructions.shape) != tuple(sub.shape):
        raise SemcomError(f"pipeline {name}: transmit() returned reconstructions of shape {tuple(tx.reconstructions.shape)} "
                          f"for images of shape {tuple(sub.shape)}")
    rec = tx.reconstructions.to(plan.device)
    if not torch.isfinite(rec).all():
        at = ", ".join(f"{s:g}" for s in sorted(set(snrs)))
        raise SemcomError(f"pipeline {name} returned NaN/Inf pixels at SNR {at} dB: this is a bug in the pipeline, please report it")
    return tx, quantize(rec) if plan.settings.quantize else rec.clamp(0, 1)
