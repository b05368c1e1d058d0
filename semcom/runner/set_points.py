"""Set metrics (FID, KID, IS) per (pipeline, channel, SNR, ratio, seed) point, resumable.

The job stores each image's features as it goes (:mod:`semcom.store.features`) and computes the
set values from the stored features once all images are done. A resumed job skips images whose
row and features are stored, and still gets the set metric over all of them; a row without
features (a job run earlier without FID) is recomputed. Reference features are stored the same
way (role ``reference``) and kept in memory for the life of the process
(:class:`semcom.runner.references.ReferenceCache`), so a multirun sweep computes them once.

The per-point table (``points.parquet`` / ``points.csv``) has the point columns, ``seed``, and per
set metric ``<name>``, ``<name>_n`` and its extras (``kid_std``, ``kid_subset``, ``is_std``,
``is_splits``), ``metric_checkpoints`` (JSON) and ``note`` (e.g. FID's small-n bias).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import torch

from semcom.metrics.base import SetMetric
from semcom.metrics.distribution import FID_RELIABLE_N
from semcom.runner.references import ReferenceCache
from semcom.store.features import RECONSTRUCTION, REFERENCE, FeatureStore

log = logging.getLogger(__name__)


def compute_points(set_metrics: list[SetMetric], stored: dict, store: FeatureStore, items, references: ReferenceCache,
                   point_rows: list[tuple[dict, list[str]]], device: torch.device) -> pd.DataFrame:
    """One row per point: ``point_rows`` is [(point columns, ``row_id`` of each of its rows)];
    ``items`` the dataset's images (:class:`semcom.datasets.ImageItem`).

    Reference features missing from ``stored`` are computed (once per process) and stored.
    """
    if not set_metrics:
        return pd.DataFrame()
    ref_keys = {it.name: it.digest for it in items}
    refs: dict[str, torch.Tensor] = {}
    for m in set_metrics:
        if not m.uses_reference or m.feature_id in refs:
            continue
        missing = [it for it in items if (m.feature_id, REFERENCE, ref_keys[it.name]) not in stored]
        if missing:
            feats = torch.stack([references.features(m, it.image.to(device)) for it in missing])
            store.append(m.feature_id, REFERENCE, [ref_keys[it.name] for it in missing], feats)
            for it, f in zip(missing, feats):
                stored[(m.feature_id, REFERENCE, ref_keys[it.name])] = f.float().numpy()
        refs[m.feature_id] = torch.from_numpy(np.stack([stored[(m.feature_id, REFERENCE, ref_keys[it.name])] for it in items])).double()
    checkpoints = json.dumps({m.name: m.checkpoint for m in set_metrics}, sort_keys=True)
    if any(m.name == "fid" for m in set_metrics) and len(items) < FID_RELIABLE_N:
        log.warning("fid on n=%d images per point is biased upward (FID needs thousands of images): "
                    "compare FIDs only at equal n (points.parquet: fid_n)", len(items))
    rows = []
    for point, keys in point_rows:
        row = dict(point)
        notes = []
        for m in set_metrics:
            have = [stored[(m.feature_id, RECONSTRUCTION, k)] for k in keys if (m.feature_id, RECONSTRUCTION, k) in stored]
            n = len(have)
            row[f"{m.name}_n"] = n
            if n < len(keys):
                notes.append(f"{m.name}: features of {len(keys) - n} of {len(keys)} images missing")
            try:
                rec = torch.from_numpy(np.stack(have)).double() if have else torch.zeros(0, 1, dtype=torch.float64)
                result = m.compute_from(refs.get(m.feature_id), rec)
            except ValueError as exc:
                row[m.name] = float("nan")
                notes.append(f"{m.name}: {exc}")
                continue
            for k, val in result.items():
                if k == "n":
                    continue
                row[k] = val if isinstance(val, int) else float(val)
            if m.name == "fid" and n < FID_RELIABLE_N:
                notes.append(f"fid on n={n} < {FID_RELIABLE_N} images is biased upward: compare FIDs only at equal n")
        row["metric_checkpoints"] = checkpoints
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows)
