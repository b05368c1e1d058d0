"""SeSS iterative graph matching (Fan et al. 2024), after the node similarity and the rounds.

With graphs G1 (n1 nodes) and G2 (n2 nodes), predicate similarity R (P1, P2):

1. L0(a, b) = (1 - theta) cos(f_a, f_b) + theta (1 - ||c_a - c_b||^2 / 2), theta = 0.2.
2. ``rounds`` = 7 times, for every pair (a, b): if neither has out-neighbours,
   L(a,b) <- (1 - beta) L(a,b) + beta; otherwise with N(p,q) = (1 - alpha) L(n_p, n_q) + alpha
   R(r_p, r_q) over the out-neighbours of a (rows) and b (columns), s1 = Hungarian maximum of N
   with rows weighted by the importance of a's neighbours (normalised over them), s2 likewise with
   columns weighted by b's neighbours; L(a,b) <- (1 - beta) L(a,b) + beta (s1 w1(a) + s2 w2(b)) /
   (w1(a) + w2(b)), w = node importance. One side without neighbours: s1 = s2 = 0. alpha 0.25,
   beta 0.05. Synchronous (every pair reads the previous round) unless ``in_place`` (the
   official code's quirk: from the second round on, pairs read values already updated).
3. S1 = Hungarian maximum of L with rows weighted by w1, S2 with columns weighted by w2,
   S_graph = (S1 n1 + S2 n2) / (n1 + n2).

SeSS = 0.95 S_graph + 0.05 cos(global1, global2). Empty graphs (the official code crashes): one
empty graph matches nothing of the other, S_graph = 0 and SeSS = 0.05 cos; both empty, SeSS = cos
(the global term alone).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from semcom.metrics.sess.graph import SceneGraph

THETA = 0.2
ALPHA = 0.25
BETA = 0.05
ROUNDS = 7
GRAPH_WEIGHT = 0.95


def weighted_assignment(m: np.ndarray, weights: np.ndarray, axis: int) -> float:
    """Maximum over one-to-one assignments of sum w * m, weights on rows (axis 0) or columns (1)."""
    if m.size == 0:
        return 0.0
    w = m * (weights[:, None] if axis == 0 else weights[None, :])
    r, c = linear_sum_assignment(w, maximize=True)
    return float(w[r, c].sum())


def initial_similarity(g1: SceneGraph, g2: SceneGraph, theta: float = THETA) -> np.ndarray:
    """L0 (n1, n2): feature cosine mixed with centroid closeness."""
    cos = g1.features @ g2.features.T
    d2 = ((g1.centroids[:, None, :] - g2.centroids[None, :, :]) ** 2).sum(-1)
    return (1 - theta) * cos + theta * (1 - d2 / 2)


def _update(l_src: np.ndarray, g1: SceneGraph, g2: SceneGraph, a: int, b: int, r: np.ndarray, alpha: float, beta: float) -> float:
    na, nb = g1.edges[a], g2.edges[b]
    if not na and not nb:
        return (1 - beta) * l_src[a, b] + beta
    if not na or not nb:
        s1 = s2 = 0.0
    else:
        pa = np.array([n for n, _ in na])
        pb = np.array([n for n, _ in nb])
        ra = np.array([p for _, p in na])
        rb = np.array([p for _, p in nb])
        n = (1 - alpha) * l_src[np.ix_(pa, pb)] + alpha * r[np.ix_(ra, rb)]
        wa, wb = g1.importance[pa], g2.importance[pb]
        wa = wa / wa.sum() if wa.sum() > 0 else np.full(len(pa), 1 / len(pa))
        wb = wb / wb.sum() if wb.sum() > 0 else np.full(len(pb), 1 / len(pb))
        s1 = weighted_assignment(n, wa, 0)
        s2 = weighted_assignment(n, wb, 1)
    ia, ib = g1.importance[a], g2.importance[b]
    mix = (s1 * ia + s2 * ib) / (ia + ib) if ia + ib > 0 else (s1 + s2) / 2
    return (1 - beta) * l_src[a, b] + beta * mix


def iterate(g1: SceneGraph, g2: SceneGraph, r: np.ndarray, rounds: int = ROUNDS, alpha: float = ALPHA, beta: float = BETA,
            theta: float = THETA, in_place: bool = False) -> np.ndarray:
    """The node similarity L (n1, n2) after ``rounds`` rounds (see the module docstring)."""
    l = initial_similarity(g1, g2, theta)
    for k in range(rounds):
        src = l if (in_place and k > 0) else l.copy()
        out = l if (in_place and k > 0) else np.empty_like(l)
        for a in range(len(g1)):
            for b in range(len(g2)):
                out[a, b] = _update(src, g1, g2, a, b, r, alpha, beta)
        l = out
    return l


def graph_similarity(g1: SceneGraph, g2: SceneGraph, r: np.ndarray, **kw) -> float:
    """S_graph of two non-empty graphs."""
    l = iterate(g1, g2, r, **kw)
    s1 = weighted_assignment(l, g1.importance, 0)
    s2 = weighted_assignment(l, g2.importance, 1)
    n1, n2 = len(g1), len(g2)
    return (s1 * n1 + s2 * n2) / (n1 + n2)


def sess_score(g1: SceneGraph, g2: SceneGraph, r: np.ndarray, graph_weight: float = GRAPH_WEIGHT, **kw) -> float:
    """SeSS of two graphs with predicate similarity r (P1, P2)."""
    cos = float(g1.global_feature @ g2.global_feature)
    if len(g1) == 0 and len(g2) == 0:
        return cos
    if len(g1) == 0 or len(g2) == 0:
        return (1 - graph_weight) * cos
    return graph_weight * graph_similarity(g1, g2, r, **kw) + (1 - graph_weight) * cos
