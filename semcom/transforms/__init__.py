"""Image transformation suites for evaluating metrics (importing registers ``kind: transform``).

:mod:`semcom.transforms.ops` (the transformations, ``apply_transform``), :mod:`.pipeline` (the
``transform`` pipeline kind), :mod:`.separation` (how well each metric separates the
semantic-preserving from the semantic-changing family: AUC table and score-vs-strength figures).
"""

from semcom.transforms.ops import CHANGING, PRESERVING, TRANSFORMS, apply_transform, get_transform
from semcom.transforms.pipeline import TransformPipeline

__all__ = ["CHANGING", "PRESERVING", "TRANSFORMS", "TransformPipeline", "apply_transform", "get_transform"]
