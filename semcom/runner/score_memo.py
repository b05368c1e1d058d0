"""Scores already computed in this process, by content: a reconstruction seen before is not scored again.

Digital chains send the same bytes at many cells of a sweep: an image sent error-free with the
same MCS at two SNR points, or over AWGN and over Rayleigh, is decoded to the same pixels, and a
lost image shows the same fallback at every SNR. In the deepjscc_vs_bpg_ldpc study about one cell
in seven of a job repeats one of the same job, and more repeat across the jobs that a Hydra
multirun worker runs one after another. The runner therefore keys every per-image score by

    (metric name, its checkpoint tag, its parameters, reference content, reconstruction content)

and every set-metric feature vector by (feature id, reconstruction content), where content is
the BLAKE2b digest of the image tensor as scored (after 8-bit quantisation when ``quantize``),
and computes only keys it has not met. A metric whose scores are not a function of its inputs
(``Metric.deterministic`` False, e.g. SeSS with ``faithful=True``, dropout on) is never memoised.

The memo lives in the process (a multirun worker keeps it across jobs) and holds at most
``MAX_ENTRIES`` keys, least recently used dropped first. Values are small: floats per score,
one (D,) float64 vector per feature (Inception pool3: 16 KiB). The runner also keeps it on disk
beside the result store (``<store>/scores/part-*.pkl``, one file per finished job, written
atomically): :func:`follow_store` loads the parts other jobs of the sweep wrote (a job over
Rayleigh fading then reuses the AWGN job's scores of the same decoded images, whichever worker
ran it), :func:`flush` writes what this job added. ``force=true`` runs neither.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import uuid
from collections import OrderedDict
from pathlib import Path

import torch

#: Keys kept (scores and feature vectors together); 50,000 Inception vectors are about 800 MiB.
MAX_ENTRIES = 50_000

_MEMO: OrderedDict[tuple, object] = OrderedDict()
_NEW: dict[tuple, object] = {}  # added since the last flush
_DISK: dict[str, object] = {"dir": None, "loaded": set()}


def content_digest(image: torch.Tensor) -> str:
    """BLAKE2b-128 hex digest of one image tensor's dtype, shape and bytes (any device)."""
    t = image.detach().cpu().contiguous()
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


def metric_key(metric, params: dict | None = None) -> tuple[str, str, str] | None:
    """What identifies a metric's scores: name, checkpoint tag and constructor parameters;
    None for a metric that must not be memoised."""
    if not getattr(metric, "deterministic", True):
        return None
    return (metric.name, str(metric.checkpoint), json.dumps(params or {}, sort_keys=True, default=str))


def get(key: tuple):
    """The value stored under ``key`` (marked recently used), or None."""
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    return None


def put(key: tuple, value, new: bool = True) -> None:
    _MEMO[key] = value
    _MEMO.move_to_end(key)
    if new and _DISK["dir"] is not None:
        _NEW[key] = value
    while len(_MEMO) > MAX_ENTRIES:
        _MEMO.popitem(last=False)


def clear() -> None:
    """Forget everything in memory and stop following a store."""
    _MEMO.clear()
    _NEW.clear()
    _DISK.update(dir=None, loaded=set())


def follow_store(folder: str | os.PathLike) -> int:
    """Keep the memo in ``folder`` from now on and load the parts there not loaded yet; returns the
    number of entries loaded. Unreadable parts (a crash mid-write cannot leave one: writes are
    atomic; a file from another semcom version might) are skipped."""
    folder = Path(folder)
    if _DISK["dir"] != folder:
        _DISK.update(dir=folder, loaded=set())
        _NEW.clear()
    loaded = 0
    for part in sorted(folder.glob("part-*.pkl")) if folder.is_dir() else []:
        if part.name in _DISK["loaded"]:
            continue
        try:
            entries = pickle.loads(part.read_bytes())
        except Exception:  # noqa: BLE001 - a cache: skip what cannot be read
            continue
        for key, value in entries:
            put(key, value, new=False)
        _DISK["loaded"].add(part.name)
        loaded += len(entries)
    return loaded


def flush() -> Path | None:
    """Write the entries added since the last flush as one new part of the followed folder."""
    folder = _DISK["dir"]
    if folder is None or not _NEW:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"part-{uuid.uuid4().hex}.pkl"
    tmp = folder / f".{part.name}.tmp"
    tmp.write_bytes(pickle.dumps(list(_NEW.items()), protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(tmp, part)
    _DISK["loaded"].add(part.name)
    _NEW.clear()
    return part


def unique_missing(keys: list[tuple | None]) -> list[int]:
    """Indices of the first occurrence of each key not in the memo (a None key is always computed)."""
    seen, out = set(), []
    for i, k in enumerate(keys):
        if k is None:
            out.append(i)
        elif k not in _MEMO and k not in seen:
            seen.add(k)
            out.append(i)
    return out
