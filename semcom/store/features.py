"""Per-image features of set metrics (FID, KID, IS), stored so a point's set value survives resume.

A set metric needs every image of a point, but a job is written image by image and may be
interrupted and resumed. So the job stores each image's *features* (Inception pool3 for FID/KID,
logits for IS; 2048 float32 = 8 KB per image and point) as it goes, in ``<store>/features.parts/``
(Parquet part files written atomically, like the result parts): reconstructions keyed by their
row's ``row_id``, references by the reference image's content digest. An unreadable part is
moved into ``features.parts/quarantine/`` with one warning (:func:`semcom.store.parts.quarantine`).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import torch

#: Roles of stored features.
REFERENCE, RECONSTRUCTION = "reference", "reconstruction"
#: Folder name of the feature store inside a run, sweep or results folder.
FEATURES_DIR = "features.parts"


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
        parts = sorted(self.root.glob("part-*.parquet"), key=_mtime)
        out, bad = {}, []
        for part in parts:
            try:
                df = pd.read_parquet(part)
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - a damaged part: moved aside, its features recomputed
                bad.append((part, exc))
                continue
            for fid, role, key, feat in zip(df["feature_id"], df["role"], df["key"], df["feature"]):
                out[(fid, role, key)] = np.asarray(feat, dtype=np.float32)
        if bad:
            from semcom.store.parts import quarantine

            quarantine(bad, "the set metrics of their points are computed again from recomputed features")
        return out


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
