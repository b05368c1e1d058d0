"""SeSS (Fan et al. 2024): scene graphs and iterative graph matching; ``sess_lite`` runs offline."""

from semcom.metrics.sess.graph import SceneGraph, build_graph, node_importance, select_triplets
from semcom.metrics.sess.matching import graph_similarity, iterate, sess_score
from semcom.metrics.sess.metric import SeSS, SeSSLite

__all__ = ["SceneGraph", "SeSS", "SeSSLite", "build_graph", "graph_similarity", "iterate", "node_importance",
           "select_triplets", "sess_score"]
