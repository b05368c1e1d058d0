"""SeSS scene graphs: triplet selection, node importance, the graph object.

A :class:`SceneGraph` holds n nodes with unit-norm features ``features`` (n, D), centroids
``centroids`` (n, 2) as (x / W, y / H) in [0, 1], importance ``importance`` (n,) summing to 1,
directed edges ``edges[a] = [(o, predicate id), ...]`` (one predicate per ordered pair),
``relation`` (n, n) the kept edge probabilities (0 where no edge), the predicate vocabulary
``predicates`` and the image's unit-norm global embedding ``global_feature`` (D,).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Triplets kept: the TOP_K best, then every further one with p >= MIN_P (Fan et al. 2024).
TOP_K = 20
MIN_P = 0.05
#: Node-importance constants (saliency exponent, relation exponent, saliency share).
K1, K2, K3 = 2.5, 3.0, 0.8


@dataclass
class SceneGraph:
    features: np.ndarray
    centroids: np.ndarray
    importance: np.ndarray
    edges: list[list[tuple[int, int]]]
    relation: np.ndarray
    predicates: tuple[str, ...]
    global_feature: np.ndarray
    boxes: np.ndarray | None = None
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)

    @classmethod
    def empty(cls, global_feature: np.ndarray, predicates: tuple[str, ...] = ()) -> "SceneGraph":
        g = np.asarray(global_feature, np.float64)
        g = g / max(float(np.linalg.norm(g)), 1e-12)
        return cls(np.zeros((0, len(g))), np.zeros((0, 2)), np.zeros(0), [], np.zeros((0, 0)), tuple(predicates), g)


def select_triplets(scores: np.ndarray, top_k: int = TOP_K, min_p: float = MIN_P) -> list[tuple[int, int, int, float]]:
    """Kept (subject, object, predicate, p) from relation scores (K, K, P), best first.

    All triplets with subject != object are ranked by p (ties: lower subject, object, predicate
    first); the first ``top_k`` are kept, then every further one with p >= ``min_p``; of several
    kept predicates for one ordered pair only the highest-ranked stays.
    """
    scores = np.asarray(scores, np.float64)
    k = scores.shape[0]
    if k < 2:
        return []
    s, o, r = np.meshgrid(np.arange(k), np.arange(k), np.arange(scores.shape[2]), indexing="ij")
    off = s != o
    s, o, r, p = s[off], o[off], r[off], scores[off]
    order = np.lexsort((r, o, s, -p))
    kept, seen = [], set()
    for rank, i in enumerate(order):
        if rank >= top_k and p[i] < min_p:
            break
        if (s[i], o[i]) in seen:
            continue
        seen.add((s[i], o[i]))
        kept.append((int(s[i]), int(o[i]), int(r[i]), float(p[i])))
    return kept


def node_importance(saliency_mass: np.ndarray, relation: np.ndarray, k1: float = K1, k2: float = K2, k3: float = K3) -> np.ndarray:
    """Importance (n,) of nodes with saliency masses (n,) and edge probabilities relation (n, n).

    s_i = mass_i^(1/k1), normalised; every edge (i, j) with p > 0 adds p s_i / (s_i + s_j) to r_i
    and p s_j / (s_i + s_j) to r_j; r_i^(1/k2) normalised; importance = k3 s + (1 - k3) r,
    normalised. One node: [1]. Defined where the official code divides by zero: all masses 0 ->
    uniform s; no relation mass -> importance = s.
    """
    mass = np.clip(np.asarray(saliency_mass, np.float64), 0, None)
    n = len(mass)
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    s = mass ** (1.0 / k1)
    s = s / s.sum() if s.sum() > 0 else np.full(n, 1.0 / n)
    rel = np.zeros(n)
    for i, j in zip(*np.nonzero(np.asarray(relation) > 0)):
        if i == j or s[i] + s[j] <= 0:
            continue
        p = relation[i, j]
        rel[i] += p * s[i] / (s[i] + s[j])
        rel[j] += p * s[j] / (s[i] + s[j])
    rel = rel ** (1.0 / k2)
    if rel.sum() <= 0:
        return s
    imp = k3 * s + (1 - k3) * rel / rel.sum()
    return imp / imp.sum()


def build_graph(features: np.ndarray, centroids: np.ndarray, saliency_mass: np.ndarray, scores: np.ndarray,
                predicates: tuple[str, ...], global_feature: np.ndarray, boxes: np.ndarray | None = None,
                labels: list[str] | None = None, top_k: int = TOP_K, min_p: float = MIN_P,
                k1: float = K1, k2: float = K2, k3: float = K3) -> SceneGraph:
    """The scene graph of K segments: features (K, D), centroids (K, 2), saliency masses (K,),
    relation scores (K, K, P). Nodes are the segments in kept triplets (one segment: a one-node
    graph; none: an empty graph). ``k1..k3``: the node-importance constants (:func:`node_importance`)."""
    k = len(features)
    g = np.asarray(global_feature, np.float64)
    g = g / max(np.linalg.norm(g), 1e-12)
    if k == 0:
        return SceneGraph.empty(g, predicates)
    triplets = select_triplets(scores, top_k, min_p)
    nodes = sorted({t[0] for t in triplets} | {t[1] for t in triplets}) if k > 1 else [0]
    index = {seg: i for i, seg in enumerate(nodes)}
    n = len(nodes)
    edges: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    relation = np.zeros((n, n))
    for s, o, r, p in triplets:
        edges[index[s]].append((index[o], r))
        relation[index[s], index[o]] = p
    f = np.asarray(features, np.float64)[nodes]
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    imp = node_importance(np.asarray(saliency_mass)[nodes], relation, k1, k2, k3)
    return SceneGraph(f, np.asarray(centroids, np.float64)[nodes], imp, edges, relation, tuple(predicates), g,
                      None if boxes is None else np.asarray(boxes)[nodes],
                      [labels[i] for i in nodes] if labels else [])
