"""The identity of a result row: what it is a number *of*.

A row's key, ``row_id``, is a digest of everything that determines its values:

* :data:`KEY_VERSION` and the seeding scheme (:data:`semcom.randomness.SCHEME`: rows drawn
  under other random numbers never share a key with these);
* the dataset's identity (``builtin``, ``kodak``, a folder by its resolved path, a plugin by its
  import path and arguments) and, for pipelines whose rows depend on the job's other images
  (:attr:`~semcom.pipelines.base.PipelineBase.uses_dataset`: the best-MCS envelope), the digest of
  the whole dataset's content;
* the image: its path relative to the dataset root (extension included) and the digest of its
  pixels;
* the pipeline: its import path, its config node and its :meth:`params` (codec library versions,
  a learned model's class, arguments and checkpoint content digest);
* the channel: its import path and settings;
* SNR, bandwidth ratio, seed, realization index, and whether reconstructions are quantised.

Metric values are columns of a row, not part of its key: the row records each metric's identity
(name, weights, parameters) in ``metric_ids``, and a row lacking a wanted metric, or scored with
other weights or parameters, is recomputed.

The human key :data:`KEY_COLUMNS` (dataset, image, pipeline, ... names) is what tables are read
by. Two rows of one human key from different inputs (a checkpoint retrained at the same path, an
image file replaced) have different ``row_id`` and never stand in for each other; reports keep the
latest version (:func:`semcom.report.outputs.one_version`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping

import pandas as pd

from semcom.randomness import SCHEME

#: Version of the row key. Version 1 (semcom 0.1) keyed rows by names only (the dataset's name,
#: the image's file stem, the pipeline's name) and seeded noise per SNR point; its rows are never
#: read as version-2 rows.
KEY_VERSION = 2

#: Columns that name a row for people (tables are grouped and read by them).
KEY_COLUMNS = ("dataset", "image", "pipeline", "checkpoint", "channel", "snr_db", "ratio", "seed", "realization")
#: Columns of a point of a curve: every key column but the image, the seed and the realization.
POINT_COLUMNS = ("dataset", "pipeline", "checkpoint", "channel", "ratio", "snr_db")
#: Identity columns every row carries beside its human key.
ID_COLUMNS = ("row_id", "key_version", "dataset_id", "image_id", "pipeline_id", "channel_id")


def digest(obj, size: int = 16) -> str:
    """Hex BLAKE2b digest (``size`` bytes) of a JSON-able object (keys sorted, floats by repr)."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def tensor_digest(tensor) -> str:
    """BLAKE2b-128 hex digest of a tensor's dtype, shape and bytes (any device): the content digest
    of an image (``image_id``) and of a reconstruction (the score memo's key)."""
    t = tensor.detach().cpu().contiguous()
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


def round_key(value: float) -> float:
    """SNR and ratio rounded so float noise does not split keys."""
    return round(float(value), 9)


def row_id(*, dataset_id: str, image: str, image_id: str, pipeline_id: str, channel_id: str, snr_db: float,
           ratio: float, seed: int, realization: int, quantize: bool, dataset_digest: str | None = None) -> str:
    """The key of one row (32 hex characters); see the module docstring."""
    return digest([KEY_VERSION, SCHEME, dataset_id, dataset_digest, image, image_id, pipeline_id, channel_id,
                   round_key(snr_db), round_key(ratio), int(seed), int(realization), bool(quantize)])


def human_key(row: Mapping) -> tuple:
    """The :data:`KEY_COLUMNS` of a row as a tuple (NaN and None as empty strings)."""
    return tuple(_plain(c, row.get(c)) for c in KEY_COLUMNS)


def _plain(col: str, v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "" if col not in ("realization",) else 0
    if col in ("snr_db", "ratio"):
        return round_key(v)
    if col in ("seed", "realization"):
        return int(v)
    return v


def current(df: pd.DataFrame) -> pd.Series:
    """Boolean mask of the rows keyed under :data:`KEY_VERSION` (older stores' rows are False)."""
    if "row_id" not in df.columns or "key_version" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["row_id"].notna() & (pd.to_numeric(df["key_version"], errors="coerce") == KEY_VERSION)


def dedupe(df: pd.DataFrame, by: str | Iterable[str] = "row_id") -> pd.DataFrame:
    """Drop rows whose ``by`` columns repeat a later row's (the last occurrence wins)."""
    if not len(df):
        return df
    cols = [by] if isinstance(by, str) else list(by)
    return df.loc[~df.duplicated(cols, keep="last")].reset_index(drop=True)
