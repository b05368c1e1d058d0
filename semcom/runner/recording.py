"""Stage 4 of a job: record. Result rows into the store, features and reconstruction PNGs beside it.

One part file per pipeline call, written atomically (:class:`~semcom.store.parts.ResultStore`):
an interrupted job keeps every row it finished. A row is the cell's key columns, the
transmission's statistics (:data:`STAT_COLUMNS`) and per-image extras, the channel's overhead
(pilot channel uses), and one column per metric value.
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.pipelines.base import Transmission
from semcom.runner.plan import Cell, JobPlan, recorder_images
from semcom.store.features import RECONSTRUCTION
from semcom.store.keys import ID_COLUMNS, KEY_COLUMNS

#: Columns every row has besides its key, identity, settings and metric columns.
STAT_COLUMNS = ("bits", "channel_uses", "bpp", "ratio_used", "failed", "height", "width")


def ordered(row: dict) -> dict:
    """The row's columns in reading order: human key, statistics, the rest (extras, metrics), identity
    and settings last."""
    first = [c for c in (*KEY_COLUMNS, *STAT_COLUMNS) if c in row]
    last = [c for c in (*ID_COLUMNS, "setup_id", "pipeline_label", "bound", "pipeline_params", "channel_params", "config",
                        "metric_ids", "metric_info", "device") if c in row]
    middle = [c for c in row if c not in set(first) | set(last)]
    return {c: row[c] for c in (*first, *middle, *last)}


class Recorder:
    """Writes the rows of one job (see the module docstring)."""

    def __init__(self, plan: JobPlan):
        self.plan = plan
        self.store = plan.store
        self.features = plan.features
        self.reconstructions = recorder_images(plan)
        self.written: list[Path] = []
        self.rows = 0  # rows this job wrote

    def row(self, cell: Cell, tx: Transmission, j: int, height: int, width: int) -> dict:
        """Cell ``cell``'s row from entry ``j`` of the transmission (no metric values yet)."""
        bits, uses = int(tx.bits[j]), int(tx.channel_uses[j])
        row = {
            **self.plan.key_row(cell),
            "bits": bits,
            "channel_uses": uses,
            "bpp": bits / (height * width),
            "ratio_used": uses / (3 * height * width),
            "failed": bool(tx.failed[j]),
            "height": height,
            "width": width,
        }
        row.update(self.plan.channel.overhead(uses))  # pilot (and OFDM) channel uses beyond the data symbols
        row.update({k: vals[j] for k, vals in tx.extras.items()})
        return row

    def record(self, cells: list[Cell], tx: Transmission, rec: torch.Tensor, refs: torch.Tensor,
               scores: dict[str, list[float]], features: dict[str, torch.Tensor]) -> None:
        """Append the rows of one pipeline call; ``refs`` are the cells' reference images."""
        ids = [c.row_id for c in cells]
        for fid, feats in features.items():
            self.features.append(fid, RECONSTRUCTION, ids, feats)
            for rid, f in zip(ids, feats):
                self.plan.stored_features[(fid, RECONSTRUCTION, rid)] = f.float().numpy()
        height, width = rec.shape[-2:]
        rows = []
        for j, cell in enumerate(cells):
            row = self.row(cell, tx, j, int(height), int(width))
            row.update({name: values[j] for name, values in scores.items()})
            rows.append(ordered(row))
            self.reconstructions.save(row, rec[j], refs[j], metrics=list(scores))
        self.written.append(self.store.append(rows))
        self.rows += len(rows)

    def finish(self) -> None:
        """Fold this job's parts into one (a shared store stays quick to read for later jobs)."""
        self.store.compact(self.written)
