"""Set metrics (FID, KID, IS) per (pipeline, channel, SNR, ratio, seed) point, resumable.

A set metric needs every image of a point, but a job is written image by image and may be
interrupted and resumed. So the job stores each image's *features* (Inception pool3 for FID/KID,
logits for IS; 2048 float32 = 8 KB per image and point) as it goes, in ``<out>/features.parts/``
(Parquet part files written atomically, like the result parts), and computes the set values from
the stored features once all images are done. A resumed job skips images whose row and features
are stored, and still gets the set metric over all of them; a row without features (a job run
earlier without FID) is recomputed.

Reference features are stored the same way (role ``reference``) and kept in memory for the life
of the process (:func:`reference_features`), so a multirun sweep computes them once.

The per-point table (``points.parquet`` / ``points.csv``) has the point columns, ``seed``, and per
set metric ``<name>``, ``<name>_n`` and its extras (``kid_std``, ``kid_subset``, ``is_std``,
``is_splits``), ``metric_checkpoints`` (JSON) and ``note`` (e.g. FID's small-n bias).
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from semcom.metrics.base import ImageStates, Metric, SetMetric
from semcom.metrics.distribution import FID_RELIABLE_N
from semcom.runner.score_memo import content_digest

log = logging.getLogger(__name__)

REFERENCE, RECONSTRUCTION = "reference", "reconstruction"


def key_text(key) -> str:
    """A row key (tuple) or a reference key as a JSON string (the store's key column)."""
    return json.dumps([None if isinstance(v, float) and math.isnan(v) else v for v in key], default=str)


class FeatureStore:
    """A folder of Parquet parts with columns feature_id, role, key (JSON), feature (list<float32>)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def append(self, feature_id: str, role: str, keys: list[str], features: torch.Tensor) -> None:
        if not keys:
            return
        feats = features.detach().float().cpu().numpy()
        df = pd.DataFrame({"feature_id": feature_id, "role": role, "key": keys, "feature": list(feats)})
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp = self.root / f".{name}.tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, self.root / name)

    def load(self) -> dict[tuple[str, str, str], np.ndarray]:
        """{(feature_id, role, key): feature vector}; later parts win."""
        if not self.root.is_dir():
            return {}
        parts = sorted(self.root.glob("part-*.parquet"), key=lambda p: p.stat().st_mtime_ns)
        out = {}
        for part in parts:
            df = pd.read_parquet(part)
            for fid, role, key, feat in zip(df["feature_id"], df["role"], df["key"], df["feature"]):
                out[(fid, role, key)] = np.asarray(feat, dtype=np.float32)
        return out


# ---- in-process caches of reference-side work (a multirun sweep runs its jobs in one process) ----

_REFERENCE_FEATURES: dict[tuple[str, str], torch.Tensor] = {}
_REFERENCE_STATES: OrderedDict[tuple, object] = OrderedDict()
#: Most bytes of prepared per-image-metric reference states kept between jobs (LPIPS/DISTS features),
#: per process. 3 GiB holds a Kodak sweep's references for every default and semantic metric with
#: DISTS at 256 px (about 1.8 GB); the jobs of a sweep visit the images in the same order, so a
#: smaller LRU than that keeps nothing useful.
REFERENCE_STATE_BYTES = 3 << 30


def reference_features(metric: SetMetric, image: torch.Tensor) -> torch.Tensor:
    """(D,) features of one reference image, computed once per process per (feature_id, content)."""
    key = (metric.feature_id, content_digest(image))
    if key not in _REFERENCE_FEATURES:
        _REFERENCE_FEATURES[key] = metric.features(image[None])[0]
    return _REFERENCE_FEATURES[key]


def _nbytes(state) -> int:
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, (list, tuple)):
        return sum(_nbytes(s) for s in state)
    return 0


def reference_state(metric: Metric, images: torch.Tensor):
    """``metric.prepare(images)``, remembered (LRU, at most REFERENCE_STATE_BYTES) by content.

    Metrics whose reference side is the images themselves (PSNR, SSIM, ...) are not cached."""
    if type(metric).prepare is Metric.prepare:
        return metric.prepare(images)
    key = (metric.name, metric.checkpoint, str(images.device), tuple(images.shape), content_digest(images))
    if key in _REFERENCE_STATES:
        _REFERENCE_STATES.move_to_end(key)
        return _REFERENCE_STATES[key]
    with torch.no_grad():
        state = metric.prepare(images)
    size = _nbytes(state)
    if size <= REFERENCE_STATE_BYTES:
        _REFERENCE_STATES[key] = state
        while sum(_nbytes(s) for s in _REFERENCE_STATES.values()) > REFERENCE_STATE_BYTES:
            _REFERENCE_STATES.popitem(last=False)
    return state


def take(state, index: list[int], total: int):
    """The rows ``index`` of a prepared state (tensors indexed on dim 0, lists element-wise); an
    index may repeat a row (one image at several SNR points of one call)."""
    if list(index) == list(range(total)):
        return state
    if isinstance(state, ImageStates):  # one object per image (detections, scene graphs)
        return state.take_images(index)
    if isinstance(state, torch.Tensor):
        return state[torch.as_tensor(index, device=state.device)]
    if isinstance(state, (list, tuple)):
        return type(state)(take(s, index, total) for s in state)
    raise TypeError(f"cannot select images from a prepared state of type {type(state).__name__}")


def compute_points(set_metrics: list[SetMetric], stored: dict, store: FeatureStore, items, dataset_name: str,
                   point_rows: list[tuple[dict, list[str]]], device: torch.device) -> pd.DataFrame:
    """One row per point: ``point_rows`` is [(point columns, reconstruction keys of its images)].

    Reference features missing from ``stored`` are computed (once per process) and stored.
    """
    if not set_metrics:
        return pd.DataFrame()
    ref_keys = {it.name: key_text([dataset_name, it.name]) for it in items}
    refs: dict[str, torch.Tensor] = {}
    for m in set_metrics:
        if not m.uses_reference or m.feature_id in refs:
            continue
        missing = [it for it in items if (m.feature_id, REFERENCE, ref_keys[it.name]) not in stored]
        if missing:
            feats = torch.stack([reference_features(m, it.image.to(device)) for it in missing])
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
