"""CLIP image similarity and the Semantic Consistency Score (Bent 2024).

CLIP image embeddings (default: OpenAI ViT-B/32, ``openai/clip-vit-base-patch32``; any Hugging
Face CLIP by hub id or folder) of images preprocessed as OpenAI CLIP does: short side to 224
bicubic (antialiased, on the float image), centre crop 224x224, CLIP mean/std. The embedding is
the projected image feature (``get_image_features``), L2-normalised.

* Per-image similarity of a reference and its reconstruction: ``max(100 cos, 0)`` in [0, 100],
  higher is better (metric name ``clip``).
* SCS of a set of n >= 2 images: the mean over pairs i < j of ``max(100 cos_ij, 0)``, the clamp
  applied per pair (:func:`consistency_score`; torchmetrics' CLIPScore clamps after averaging and
  uses another model, so its numbers differ). ``python -m semcom.tools.consistency <folder>`` scores a
  folder.
"""

from __future__ import annotations

import torch

from semcom.errors import SemcomError
from semcom.metrics import semantic_checkpoints  # noqa: F401  (registers the checkpoints)
from semcom.metrics.base import Metric, check_unit_range, module_on
from semcom.metrics.hf import clip_preprocess, from_pretrained, locate, require
from semcom.metrics.semantic_checkpoints import HUB_IDS


def clamped_scores(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``max(100 cos(a_i, b_i), 0)`` row by row, (N,) float64, for embeddings (N, D)."""
    cos = torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1)
    return (100 * cos).clamp(min=0)


def consistency_score(embeddings: torch.Tensor) -> tuple[float, int]:
    """(SCS, pairs) of a set of embeddings (n, D): mean over i < j of max(100 cos_ij, 0)."""
    n = embeddings.shape[0]
    if n < 2:
        raise SemcomError(f"the consistency score needs at least 2 images, got {n}: add images")
    e = torch.nn.functional.normalize(embeddings.double(), dim=-1)
    i, j = torch.triu_indices(n, n, offset=1)
    pair = (100 * (e[i] * e[j]).sum(-1)).clamp(min=0)
    return float(pair.mean()), int(pair.numel())


class CLIPEmbedder:
    """CLIP image (and text) embeddings from a Hugging Face ``CLIPModel``.

    ``model``: a registered checkpoint (``clip/vit-b-32``, ``openclip/vit-h-14``), a folder, or a
    hub id; or pass a built ``network`` (a ``CLIPModel``) directly. ``size``: input side (default:
    the model's ``vision_config.image_size``, 224 for both official models).
    """

    def __init__(self, model: str = "clip/vit-b-32", size: int | None = None, network=None):
        self.model_name, self.size = model, size
        self._model = network.eval().requires_grad_(False) if network is not None else None
        self._tokenizer = None
        self.tag = f"module:{type(network).__name__}" if network is not None else None

    def load(self) -> "CLIPEmbedder":
        if self._model is None:
            transformers = require("transformers", "CLIP similarity")
            source, tag = locate(self.model_name, HUB_IDS)
            self._model = from_pretrained(transformers.CLIPModel, source).eval().requires_grad_(False)
            self._source = source
            self.tag = tag
        return self

    def images(self, images: torch.Tensor) -> torch.Tensor:
        """(N, D) float32 L2-normalised embeddings of (N, 3, H, W) [0, 1] images."""
        self.load()
        model = module_on(self._model, images.device)
        size = self.size or int(model.config.vision_config.image_size)
        with torch.no_grad():
            f = model.get_image_features(pixel_values=clip_preprocess(images, size))
        return torch.nn.functional.normalize(f.float(), dim=-1)

    def texts(self, texts: list[str]) -> torch.Tensor:
        """(T, D) float32 L2-normalised text embeddings (needs the model folder's tokenizer)."""
        self.load()
        if self._tokenizer is None:
            transformers = require("transformers", "CLIP text embeddings")
            source = getattr(self, "_source", None)
            if source is None:
                raise SemcomError("CLIP text embeddings need a tokenizer: load the model by name or folder, not as a module")
            self._tokenizer = from_pretrained(transformers.AutoTokenizer, source)
        tokens = self._tokenizer(texts, padding=True, return_tensors="pt")
        device = next(self._model.parameters()).device
        with torch.no_grad():
            f = self._model.get_text_features(**{k: v.to(device) for k, v in tokens.items()})
        return torch.nn.functional.normalize(f.float(), dim=-1)


class CLIPSimilarity(Metric):
    """``max(100 cos, 0)`` of the CLIP embeddings of reference and reconstruction, (N,) in [0, 100]."""

    name = "clip"
    label = "CLIP similarity"
    range = (0.0, 100.0)
    higher_is_better = True

    def __init__(self, model: str = "clip/vit-b-32", size: int | None = None, network=None):
        self.embedder = CLIPEmbedder(model, size, network)
        self.weights = (model,) if model in HUB_IDS else ()
        self.checkpoint = self.embedder.tag

    def load(self) -> "CLIPSimilarity":
        self.embedder.load()
        self.checkpoint = self.embedder.tag
        return self

    def prepare(self, reference: torch.Tensor) -> torch.Tensor:
        check_unit_range(reference, self.name)
        return self.embedder.images(reference)

    def score(self, state: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        check_unit_range(reconstruction, self.name)
        return clamped_scores(state, self.embedder.images(reconstruction)).float()
