"""``python -m semcom.meta fit sess_lite``: fit SeSS's constants to human ratings.

The ratings' pairs are split by reference image (seeded shuffle; a reference and all its
distortions fall on one side, so the held-out split has unseen content; with a single reference
the pairs themselves are split) into ``train_fraction`` for training and the rest held out. The
7 constants theta, alpha, beta, k1, k2, k3, graph_weight are searched within
:data:`semcom.metrics.sess.metric.PARAM_BOUNDS` by scipy's differential evolution (bounded,
derivative-free: SROCC is piecewise constant in the constants) to maximise the training SROCC,
oriented by the sign of the paper constants' training SROCC (ratings as MOS or DMOS both work).

Graph extraction (detector, embedder) does not depend on the constants: every image's extracted
parts (:class:`~semcom.metrics.sess.metric.RawGraph`) are cached on disk
(``<cache>/<extraction tag digest>/<image sha256>.pkl``), so a fit, and a fit run again, extracts
each image once; every trial only assembles graphs (k1..k3) and matches them.

The result is a YAML file (``params:`` the fitted constants, ``fit:`` the split sizes and the
training / held-out SROCC with the paper's and the fitted constants) that the metric loads:
``SeSSLite(params="fitted.yaml")``, or in a job ``metric_params.sess_lite.params=fitted.yaml``.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import differential_evolution
from scipy.stats import spearmanr

from semcom.datasets import load_image
from semcom.errors import SemcomError
from semcom.meta.ratings import load_ratings
from semcom.metrics.sess.metric import DEFAULT_PARAMS, PARAM_BOUNDS, RawGraph, assemble_graph, score_graphs

FITTABLE = ("sess_lite", "sess")


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "semcom" / "sess_graphs"


def _file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cached_raw_graphs(metric, paths: list[str], cache_dir: str | Path, progress: bool = False) -> tuple[dict[str, RawGraph], int]:
    """``{path: RawGraph}`` for every image path, extracting only those not cached; and the
    number extracted now. The cache key is the image file's sha256 under the metric's
    extraction tag (components and checkpoints)."""
    folder = Path(cache_dir) / hashlib.sha256(metric.extraction_tag().encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    out, extracted = {}, 0
    unique = list(dict.fromkeys(paths))
    for k, p in enumerate(unique):
        f = folder / f"{_file_digest(p)}.pkl"
        if f.is_file():
            with open(f, "rb") as fh:
                out[p] = pickle.load(fh)
            continue
        import torch

        with torch.no_grad():
            raw = metric.raw_graph(load_image(p, convert=True))
        tmp = f.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(raw, fh)
        tmp.replace(f)
        out[p] = raw
        extracted += 1
        if progress:
            print(f"  graph {k + 1}/{len(unique)} extracted", flush=True)
    return out, extracted


def split_pairs(ratings: pd.DataFrame, train_fraction: float = 0.7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train index, held-out index) into ``ratings``: by reference (see module doc)."""
    if not 0 < train_fraction < 1:
        raise SemcomError(f"train fraction {train_fraction} must lie strictly between 0 and 1, e.g. 0.7")
    rng = np.random.default_rng(seed)
    refs = ratings["reference"].unique()
    if len(refs) >= 2:
        order = rng.permutation(refs)
        n_train = min(max(1, round(train_fraction * len(refs))), len(refs) - 1)
        train_refs = set(order[:n_train])
        is_train = ratings["reference"].isin(train_refs).to_numpy()
    else:
        perm = rng.permutation(len(ratings))
        n_train = min(max(1, round(train_fraction * len(ratings))), len(ratings) - 1)
        is_train = np.zeros(len(ratings), bool)
        is_train[perm[:n_train]] = True
    train, held = np.flatnonzero(is_train), np.flatnonzero(~is_train)
    if len(train) < 3 or len(held) < 3:
        raise SemcomError(f"the split has {len(train)} training and {len(held)} held-out pairs: a fit needs at least 3 on each side "
                          "(more rated pairs, or another --train-fraction)")
    return train, held


class PairScorer:
    """SeSS of every pair under given constants, from cached extracted parts."""

    def __init__(self, ratings: pd.DataFrame, raws: dict[str, RawGraph], r: np.ndarray, in_place: bool = False):
        self.refs = ratings["reference"].tolist()
        self.dists = ratings["distorted"].tolist()
        self.raws = raws
        self.r = r
        self.in_place = in_place

    def scores(self, params: dict, index: np.ndarray) -> np.ndarray:
        needed = {self.refs[i] for i in index} | {self.dists[i] for i in index}
        graphs = {p: assemble_graph(self.raws[p], params) for p in needed}
        return np.array([score_graphs(graphs[self.refs[i]], graphs[self.dists[i]], self.r, params, self.in_place) for i in index])


def _srocc(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    v = spearmanr(x, y).statistic
    return 0.0 if not math.isfinite(v) else float(v)


def fit_metric(metric, ratings_path: str | Path, out_path: str | Path, train_fraction: float = 0.7, seed: int = 0,
               maxiter: int = 30, popsize: int = 8, cache_dir: str | Path | None = None, progress: bool = False) -> dict:
    """Fit ``metric``'s constants (a SeSS / SeSSLite instance) and write the YAML; return the report
    (``params``, ``fit``: pairs, SROCC default / fitted on both splits, graphs extracted now)."""
    import yaml

    ratings = load_ratings(ratings_path)
    train, held = split_pairs(ratings, train_fraction, seed)
    metric.load()
    raws, extracted = cached_raw_graphs(metric, ratings["reference"].tolist() + ratings["distorted"].tolist(),
                                        cache_dir or default_cache_dir(), progress)
    scorer = PairScorer(ratings, raws, metric.predicate_similarity(), in_place=metric.faithful)
    y = ratings["score"].to_numpy(float)
    names = list(DEFAULT_PARAMS)
    default = dict(DEFAULT_PARAMS)
    train_default = _srocc(scorer.scores(default, train), y[train])
    sign = -1.0 if train_default < 0 else 1.0

    def objective(v: np.ndarray) -> float:
        return -sign * _srocc(scorer.scores(dict(zip(names, map(float, v))), train), y[train])

    result = differential_evolution(objective, [PARAM_BOUNDS[n] for n in names], seed=seed, maxiter=maxiter, popsize=popsize,
                                    polish=False, tol=0, x0=np.array([default[n] for n in names]))
    fitted = {n: float(round(v, 6)) for n, v in zip(names, result.x)}
    # keep the paper's constants when the search found nothing better on the training split
    train_fitted = _srocc(scorer.scores(fitted, train), y[train])
    if sign * train_fitted <= sign * train_default:
        fitted, train_fitted = default, train_default
    report = {
        "metric": metric.name,
        "params": fitted,
        "fit": {
            "ratings": str(Path(ratings_path).resolve()),
            "extraction": metric.extraction_tag(),
            "train_pairs": int(len(train)), "heldout_pairs": int(len(held)),
            "train_references": int(ratings.iloc[train]["reference"].nunique()),
            "heldout_references": int(ratings.iloc[held]["reference"].nunique()),
            "srocc_train_default": round(train_default, 6), "srocc_train_fitted": round(train_fitted, 6),
            "srocc_heldout_default": round(_srocc(scorer.scores(default, held), y[held]), 6),
            "srocc_heldout_fitted": round(_srocc(scorer.scores(fitted, held), y[held]), 6),
            "optimizer": f"scipy differential_evolution(maxiter={maxiter}, popsize={popsize}, seed={seed})",
            "evaluations": int(result.nfev), "seed": int(seed), "train_fraction": float(train_fraction),
            "graphs_extracted_now": int(extracted), "graphs_total": len(raws),
        },
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# {metric.name} constants fitted by python -m semcom.meta fit; use: metric_params.{metric.name}.params={out_path}\n"
    out_path.write_text(header + yaml.safe_dump(report, sort_keys=False))
    return report
