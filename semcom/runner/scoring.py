"""Stage 3 of a job: score. Per-image metrics and set-metric features of reconstructions.

A :class:`Scorer` scores the cells of one pipeline call against their references. Reference-side
work (LPIPS/DISTS features of the batch's references) is prepared once per batch and remembered
across the jobs of a process (:class:`~semcom.runner.references.ReferenceCache`); a
(reference, reconstruction) pair met before, here or in another job of the sweep, is taken from
the :class:`~semcom.runner.score_memo.ScoreMemo` instead of being scored again. Both caches are
handed to the scorer by the job.
"""

from __future__ import annotations

import math

import torch

from semcom.metrics.base import Metric, SetMetric, too_small
from semcom.runner.references import ReferenceCache, take
from semcom.runner.score_memo import ScoreMemo, metric_key


class Scorer:
    """Scores for one job.

    Args:
        metrics: the job's loaded metrics (per-image and set metrics).
        metric_params: ``{metric name: constructor keywords}`` (part of the memo's key).
        memo: scores and features by content.
        references: prepared reference states and reference features by content.
    """

    def __init__(self, metrics: list[Metric], metric_params: dict, memo: ScoreMemo, references: ReferenceCache):
        self.per_image = [m for m in metrics if m.per_image]
        self.extractors: dict[str, SetMetric] = {}  # feature_id -> the set metric computing them (FID, KID share)
        for m in metrics:
            if not m.per_image:
                self.extractors.setdefault(m.feature_id, m)
        self.metric_params = metric_params
        self.memo = memo
        self.references = references
        self._states: dict[str, object] = {}

    def new_batch(self) -> None:
        """Forget the prepared states of the previous batch's references."""
        self._states = {}

    def score(self, images: torch.Tensor, ref_ids: list[str], index: list[int], rec: torch.Tensor, rec_ids: list[str]) -> dict[str, list[float]]:
        """Columns ``{name: [value per cell]}`` of every per-image metric for the cells of one call.

        ``images``: the batch's references (B, 3, H, W); cell i scores ``rec[i]`` against
        ``images[index[i]]`` (content digests ``ref_ids[i]``, ``rec_ids[i]``). Pairs in the memo
        are not scored again; the others go through the metric as one sub-batch.
        """
        n = len(index)
        scores: dict[str, list[float]] = {}
        for m in self.per_image:
            for name, values in self._metric_columns(m, images, ref_ids, index, rec, rec_ids).items():
                column = scores.setdefault(name, [math.nan] * n)
                for i, v in enumerate(values):
                    column[i] = _finite_or_nan(v)
        return scores

    def _metric_columns(self, m: Metric, images, ref_ids, index, rec, rec_ids) -> dict[str, list]:
        if too_small(m, images):  # below the metric's min_size: NaN, one warning per metric (never a crash inside torch)
            return {name: [math.nan] * len(index) for name in m.columns()}
        mk = metric_key(m, self.metric_params.get(m.name))
        keys = [None if mk is None else (mk, a, b) for a, b in zip(ref_ids, rec_ids)]
        todo = self.memo.unique_missing(keys)
        computed: dict[int, dict] = {}
        if todo:
            if m.name not in self._states:
                self._states[m.name] = self.references.state(m, images)
            sub = rec if len(todo) == len(index) else rec[torch.as_tensor(todo, device=rec.device)]
            with torch.no_grad():
                columns = m.score_columns(take(self._states[m.name], [index[i] for i in todo], images.shape[0]), sub)
            columns = {name: vals.cpu().tolist() for name, vals in columns.items()}
            for k, i in enumerate(todo):
                computed[i] = {name: vals[k] for name, vals in columns.items()}
                if keys[i] is not None:
                    self.memo.put(keys[i], computed[i])
        by_key = {keys[i]: v for i, v in computed.items() if keys[i] is not None}
        rows = [computed[i] if i in computed else by_key.get(keys[i]) or self.memo.get(keys[i]) for i in range(len(index))]
        return {name: [r[name] for r in rows] for name in rows[0]} if rows else {}

    def features(self, rec: torch.Tensor, rec_ids: list[str]) -> dict[str, torch.Tensor]:
        """``{feature_id: (N, D) float64}`` of the reconstructions for every set metric; contents
        met before are taken from the memo (a set metric's features depend on the image alone)."""
        out = {}
        for fid, metric in self.extractors.items():
            keys = [("features", fid, r) for r in rec_ids]
            todo = self.memo.unique_missing(keys)
            computed = {}
            if todo:
                feats = metric.features(rec if len(todo) == len(keys) else rec[torch.as_tensor(todo, device=rec.device)])
                for k, i in enumerate(todo):
                    computed[keys[i]] = feats[k].clone()
                    self.memo.put(keys[i], computed[keys[i]])
            out[fid] = torch.stack([computed[k] if k in computed else self.memo.get(k) for k in keys])
        return out


def _finite_or_nan(x) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else float("nan")
