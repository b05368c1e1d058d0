"""SeSS graph matching on hand-built graphs, triplet selection, importance; sess_lite on Kodak."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from semcom.datasets import load_image
from semcom.errors import SemcomError
from semcom.metrics import get_metric
from semcom.metrics.sess import SceneGraph, SeSSLite, iterate, node_importance, select_triplets, sess_score
from semcom.metrics.sess.components import DinoEmbedder, GeometricRelations, Segments, dedupe_masks, geometric_similarity
from semcom.metrics.sess.matching import graph_similarity

KODAK = Path(os.environ["SEMCOM_DATA"]) / "kodak"
E = np.eye(4)


def _graph(features, importance, edges=None, centroids=None, global_feature=None) -> SceneGraph:
    n = len(features)
    edges = edges or [[] for _ in range(n)]
    relation = np.zeros((n, n))
    for a, out in enumerate(edges):
        for o, _ in out:
            relation[a, o] = 1.0
    c = np.full((n, 2), 0.5) if centroids is None else np.asarray(centroids, float)
    g = np.array([1.0, 0, 0, 0]) if global_feature is None else np.asarray(global_feature, float)
    return SceneGraph(np.asarray(features, float), c, np.asarray(importance, float), edges, relation, ("p0", "p1"), g)


R = np.array([[1.0, 0.5], [0.5, 1.0]])


def test_identical_graphs_score_one():
    g = _graph(E[:3], [0.5, 0.3, 0.2], edges=[[(1, 0), (2, 1)], [(2, 0)], []], centroids=[[0.1, 0.2], [0.5, 0.5], [0.9, 0.3]])
    assert sess_score(g, g, R) == pytest.approx(1.0, abs=1e-12)


def test_one_round_by_hand():
    """a -> b with predicate 0 against a' -> b' with predicate 1; f_a = f_a', f_b = f_b', f_a ⟂ f_b."""
    g1 = _graph(E[:2], [0.5, 0.5], edges=[[(1, 0)], []])
    g2 = _graph(E[:2], [0.5, 0.5], edges=[[(1, 1)], []])
    l0 = iterate(g1, g2, R, rounds=0)
    assert np.allclose(l0, [[1.0, 0.2], [0.2, 1.0]])  # (1 - 0.2) cos + 0.2 (same centroids)
    l1 = iterate(g1, g2, R, rounds=1)
    # (a,a'): N = 0.75 L(b,b') + 0.25 R(0,1) = 0.875 -> 0.95 + 0.05 * 0.875; (a,b'), (b,a'): one side
    # without neighbours -> 0.95 * 0.2; (b,b'): no neighbours on either side -> 0.95 + 0.05
    assert np.allclose(l1, [[0.95 + 0.05 * 0.875, 0.19], [0.19, 1.0]], atol=1e-15)


def test_disjoint_labels_score_low():
    # orthogonal features, far-apart centroids, opposite predicates, orthogonal global embeddings
    g1 = _graph(E[:2], [0.5, 0.5], edges=[[(1, 0)], []], centroids=[[0, 0], [0, 0]], global_feature=E[0])
    g2 = _graph(E[2:], [0.5, 0.5], edges=[[(1, 1)], []], centroids=[[1, 1], [1, 1]], global_feature=E[1])
    r = np.array([[1.0, 0.0], [0.0, 1.0]])
    score = sess_score(g1, g2, r)
    assert 0 <= score < 0.2
    # L0 = 0 everywhere. (b, b'): no neighbours either side, L <- 0.95 L + 0.05 each round;
    # (a, a'): one neighbour each, N = 0.75 L(b, b') + 0.25 R(0, 1) = 0.75 L(b, b');
    # (a, b'), (b, a'): one side without neighbours, L <- 0.95 L = 0. S1 = S2 = (L_aa + L_bb) / 2.
    l_aa = l_bb = 0.0
    for _ in range(7):
        l_aa, l_bb = 0.95 * l_aa + 0.05 * 0.75 * l_bb, 0.95 * l_bb + 0.05
    assert score == pytest.approx(0.95 * (l_aa + l_bb) / 2 + 0.05 * 0.0, abs=1e-12)


def test_missing_node_by_hand():
    """G2 = G1 without its third node, no edges: L = 1 - 0.95^7 (1 - L0), diagonal 1, off 0.44."""
    g1 = _graph(E[:3], [0.5, 0.3, 0.2])
    g2 = _graph(E[:2], [0.625, 0.375])
    off = 1 - 0.95 ** 7 * (1 - 0.2)
    l7 = iterate(g1, g2, R)
    assert np.allclose(l7, [[1, off], [off, 1], [off, off]], atol=1e-12)
    # S1 = 0.5 + 0.3 (rows by G1's importance, node 3 unmatched), S2 = 1, S = (0.8 * 3 + 1 * 2) / 5
    assert graph_similarity(g1, g2, R) == pytest.approx(0.88, abs=1e-12)
    assert sess_score(g1, g2, R) == pytest.approx(0.95 * 0.88 + 0.05, abs=1e-12)
    assert sess_score(g1, g1, R) > sess_score(g1, g2, R) > sess_score(g1, _graph(E[2:4], [0.5, 0.5], global_feature=E[1]), R)


def test_symmetry_and_faithful_in_place_update():
    rng = np.random.default_rng(0)
    f1 = rng.normal(size=(4, 4))
    f1 /= np.linalg.norm(f1, axis=1, keepdims=True)
    f2 = f1[[1, 0, 2]] + 0.3 * rng.normal(size=(3, 4))
    f2 /= np.linalg.norm(f2, axis=1, keepdims=True)
    g1 = _graph(f1, [0.4, 0.3, 0.2, 0.1], edges=[[(1, 0), (2, 1)], [(3, 0)], [(0, 1)], []], centroids=rng.random((4, 2)))
    g2 = _graph(f2, [0.5, 0.3, 0.2], edges=[[(1, 1)], [(2, 0)], []], centroids=rng.random((3, 2)))
    ab, ba = sess_score(g1, g2, R), sess_score(g2, g1, R.T)
    assert ab == pytest.approx(ba, abs=1e-12)  # synchronous update: symmetric
    # the official in-place update: from round 2, pair (2, .) reads row 0 already updated in that round
    sync, in_place = iterate(g1, g2, R), iterate(g1, g2, R, in_place=True)
    assert np.array_equal(sync[:2], in_place[:2]) and np.abs(sync[2] - in_place[2]).max() > 1e-3


def test_empty_graphs_use_the_global_term():
    e = SceneGraph.empty(np.array([3.0, 4.0, 0, 0]))  # unnormalised: the graph normalises it
    g = _graph(E[:2], [0.5, 0.5])
    # one side empty: nothing matched, S_graph = 0, only 0.05 x the global cosine remains
    assert sess_score(e, g, R) == pytest.approx(0.05 * 0.6) and sess_score(g, e, R) == pytest.approx(0.05 * 0.6)
    assert sess_score(e, e, R) == pytest.approx(1.0)  # both empty: the global cosine alone


def test_select_triplets_top_k_then_threshold_one_predicate_per_pair():
    s = np.zeros((3, 3, 2))
    s[0, 1] = [0.9, 0.8]   # ranks 1 and 2, one ordered pair: only the 0.9 predicate becomes the edge
    s[2, 1, 1] = 0.06      # rank 3
    s[1, 2, 1] = 0.04      # rank 4: kept only if top_k >= 4 (below min_p)
    s[2, 0, 0] = 0.03      # rank 5
    assert select_triplets(s, top_k=3, min_p=0.05) == [(0, 1, 0, 0.9), (2, 1, 1, 0.06)]
    assert select_triplets(s, top_k=4, min_p=0.05) == [(0, 1, 0, 0.9), (2, 1, 1, 0.06), (1, 2, 1, 0.04)]
    # past top_k, every triplet with p >= min_p stays
    assert select_triplets(s, top_k=1, min_p=0.035) == [(0, 1, 0, 0.9), (2, 1, 1, 0.06), (1, 2, 1, 0.04)]
    assert select_triplets(np.zeros((1, 1, 2))) == []


def test_node_importance_by_hand():
    # masses 1 and 2^2.5 -> s = (1, 2) / 3; one edge 0 -> 1 with p = 0.6: r = (0.2, 0.4)
    rel = np.array([[0, 0.6], [0, 0]])
    r = np.array([0.2 ** (1 / 3), 0.4 ** (1 / 3)])
    expected = 0.8 * np.array([1 / 3, 2 / 3]) + 0.2 * r / r.sum()
    assert np.allclose(node_importance(np.array([1.0, 2 ** 2.5]), rel), expected / expected.sum(), atol=1e-12)
    assert np.allclose(node_importance(np.array([1.0, 2 ** 2.5]), np.zeros((2, 2))), [1 / 3, 2 / 3])  # no edges: saliency only
    assert node_importance(np.array([5.0]), np.zeros((1, 1))).tolist() == [1.0]


def test_dedupe_masks_and_geometric_relations():
    m = np.zeros((3, 10, 10), bool)
    m[0, :, :9] = True       # area 90
    m[1, :, :8] = True       # area 80, IoU 80/90 > 0.8 with mask 0: dropped
    m[2, :2, 9:] = True      # area 2, disjoint
    assert dedupe_masks(m) == [0, 2]
    seg = Segments(np.array([[0, 0, 10, 10], [50, 0, 60, 10], [2, 2, 6, 6]], float))
    s = GeometricRelations().scores(torch.zeros(3, 100, 100), seg)
    names = GeometricRelations.predicates
    best = {(a, b): names[int(s[a, b].argmax())] for a in range(3) for b in range(3) if a != b}
    assert best[(0, 1)] == "left of" and best[(1, 0)] == "right of" and best[(2, 0)] == "inside" and best[(0, 2)] == "contains"
    assert s[0, 2].max() == 1.0 and s[0, 1].max() == pytest.approx(np.exp(-40 / np.hypot(100, 100) / 0.25))
    sim = geometric_similarity()
    assert np.allclose(sim, sim.T) and np.all(np.diag(sim) == 1)


def test_sess_default_is_the_paper_pipeline_and_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    m = get_metric("sess")
    assert type(m.segmenter).__name__ == "SAMSegmenter" and type(m.embedder).__name__ == "CLIPCropEmbedder"
    assert len(m.relation.predicates) == 56
    with pytest.raises(SemcomError, match="sam-vit-huge"):
        m.load()


@pytest.fixture(scope="module")
def parrots() -> torch.Tensor:
    """kodim23 at half size (256 x 384), (1, 3, H, W)."""
    x = load_image(KODAK / "kodim23.png")[None]
    return torch.nn.functional.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True).clamp(0, 1)


def test_sess_lite_on_kodak_identity_symmetry_and_noise(parrots):
    default = get_metric("sess_lite").load()
    assert default.checkpoint.startswith("yolox/nano@e8af074932d4+GeometricRelations+dinov2/small@")
    # the same DINOv2 at 112 px (8x8 tokens per crop) keeps the test fast
    m = SeSSLite(segmenter=default.segmenter, embedder=DinoEmbedder(size=112, network=default.embedder._vit._net.model)).load()
    assert m.name == "sess_lite"
    ref = m.prepare(parrots)
    assert len(ref[0]) >= 2 and "bird" in ref[0].labels
    assert m.score(ref, parrots).item() == pytest.approx(1.0, abs=1e-6)
    g = torch.Generator().manual_seed(0)
    noisy = [(parrots + s * torch.randn(parrots.shape, generator=g)).clamp(0, 1) for s in (0.03, 0.1, 0.3)]
    graphs = [m.graphs(y)[0] for y in noisy]
    scores = [m.compare(ref[0], gy) for gy in graphs]
    assert 1 > scores[0] > scores[1] > scores[2], scores
    # a flat grey reconstruction has no objects: an empty graph, 0.05 x the global cosine
    grey = torch.full_like(parrots, 0.5)
    assert len(m.graphs(grey)[0]) == 0
    g_ref, g_grey = m.embedder.image(parrots[0]), m.embedder.image(grey[0])
    cos = float(g_ref @ g_grey / np.linalg.norm(g_ref) / np.linalg.norm(g_grey))
    assert m.score(ref, grey).item() == pytest.approx(0.05 * cos, abs=1e-6)
    # symmetric: same graphs both ways
    assert m.compare(graphs[0], ref[0]) == pytest.approx(scores[0], abs=1e-9)
