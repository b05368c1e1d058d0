"""Image transformation suites for evaluating metrics.

:mod:`semcom.transforms.ops` (the transformations, ``apply_transform``), :mod:`.separation` (how well each metric separates the
semantic-preserving from the semantic-changing family: AUC table and score-vs-strength figures). The
``transform`` pipeline kind that runs them through the runner is :mod:`semcom.pipelines.transform`.
"""

from semcom.transforms.ops import CHANGING, PRESERVING, TRANSFORMS, apply_transform, get_transform

__all__ = ["CHANGING", "PRESERVING", "TRANSFORMS", "apply_transform", "get_transform"]
