"""SeSS (Fan et al. 2024) with pluggable stages, and the offline light variant ``sess_lite``.

Per image: segments (segmenter) -> relation scores (relation model) -> triplets (top 20, then
p >= 0.05; one predicate per ordered pair) -> nodes = segments in kept triplets, with the
embedder's crop features (crop to the segment's box), mask centroids, and importance from
spectral-residual saliency mass and relation mass -> :class:`SceneGraph`; the image's global
embedding. Two graphs are scored by :func:`semcom.metrics.sess.matching.sess_score`.

Predicate similarity R: the relation model's own matrix if it has one (geometric predicates),
else the cosine of the embedder's text embeddings of the predicate names (the paper: CLIP text).

``faithful=True`` reproduces the official code's quirks: the update is in place from the second
round on, the relation model runs in training mode (dropout on), and images wider than 800 px are
segmented on an 800 px-wide thumbnail while crops and masks are taken at full size without
rescaling the boxes. Default: deterministic, synchronous update, one resolution throughout.

The reference's graphs are built in :meth:`SeSS.prepare` and reused for every reconstruction
(the runner also keeps them across the jobs of a sweep), so a sweep pays graph extraction for
each reference once.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from semcom.metrics.base import Metric, check_unit_range
from semcom.metrics.sess.components import (
    CLIPCropEmbedder,
    DetectorSegmenter,
    DinoEmbedder,
    GeometricRelations,
    RAMRelations,
    SAMSegmenter,
    crop_boxes,
)
from semcom.metrics.sess.graph import SceneGraph, build_graph
from semcom.metrics.sess.matching import sess_score
from semcom.metrics.sess.saliency import spectral_residual

THUMBNAIL_WIDTH = 800


class GraphList(list):
    """Per-image scene graphs (a prepared reference batch); ``select`` picks images."""

    def select(self, index):
        return type(self)(self[i] for i in index)


class SeSS(Metric):
    """SeSS in [about -0.05, 1], (N,) for (N, 3, H, W) float images in [0, 1]; higher is better.

    Default components are the paper's: SAM ViT-H masks, RelateAnything relations, OpenCLIP
    ViT-H-14 embeddings (not available offline; RelateAnything's network is not implemented here,
    so ``sess`` with the default relation model reports that at load).
    """

    name = "sess"
    higher_is_better = True
    weights = ("sam/vit-h", "ram/relate-anything", "openclip/vit-h-14")

    def __init__(self, segmenter=None, relation=None, embedder=None, faithful: bool = False):
        self.faithful = bool(faithful)
        self.segmenter = segmenter if segmenter is not None else SAMSegmenter()
        self.relation = relation if relation is not None else RAMRelations(faithful=self.faithful)
        self.embedder = embedder if embedder is not None else CLIPCropEmbedder()
        self._loaded = False
        self._r = None

    def load(self) -> "SeSS":
        if not self._loaded:
            for part in (self.segmenter, self.relation, self.embedder):
                part.load()
            tags = [getattr(p, "tag", None) or type(p).__name__ for p in (self.segmenter, self.relation, self.embedder)]
            self.checkpoint = "+".join(tags) + ("[faithful]" if self.faithful else "")
            self._loaded = True
        return self

    def predicate_similarity(self) -> np.ndarray:
        """R (P, P) over the relation model's predicates."""
        if self._r is None:
            own = self.relation.predicate_similarity()
            if own is not None:
                self._r = np.asarray(own, np.float64)
            else:
                t = self.embedder.texts(list(self.relation.predicates))
                t = t / np.linalg.norm(t, axis=1, keepdims=True)
                self._r = t @ t.T
        return self._r

    def graph(self, image: torch.Tensor) -> SceneGraph:
        """The scene graph of one (3, H, W) [0, 1] image."""
        self.load()
        h, w = image.shape[-2:]
        seg_image = image
        if self.faithful and w > THUMBNAIL_WIDTH:  # the official quirk: segment small, crop large
            size = (max(1, round(h * THUMBNAIL_WIDTH / w)), THUMBNAIL_WIDTH)
            seg_image = F.interpolate(image[None].float(), size=size, mode="bilinear", align_corners=False, antialias=True)[0]
        segments = self.segmenter.segment(seg_image)
        global_feature = self.embedder.image(image)
        if len(segments) == 0:
            return SceneGraph.empty(global_feature, tuple(self.relation.predicates))
        shape = (h, w)
        features = self.embedder.crops(crop_boxes(image, segments.boxes))
        saliency = spectral_residual(image)
        masks = [segments.mask(k, seg_image.shape[-2:]) for k in range(len(segments))]
        if seg_image is not image:  # thumbnail masks laid over the full-size saliency map, unscaled
            masks = [np.pad(m, ((0, h - m.shape[0]), (0, w - m.shape[1]))) for m in masks]
        mass = np.array([saliency[m].sum() for m in masks])
        centroids = segments.centroids(seg_image.shape[-2:])
        with _train_mode(self.relation, self.faithful):
            scores = self.relation.scores(seg_image, segments)
        return build_graph(features, centroids, mass, scores, tuple(self.relation.predicates), global_feature,
                           boxes=segments.boxes, labels=segments.labels)

    def graphs(self, images: torch.Tensor) -> GraphList:
        check_unit_range(images, self.name)
        self.load()
        with torch.no_grad():
            return GraphList(self.graph(im) for im in images)

    def prepare(self, reference: torch.Tensor) -> GraphList:
        return self.graphs(reference)

    def compare(self, g1: SceneGraph, g2: SceneGraph) -> float:
        return sess_score(g1, g2, self.predicate_similarity(), in_place=self.faithful)

    def score(self, state: GraphList, reconstruction: torch.Tensor) -> torch.Tensor:
        recs = self.graphs(reconstruction)
        return torch.tensor([self.compare(a, b) for a, b in zip(state, recs)], dtype=torch.float32)


class _train_mode:
    """Context: put a relation model's network in training mode (faithful: dropout on)."""

    def __init__(self, relation, on: bool):
        self.net = getattr(relation, "network", None) if on else None

    def __enter__(self):
        if isinstance(self.net, torch.nn.Module):
            self._was = self.net.training
            self.net.train(True)

    def __exit__(self, *exc):
        if isinstance(self.net, torch.nn.Module):
            self.net.train(self._was)


class SeSSLite(SeSS):
    """``sess_lite``: SeSS's graph matching on an offline graph: YOLOX-Nano objects (score >= 0.3)
    as nodes (boxes as masks), geometric predicates with a fixed similarity, DINOv2 CLS embeddings
    of the crops and of the image. A different number from SeSS: always reported as ``sess_lite``.
    An image without detected objects has an empty graph: against a non-empty graph it scores
    0.05 x the global cosine (its objects are all lost); two empty graphs score the global cosine.
    """

    name = "sess_lite"
    weights = ("yolox/nano", "dinov2/small")

    def __init__(self, segmenter=None, relation=None, embedder=None, faithful: bool = False):
        super().__init__(segmenter if segmenter is not None else DetectorSegmenter(),
                         relation if relation is not None else GeometricRelations(),
                         embedder if embedder is not None else DinoEmbedder(), faithful)
