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

A :class:`ScoreMemo` holds at most ``MAX_ENTRIES`` keys, least recently used dropped first.
Values are small: floats per score, one (D,) float64 vector per feature (Inception pool3:
16 KiB). The runner hands each job the memo of its result store (:func:`store_memo`: one object
per store folder in a process, so a multirun worker keeps it across jobs), kept on disk beside
the store (``<store>/scores/part-*.pkl``, one file per finished job, written atomically):
:meth:`ScoreMemo.load` reads the parts other jobs of the sweep wrote (a job over Rayleigh fading
then reuses the AWGN job's scores of the same decoded images, whichever worker ran it),
:meth:`ScoreMemo.flush` writes what this job added. ``force=true`` hands the job an empty memo
with no folder.
"""

from __future__ import annotations

import json
import os
import pickle
import uuid
from collections import OrderedDict
from pathlib import Path

from semcom.store.keys import tensor_digest as content_digest  # noqa: F401  (the memo's content key)

#: Keys kept (scores and feature vectors together); 50,000 Inception vectors are about 800 MiB.
MAX_ENTRIES = 50_000


def metric_key(metric, params: dict | None = None) -> tuple[str, str, str] | None:
    """What identifies a metric's scores: name, checkpoint tag and constructor parameters;
    None for a metric that must not be memoised."""
    if not getattr(metric, "deterministic", True):
        return None
    return (metric.name, str(metric.checkpoint), json.dumps(params or {}, sort_keys=True, default=str))


class ScoreMemo:
    """Scores and features by content (see the module docstring); ``folder``: where its parts live."""

    def __init__(self, folder: str | os.PathLike | None = None, max_entries: int = MAX_ENTRIES):
        self.folder = Path(folder) if folder is not None else None
        self.max_entries = max_entries
        self._memo: OrderedDict[tuple, object] = OrderedDict()
        self._new: dict[tuple, object] = {}
        self._loaded: set[str] = set()

    def get(self, key: tuple | None):
        """The value stored under ``key`` (marked recently used), or None."""
        if key is not None and key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        return None

    def __contains__(self, key) -> bool:
        return key in self._memo

    def put(self, key: tuple, value, new: bool = True) -> None:
        self._memo[key] = value
        self._memo.move_to_end(key)
        if new and self.folder is not None:
            self._new[key] = value
        while len(self._memo) > self.max_entries:
            self._memo.popitem(last=False)

    def load(self) -> int:
        """Read the parts of :attr:`folder` not read yet; return the number of entries loaded.
        Unreadable parts (a crash mid-write cannot leave one: writes are atomic; a damaged disk or
        a file from another semcom version might) are moved into ``quarantine/`` with one warning."""
        loaded, bad = 0, []
        if self.folder is None or not self.folder.is_dir():
            return 0
        for part in sorted(self.folder.glob("part-*.pkl")):
            if part.name in self._loaded:
                continue
            try:
                entries = pickle.loads(part.read_bytes())
                entries = [(tuple(key), value) for key, value in entries]
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - a cache: what cannot be read is moved aside and recomputed
                bad.append((part, exc))
                continue
            for key, value in entries:
                self.put(key, value, new=False)
            self._loaded.add(part.name)
            loaded += len(entries)
        if bad:
            from semcom.store.parts import quarantine

            quarantine(bad, "their scores are computed again when needed")
        return loaded

    def flush(self) -> Path | None:
        """Write the entries added since the last flush as one new part of :attr:`folder`."""
        if self.folder is None or not self._new:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f"part-{uuid.uuid4().hex}.pkl"
        tmp = self.folder / f".{part.name}.tmp"
        tmp.write_bytes(pickle.dumps(list(self._new.items()), protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, part)
        self._loaded.add(part.name)
        self._new.clear()
        return part

    def unique_missing(self, keys: list[tuple | None]) -> list[int]:
        """Indices of the first occurrence of each key not in the memo (a None key is always computed)."""
        seen, out = set(), []
        for i, k in enumerate(keys):
            if k is None:
                out.append(i)
            elif k not in self._memo and k not in seen:
                seen.add(k)
                out.append(i)
        return out


_BY_FOLDER: dict[str, ScoreMemo] = {}


def store_memo(folder: str | os.PathLike) -> ScoreMemo:
    """The memo of a store's ``scores`` folder: one object per folder in a process, its parts loaded."""
    key = str(Path(folder).expanduser().resolve())
    memo = _BY_FOLDER.setdefault(key, ScoreMemo(key))
    memo.load()
    return memo
