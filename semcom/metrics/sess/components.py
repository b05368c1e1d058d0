"""SeSS stages as pluggable components.

* Segmenter: ``segment(image (3,H,W) [0,1]) -> Segments`` (masks or boxes in pixels).
* Relation model: ``predicates`` (names) and ``scores(image, segments) -> (K, K, P)``
  probabilities; optionally ``predicate_similarity() -> (P, P)`` (else the embedder's text
  embeddings of the predicate names give R).
* Embedder: ``crops(list of (3,h,w)) -> (K, D)``, ``image(image) -> (D,)``, and, if it can,
  ``texts(names) -> (T, D)``.

The paper's models (:class:`SAMSegmenter`, :class:`RAMRelations` = RelateAnything's relation
network on SAM mask-decoder tokens, see :mod:`semcom.metrics.sess.ram`, :class:`CLIPCropEmbedder`
on OpenCLIP ViT-H-14) and the light ones (:class:`DetectorSegmenter` on YOLOX-Nano,
:class:`GeometricRelations`, :class:`DinoEmbedder`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from semcom.metrics.base import module_on
from semcom.metrics.detection import YOLOXDetector, box_iou
from semcom.metrics.hf import from_pretrained, locate, require
from semcom.metrics.semantic_checkpoints import HUB_IDS
from semcom.metrics.sess.ram import RAMDims, RAMNetwork, SAMMaskTokens, load_checkpoint
from semcom.weights import file_tag, resolve

#: SAM automatic-mask post-processing of the paper: drop masks with IoU > 0.8 against a kept one, keep 512.
MASK_DEDUP_IOU = 0.8
MAX_SEGMENTS = 512

#: The 56 predicates of the Panoptic Scene Graph dataset (RelateAnything's output classes).
PSG_PREDICATES = (
    "over", "in front of", "beside", "on", "in", "attached to", "hanging from", "on back of", "falling off",
    "going down", "painted on", "walking on", "running on", "crossing", "standing on", "lying on", "sitting on",
    "flying over", "jumping over", "jumping from", "wearing", "holding", "carrying", "looking at", "guiding",
    "kissing", "eating", "drinking", "feeding", "biting", "catching", "picking", "playing with", "chasing",
    "climbing", "cleaning", "playing", "touching", "pushing", "pulling", "opening", "cooking", "talking to",
    "throwing", "slicing", "driving", "riding", "parked on", "driving on", "about to hit", "kicking", "swinging",
    "entering", "exiting", "enclosing", "leaning on",
)


@dataclass
class Segments:
    """K segments of an H x W image: ``boxes`` (K, 4) pixels x0 y0 x1 y1, ``masks`` (K, H, W) bool or
    None (then the boxes are the masks), ``labels`` (class names, may be empty)."""

    boxes: np.ndarray
    masks: np.ndarray | None = None
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.boxes)

    def mask(self, k: int, shape: tuple[int, int]) -> np.ndarray:
        if self.masks is not None:
            return self.masks[k]
        m = np.zeros(shape, bool)
        x0, y0, x1, y1 = np.round(self.boxes[k]).astype(int)
        m[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
        return m

    def centroids(self, shape: tuple[int, int]) -> np.ndarray:
        """(K, 2) mask centroids as (x / W, y / H)."""
        h, w = shape
        out = np.zeros((len(self), 2))
        for k in range(len(self)):
            ys, xs = np.nonzero(self.mask(k, shape))
            if len(xs):
                out[k] = ((xs.mean() + 0.5) / w, (ys.mean() + 0.5) / h)
            else:
                x0, y0, x1, y1 = self.boxes[k]
                out[k] = ((x0 + x1) / 2 / w, (y0 + y1) / 2 / h)
        return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return float(inter / union) if union else 0.0


def dedupe_masks(masks: np.ndarray, iou: float = MASK_DEDUP_IOU, limit: int = MAX_SEGMENTS) -> list[int]:
    """Indices of masks kept: largest area first, a mask with IoU > ``iou`` against a kept one
    dropped, at most ``limit``."""
    areas = masks.reshape(len(masks), -1).sum(1)
    kept: list[int] = []
    for i in np.argsort(-areas, kind="stable"):
        if areas[i] == 0:
            continue
        if all(mask_iou(masks[i], masks[j]) <= iou for j in kept):
            kept.append(int(i))
        if len(kept) == limit:
            break
    return kept


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    boxes = np.zeros((len(masks), 4))
    for k, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        if len(xs):
            boxes[k] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return boxes


class SAMSegmenter:
    """SAM ViT-H automatic masks (transformers ``mask-generation`` pipeline), sorted by area,
    deduplicated at IoU 0.8, at most 512 (the paper's segmenter). Checkpoint ``sam/vit-h``."""

    def __init__(self, model: str = "sam/vit-h", points_per_batch: int = 64):
        self.model, self.points_per_batch = model, points_per_batch
        self._pipe = None
        self.tag = None

    def load(self) -> "SAMSegmenter":
        if self._pipe is None:
            transformers = require("transformers", "the SAM segmenter")
            source, self.tag = locate(self.model, HUB_IDS)
            self._pipe = transformers.pipeline("mask-generation", model=source, points_per_batch=self.points_per_batch)
        return self

    def segment(self, image: torch.Tensor) -> Segments:
        from PIL import Image

        self.load()
        arr = (image.permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)
        out = self._pipe(Image.fromarray(arr))
        masks = np.stack([np.asarray(m, bool) for m in out["masks"]]) if len(out["masks"]) else np.zeros((0, *arr.shape[:2]), bool)
        keep = dedupe_masks(masks)
        masks = masks[keep]
        return Segments(masks_to_boxes(masks), masks)


class RAMRelations:
    """RelateAnything (RAM) relation model: 56 PSG predicates, sigmoid scores per ordered segment pair.

    :meth:`scores` gives (K, K, 56) float64 in [0, 1], [s, o, r] for "segment s r segment o", 0 on
    the diagonal. Each segment's feature is SAM's mask-decoder token for that mask (re-prompted
    with one point, :class:`semcom.metrics.sess.ram.SAMMaskTokens`, on the SAM checkpoint
    ``sam_model``, by default the segmenter's ``sam/vit-h``); the K features go through RAM's
    transformer and pair head (:class:`semcom.metrics.sess.ram.RAMNetwork`, official checkpoint
    ``ram/relate-anything`` = ``ram/ram_epoch12.pth``, sizes ``dims``). ``faithful``: the network runs
    in training mode (BERT dropout on, as the official SeSS code runs it), else in eval mode.
    No predicate similarity of its own: SeSS compares predicates by the embedder's text embeddings.

    ``network`` (a :class:`RAMNetwork`, used as is, no checkpoint read) and ``sam`` (a transformers
    ``SamModel``) inject built modules. SAM here is a second copy beside the segmenter's pipeline.
    """

    predicates = PSG_PREDICATES

    def __init__(self, faithful: bool = False, sam_model: str = "sam/vit-h", network: RAMNetwork | None = None, sam=None,
                 dims: RAMDims | None = None):
        self.faithful = bool(faithful)
        self.sam_model = sam_model
        self.dims = dims if dims is not None else RAMDims()
        self.network = network.requires_grad_(False) if network is not None else None
        self._sam = sam
        self._features = None
        self._tags = [f"module:{type(network).__name__}" if network is not None else None,
                      f"module:{type(sam).__name__}" if sam is not None else None]
        self.tag = None

    def load(self) -> "RAMRelations":
        """Read the checkpoints (once); the network's mode is set here, so a caller's later
        ``train()`` (SeSS's faithful run) holds."""
        if self._features is None:
            path = resolve("ram/relate-anything") if self.network is None else None
            if self._sam is None:
                transformers = require("transformers", "the RelateAnything mask features (SAM)")
                source, self._tags[1] = locate(self.sam_model, HUB_IDS)
                self._sam = from_pretrained(transformers.SamModel, source)
            if path is not None:
                self.network = load_checkpoint(RAMNetwork(self.dims), path).requires_grad_(False)
                self._tags[0] = file_tag("ram/relate-anything", path)
            self._features = SAMMaskTokens(self._sam)
            self.network.train(self.faithful)
            self.tag = f"{self._tags[0]}({self._tags[1]})"
        return self

    def predicate_similarity(self):
        return None

    def scores(self, image: torch.Tensor, segments: Segments) -> np.ndarray:
        """(K, K, 56) float64 scores of the K segments of a (3, H, W) [0, 1] image (masks at H x W)."""
        self.load()
        k = len(segments)
        if k < 2:
            return np.zeros((k, k, len(self.predicates)))
        masks = np.stack([segments.mask(i, tuple(image.shape[-2:])) for i in range(k)])
        module_on(self._sam, image.device)
        with torch.no_grad():
            features = self._features(image, masks)
            scores = module_on(self.network, image.device).relation_scores(features)
        return scores.double().cpu().numpy()


#: Geometric predicates of the light variant and their fixed similarity (symmetric, 1 on the diagonal).
GEOMETRIC_PREDICATES = ("left of", "right of", "above", "below", "overlaps", "inside", "contains")
_GEO_SIM = {
    ("left of", "right of"): 0.0, ("above", "below"): 0.0, ("inside", "contains"): 0.0,
    ("overlaps", "inside"): 0.5, ("overlaps", "contains"): 0.5,
}


def geometric_similarity() -> np.ndarray:
    """(7, 7) predicate similarity: 1 same, 0 opposite (left/right, above/below, inside/contains),
    0.5 overlaps vs inside/contains, 0.25 between any other pair (e.g. left of vs above)."""
    p = GEOMETRIC_PREDICATES
    m = np.full((len(p), len(p)), 0.25)
    for i, a in enumerate(p):
        for j, b in enumerate(p):
            if i == j:
                m[i, j] = 1.0
            elif (a, b) in _GEO_SIM or (b, a) in _GEO_SIM:
                m[i, j] = _GEO_SIM.get((a, b), _GEO_SIM.get((b, a)))
    return m


class GeometricRelations:
    """Relations from box geometry, one predicate per ordered pair (s, o):

    * ``inside`` if at least 90 % of s's box lies in o's box, ``contains`` the reverse;
    * ``overlaps`` if the boxes' IoU > 0.1;
    * else the dominant direction of o's centre minus s's centre, in units of the image size:
      s ``left of`` / ``right of`` / ``above`` / ``below`` o.

    Its probability p = exp(-gap / 0.25), gap = distance between the two boxes (0 when they touch
    or overlap) divided by the image diagonal, so near objects relate strongly.
    """

    predicates = GEOMETRIC_PREDICATES
    scale = 0.25

    def load(self) -> "GeometricRelations":
        return self

    def predicate_similarity(self) -> np.ndarray:
        return geometric_similarity()

    def scores(self, image: torch.Tensor, segments: Segments) -> np.ndarray:
        h, w = image.shape[-2:]
        b = np.asarray(segments.boxes, np.float64)
        k = len(b)
        out = np.zeros((k, k, len(self.predicates)))
        if k < 2:
            return out
        iou = box_iou(b, b)
        area = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(1)
        centre = (b[:, :2] + b[:, 2:]) / 2
        diag = float(np.hypot(h, w))
        idx = {p: i for i, p in enumerate(self.predicates)}
        for s in range(k):
            for o in range(k):
                if s == o:
                    continue
                inter = np.clip(np.minimum(b[s, 2:], b[o, 2:]) - np.maximum(b[s, :2], b[o, :2]), 0, None).prod()
                if area[s] > 0 and inter / area[s] >= 0.9:
                    pred = "inside"
                elif area[o] > 0 and inter / area[o] >= 0.9:
                    pred = "contains"
                elif iou[s, o] > 0.1:
                    pred = "overlaps"
                else:
                    dx, dy = (centre[o, 0] - centre[s, 0]) / w, (centre[o, 1] - centre[s, 1]) / h
                    pred = ("left of" if dx > 0 else "right of") if abs(dx) >= abs(dy) else ("above" if dy > 0 else "below")
                gap_x = max(0.0, max(b[s, 0], b[o, 0]) - min(b[s, 2], b[o, 2]))
                gap_y = max(0.0, max(b[s, 1], b[o, 1]) - min(b[s, 3], b[o, 3]))
                out[s, o, idx[pred]] = np.exp(-np.hypot(gap_x, gap_y) / diag / self.scale)
        return out


class DetectorSegmenter:
    """Nodes from YOLOX-Nano detections with score >= ``score_threshold`` (boxes as masks)."""

    def __init__(self, score_threshold: float = 0.3, detector: YOLOXDetector | None = None):
        self.score_threshold = score_threshold
        self.detector = detector or YOLOXDetector()
        self.tag = None

    def load(self) -> "DetectorSegmenter":
        self.detector.load()
        self.tag = self.detector.tag
        return self

    def segment(self, image: torch.Tensor) -> Segments:
        d = self.detector.detect_one(image).above(self.score_threshold)
        return Segments(d.boxes, None, d.names())


def crop_boxes(image: torch.Tensor, boxes: np.ndarray, min_size: int = 2) -> list[torch.Tensor]:
    """Crops (3, h, w) of ``image`` to integer-rounded boxes, at least ``min_size`` px per side."""
    h, w = image.shape[-2:]
    crops = []
    for x0, y0, x1, y1 in np.asarray(boxes, np.float64):
        x0 = int(np.clip(np.floor(x0), 0, max(0, w - min_size)))
        y0 = int(np.clip(np.floor(y0), 0, max(0, h - min_size)))
        x1 = int(np.clip(np.ceil(x1), x0 + min_size, w))
        y1 = int(np.clip(np.ceil(y1), y0 + min_size, h))
        crops.append(image[:, y0:y1, x0:x1])
    return crops


class DinoEmbedder:
    """DINOv2 embeddings: the CLS token (after the final LayerNorm). Crops are resized to
    ``size`` x ``size`` (bicubic, antialiased; aspect not kept) and embedded in one batch; the whole
    image keeps its aspect (short side ``size``, multiple of 14). No text embeddings."""

    def __init__(self, model: str = "dinov2/small", size: int = 224, network=None):
        from semcom.metrics.vitscore import ViTScore

        self.size = int(size)
        self._vit = ViTScore(model=model, cls=True, size=size, network=network)
        self.tag = None

    def load(self) -> "DinoEmbedder":
        self._vit.load()
        self.tag = self._vit.checkpoint
        return self

    def crops(self, crops: list[torch.Tensor]) -> np.ndarray:
        if not crops:
            return np.zeros((0, 0))
        batch = torch.cat([torch.nn.functional.interpolate(c[None].float(), size=(self.size, self.size), mode="bicubic",
                                                           align_corners=False, antialias=True) for c in crops]).clamp(0, 1)
        return self._vit.tokens(batch)[:, 0].double().numpy()

    def image(self, image: torch.Tensor) -> np.ndarray:
        return self._vit.tokens(image[None].clamp(0, 1))[0, 0].double().numpy()

    texts = None


class CLIPCropEmbedder:
    """CLIP embeddings of crops, of the image and of predicate texts (the paper: OpenCLIP ViT-H-14)."""

    def __init__(self, model: str = "openclip/vit-h-14", network=None):
        from semcom.metrics.clip import CLIPEmbedder

        self._clip = CLIPEmbedder(model, network=network)
        self.tag = None

    def load(self) -> "CLIPCropEmbedder":
        self._clip.load()
        self.tag = self._clip.tag
        return self

    def crops(self, crops: list[torch.Tensor]) -> np.ndarray:
        if not crops:
            return np.zeros((0, 0))
        return torch.cat([self._clip.images(c[None].clamp(0, 1)) for c in crops]).double().numpy()

    def image(self, image: torch.Tensor) -> np.ndarray:
        return self._clip.images(image[None].clamp(0, 1))[0].double().numpy()

    def texts(self, texts: list[str]) -> np.ndarray:
        return self._clip.texts(list(texts)).double().numpy()
