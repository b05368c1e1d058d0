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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semcom.metrics.base import ImageStates, Metric, check_unit_range
from semcom.metrics.sess.components import (
    CLIPCropEmbedder,
    DetectorSegmenter,
    DinoEmbedder,
    GeometricRelations,
    RAMRelations,
    SAMSegmenter,
    crop_boxes,
)
from semcom.errors import SemcomError
from semcom.metrics.sess.graph import K1, K2, K3, SceneGraph, build_graph
from semcom.metrics.sess.matching import ALPHA, BETA, GRAPH_WEIGHT, THETA, sess_score
from semcom.metrics.sess.saliency import spectral_residual

THUMBNAIL_WIDTH = 800

#: The tunable constants (the paper's values) and the bounds a fit may search them in.
DEFAULT_PARAMS = {"theta": THETA, "alpha": ALPHA, "beta": BETA, "k1": K1, "k2": K2, "k3": K3, "graph_weight": GRAPH_WEIGHT}
PARAM_BOUNDS = {"theta": (0.0, 1.0), "alpha": (0.0, 1.0), "beta": (0.0, 0.5), "k1": (0.5, 8.0), "k2": (0.5, 8.0),
                "k3": (0.0, 1.0), "graph_weight": (0.0, 1.0)}


def load_params(params) -> dict[str, float]:
    """The full constant set from ``params``: None (the paper's), a mapping of some of
    :data:`DEFAULT_PARAMS`, or a YAML file holding one (a ``params:`` node or the keys at top level,
    as ``python -m semcom.meta fit`` writes). Unknown keys and values outside
    :data:`PARAM_BOUNDS` raise SemcomError."""
    if params is None:
        return dict(DEFAULT_PARAMS)
    source = "params"
    if isinstance(params, (str, Path)):
        import yaml

        path = Path(params).expanduser()
        if not path.is_file():
            raise SemcomError(f"SeSS params file {path} does not exist: give a YAML written by python -m semcom.meta fit")
        source = str(path)
        params = yaml.safe_load(path.read_text()) or {}
        params = params.get("params", params) if isinstance(params, dict) else params
    if not isinstance(params, dict):
        raise SemcomError(f"SeSS {source} must map names to numbers ({', '.join(DEFAULT_PARAMS)})")
    out = dict(DEFAULT_PARAMS)
    for key, value in params.items():
        if key not in DEFAULT_PARAMS:
            raise SemcomError(f"unknown SeSS parameter {key!r} in {source}: choose from {', '.join(DEFAULT_PARAMS)}")
        lo, hi = PARAM_BOUNDS[key]
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise SemcomError(f"SeSS parameter {key}={value!r} in {source} is not a number") from None
        if not lo <= v <= hi:
            raise SemcomError(f"SeSS parameter {key}={v} in {source} is outside [{lo}, {hi}]")
        out[key] = v
    return out


@dataclass
class RawGraph:
    """What graph extraction measures, before the tunable constants are applied (cacheable):
    segment features (K, D), centroids (K, 2), saliency masses (K,), relation scores (K, K, P),
    the global embedding (D,), boxes and labels."""

    features: np.ndarray
    centroids: np.ndarray
    mass: np.ndarray
    scores: np.ndarray
    predicates: tuple[str, ...]
    global_feature: np.ndarray
    boxes: np.ndarray | None = None
    labels: list[str] = field(default_factory=list)


def assemble_graph(raw: RawGraph, params: dict) -> SceneGraph:
    """The scene graph of extracted parts under the constants ``params`` (k1..k3 used here)."""
    if len(raw.features) == 0:
        return SceneGraph.empty(raw.global_feature, raw.predicates)
    return build_graph(raw.features, raw.centroids, raw.mass, raw.scores, raw.predicates, raw.global_feature,
                       boxes=raw.boxes, labels=raw.labels, k1=params["k1"], k2=params["k2"], k3=params["k3"])


def score_graphs(g1: SceneGraph, g2: SceneGraph, r: np.ndarray, params: dict, in_place: bool = False) -> float:
    """SeSS of two graphs under the constants ``params`` (theta, alpha, beta, graph_weight used here)."""
    return sess_score(g1, g2, r, graph_weight=params["graph_weight"], theta=params["theta"], alpha=params["alpha"],
                      beta=params["beta"], in_place=in_place)


class GraphList(ImageStates):
    """The reference batch's scene graphs, one :class:`SceneGraph` per image."""


class SeSS(Metric):
    """SeSS in [about -0.05, 1], (N,) for (N, 3, H, W) float images in [0, 1]; higher is better.

    Default components are the paper's: SAM ViT-H masks, RelateAnything relations, OpenCLIP
    ViT-H-14 embeddings (not available offline: their loading path is tested with tiny models;
    RelateAnything's network in :mod:`semcom.metrics.sess.ram`).

    ``params``: the tunable constants theta, alpha, beta, k1, k2, k3, graph_weight (a mapping of
    some of them or a YAML file written by ``python -m semcom.meta fit``; default the paper's, see
    :func:`load_params`). Constants that differ from the paper's are named in ``checkpoint``.
    """

    name = "sess"
    label = "SeSS"
    range = (0.0, 1.0)
    higher_is_better = True
    weights = ("sam/vit-h", "ram/relate-anything", "openclip/vit-h-14")

    def __init__(self, segmenter=None, relation=None, embedder=None, faithful: bool = False, params=None):
        self.faithful = bool(faithful)
        self.deterministic = not self.faithful  # the official quirks keep dropout on: never memoised
        self.params = load_params(params)
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
            self.checkpoint = "+".join(tags) + ("[faithful]" if self.faithful else "") + self.params_tag()
            self._loaded = True
        return self

    def params_tag(self) -> str:
        """``[k=v,...]`` of the constants that differ from the paper's ('' when none do)."""
        diff = {k: v for k, v in self.params.items() if v != DEFAULT_PARAMS[k]}
        return "[" + ",".join(f"{k}={v:.6g}" for k, v in sorted(diff.items())) + "]" if diff else ""

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

    def raw_graph(self, image: torch.Tensor) -> RawGraph:
        """The extracted parts of one (3, H, W) [0, 1] image's graph (no constant applied yet)."""
        self.load()
        h, w = image.shape[-2:]
        seg_image = image
        if self.faithful and w > THUMBNAIL_WIDTH:  # the official quirk: segment small, crop large
            size = (max(1, round(h * THUMBNAIL_WIDTH / w)), THUMBNAIL_WIDTH)
            seg_image = F.interpolate(image[None].float(), size=size, mode="bilinear", align_corners=False, antialias=True)[0]
        segments = self.segmenter.segment(seg_image)
        global_feature = np.asarray(self.embedder.image(image))
        predicates = tuple(self.relation.predicates)
        if len(segments) == 0:
            return RawGraph(np.zeros((0, len(global_feature))), np.zeros((0, 2)), np.zeros(0), np.zeros((0, 0, len(predicates))),
                            predicates, global_feature)
        features = np.asarray(self.embedder.crops(crop_boxes(image, segments.boxes)))
        saliency = spectral_residual(image)
        masks = [segments.mask(k, seg_image.shape[-2:]) for k in range(len(segments))]
        if seg_image is not image:  # thumbnail masks laid over the full-size saliency map, unscaled
            masks = [np.pad(m, ((0, h - m.shape[0]), (0, w - m.shape[1]))) for m in masks]
        mass = np.array([saliency[m].sum() for m in masks])
        centroids = segments.centroids(seg_image.shape[-2:])
        with _train_mode(self.relation, self.faithful):
            scores = self.relation.scores(seg_image, segments)
        return RawGraph(features, np.asarray(centroids), mass, np.asarray(scores), predicates, global_feature,
                        boxes=segments.boxes, labels=list(segments.labels or []))

    def assemble(self, raw: RawGraph) -> SceneGraph:
        """The scene graph of extracted parts under this metric's constants (k1..k3)."""
        return assemble_graph(raw, self.params)

    def extraction_tag(self) -> str:
        """What the extracted parts depend on (components and checkpoints, not the constants)."""
        self.load()
        tag = self.params_tag()
        return self.checkpoint[: len(self.checkpoint) - len(tag)] if tag else self.checkpoint

    def graph(self, image: torch.Tensor) -> SceneGraph:
        """The scene graph of one (3, H, W) [0, 1] image."""
        return self.assemble(self.raw_graph(image))

    def graphs(self, images: torch.Tensor) -> GraphList:
        check_unit_range(images, self.name)
        self.load()
        with torch.no_grad():
            return GraphList(self.graph(im) for im in images)

    def prepare(self, reference: torch.Tensor) -> GraphList:
        return self.graphs(reference)

    def compare(self, g1: SceneGraph, g2: SceneGraph) -> float:
        return score_graphs(g1, g2, self.predicate_similarity(), self.params, in_place=self.faithful)

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
    label = "SeSS-lite"
    weights = ("yolox/nano", "dinov2/small")

    def __init__(self, segmenter=None, relation=None, embedder=None, faithful: bool = False, params=None):
        super().__init__(segmenter if segmenter is not None else DetectorSegmenter(),
                         relation if relation is not None else GeometricRelations(),
                         embedder if embedder is not None else DinoEmbedder(), faithful, params)
