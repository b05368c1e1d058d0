"""YOLOX-Nano object detection and downstream-task agreement.

:class:`YOLOXDetector` runs the COCO-80 YOLOX-Nano ONNX export (``yolox/nano``, onnxruntime) on
float [0, 1] RGB images: letterbox to 416x416 (bilinear resize by r = min(416/H, 416/W), image at
the top-left, padding 114), BGR 0-255; the raw output (3549, 85) is decoded on the 8/16/32-stride
grids (xy = (t_xy + grid) * stride, wh = exp(t_wh) * stride), score = objectness x class
probability, best class per anchor, class-wise NMS at IoU 0.45 (YOLOX's demo setting), boxes
mapped back to image pixels (x0, y0, x1, y1).

:class:`DetectionAgreement` (metric ``detection``): the reference's detections with score >= 0.3
are matched one-to-one to the reconstruction's detections with score >= 0.3, same class and IoU >=
0.5 (maximum number of matches, ties by IoU; Hungarian assignment per class). Per image:
``detection`` = matched / reference detections (NaN when the reference has none: no task to
agree on; summaries leave NaN out) and ``detection_miou`` = mean IoU of the matches (NaN without
matches). Higher is better.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from semcom.metrics import semantic_checkpoints  # noqa: F401  (registers the checkpoints)
from semcom.metrics.base import ImageStates, Metric, check_unit_range
from semcom.metrics.hf import require
from semcom.weights import file_tag, resolve

INPUT = 416
STRIDES = (8, 16, 32)
PAD_VALUE = 114
NMS_IOU = 0.45
SCORE_THRESHOLD = 0.3
MATCH_IOU = 0.5

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of boxes (x0, y0, x1, y1)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy NMS, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        order = rest[box_iou(boxes[i:i + 1], boxes[rest])[0] <= iou]
    return np.asarray(keep, dtype=np.int64)


class Detections:
    """Detections of one image: ``boxes`` (K, 4) float pixels x0 y0 x1 y1, ``scores`` (K,), ``labels`` (K,) COCO ids."""

    def __init__(self, boxes, scores, labels):
        self.boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        self.scores = np.asarray(scores, np.float64).reshape(-1)
        self.labels = np.asarray(labels, np.int64).reshape(-1)

    def __len__(self) -> int:
        return len(self.scores)

    def above(self, threshold: float) -> "Detections":
        k = self.scores >= threshold
        return Detections(self.boxes[k], self.scores[k], self.labels[k])

    def names(self) -> list[str]:
        return [COCO_CLASSES[i] for i in self.labels]


def match_detections(ref: Detections, rec: Detections, iou: float = MATCH_IOU) -> tuple[int, list[float]]:
    """(matches, their IoUs): one-to-one, same class, IoU >= ``iou``, as many matches as possible."""
    ious: list[float] = []
    for label in np.unique(ref.labels):
        a, b = ref.boxes[ref.labels == label], rec.boxes[rec.labels == label]
        if not len(b):
            continue
        m = box_iou(a, b)
        valid = m >= iou
        # Weight 1 + IoU for a valid pair: the most matches first, then the largest IoUs.
        rows, cols = linear_sum_assignment(np.where(valid, 1 + m, 0), maximize=True)
        ious += [float(m[r, c]) for r, c in zip(rows, cols) if valid[r, c]]
    return len(ious), ious


class YOLOXDetector:
    """YOLOX-Nano (ONNX) on (N, 3, H, W) float [0, 1] RGB images -> list of :class:`Detections`."""

    def __init__(self, path=None, score_threshold: float = 0.01, nms_iou: float = NMS_IOU):
        self.path, self.score_threshold, self.nms_iou = path, score_threshold, nms_iou
        self._session = None
        self.tag = None

    def load(self) -> "YOLOXDetector":
        if self._session is None:
            ort = require("onnxruntime", "the YOLOX detector")
            path = self.path or resolve("yolox/nano")
            options = ort.SessionOptions()
            options.log_severity_level = 3
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self._input = self._session.get_inputs()[0].name
            self.tag = file_tag("yolox/nano", path)
            grids, strides = [], []
            for s in STRIDES:
                n = INPUT // s
                yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
                grids.append(np.stack([xx, yy], -1).reshape(-1, 2))
                strides.append(np.full((n * n, 1), s))
            self._grid, self._stride = np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)
        return self

    @staticmethod
    def letterbox(image: torch.Tensor) -> tuple[np.ndarray, float]:
        """(1, 3, 416, 416) float32 BGR 0-255 network input of one (3, H, W) [0, 1] image, and r."""
        h, w = image.shape[-2:]
        r = min(INPUT / h, INPUT / w)
        nh, nw = max(1, int(h * r)), max(1, int(w * r))
        small = F.interpolate(image[None].float().cpu(), size=(nh, nw), mode="bilinear", align_corners=False)[0]
        canvas = torch.full((3, INPUT, INPUT), float(PAD_VALUE))
        canvas[:, :nh, :nw] = small.clamp(0, 1) * 255
        return canvas.flip(0)[None].numpy(), r

    def detect_one(self, image: torch.Tensor) -> Detections:
        self.load()
        x, r = self.letterbox(image)
        out = self._session.run(None, {self._input: x})[0][0]
        xy = (out[:, :2] + self._grid) * self._stride
        wh = np.exp(out[:, 2:4]) * self._stride
        cls = out[:, 5:]
        labels = cls.argmax(1)
        scores = out[:, 4] * cls[np.arange(len(cls)), labels]
        k = scores >= self.score_threshold
        boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)[k] / r
        scores, labels = scores[k], labels[k]
        keep = []
        for label in np.unique(labels):
            idx = np.flatnonzero(labels == label)
            keep += list(idx[nms(boxes[idx], scores[idx], self.nms_iou)])
        keep = np.asarray(sorted(keep, key=lambda i: -scores[i]), dtype=np.int64)
        h, w = image.shape[-2:]
        b = boxes[keep] if len(keep) else np.zeros((0, 4))
        b = np.clip(b, 0, [w, h, w, h])
        return Detections(b, scores[keep] if len(keep) else [], labels[keep] if len(keep) else [])

    def __call__(self, images: torch.Tensor) -> list[Detections]:
        return [self.detect_one(im) for im in images]


class DetectionAgreement(Metric):
    """Fraction of the reference's YOLOX-Nano objects found in the reconstruction, (N,); also mean IoU.

    ``prepare`` keeps the reference detections (the detector runs once per reference).
    """

    name = "detection"
    label = "detection agreement"
    range = (0.0, 1.0)
    companions = ("miou",)
    higher_is_better = True
    weights = ("yolox/nano",)

    def __init__(self, score_threshold: float = SCORE_THRESHOLD, iou: float = MATCH_IOU, detector: YOLOXDetector | None = None):
        self.score_threshold, self.iou = float(score_threshold), float(iou)
        self.detector = detector or YOLOXDetector()

    def load(self) -> "DetectionAgreement":
        self.detector.load()
        self.checkpoint = self.detector.tag
        return self

    def detect(self, images: torch.Tensor) -> list[Detections]:
        check_unit_range(images, self.name)
        self.load()
        return [d.above(self.score_threshold) for d in self.detector(images)]

    def prepare(self, reference: torch.Tensor) -> "DetectionList":
        return DetectionList(self.detect(reference))

    def score_columns(self, state, reconstruction: torch.Tensor) -> dict[str, torch.Tensor]:
        frac, miou = [], []
        for ref, rec in zip(state, self.detect(reconstruction)):
            n, ious = match_detections(ref, rec, self.iou)
            frac.append(n / len(ref) if len(ref) else float("nan"))
            miou.append(float(np.mean(ious)) if ious else float("nan"))
        return {self.name: torch.tensor(frac, dtype=torch.float32), f"{self.name}_miou": torch.tensor(miou, dtype=torch.float32)}

    def score(self, state, reconstruction: torch.Tensor) -> torch.Tensor:
        return self.score_columns(state, reconstruction)[self.name]


class DetectionList(ImageStates):
    """The reference batch's detections, one :class:`Detections` per image."""
