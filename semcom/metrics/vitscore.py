"""ViTScore (Zhu et al. 2024): BERTScore over ViT token embeddings.

For a reference x and a reconstruction y, each image goes through a ViT; its tokens (from the
chosen ``layer``) are L2-normalised: X (n, D), Y (m, D). With the cosine matrix S = X Y^T:

    R = mean_i max_j S_ij      (recall: each reference token finds its best reconstruction token)
    P = mean_j max_i S_ij      (precision)
    F = 2 P R / (P + R)        (ViTScore; 0 when P + R <= 0)

P and R are clamped at 0 before F, so every value is in [0, 1]; F(x, x) = 1 and swapping x and y
swaps P and R (F symmetric). The similarity is computed in float64. No idf weighting and no
baseline rescaling (BERTScore options that ViTScore does not use). No official code exists, so
the choices are options with these defaults:

* ``model="dinov2/small"``: DINOv2 ViT-S/14 (offline copy in SEMCOM_WEIGHTS/dinov2-small, else
  facebook/dinov2-small). Any Hugging Face ViT / DINOv2 / CLIP vision tower may be named by hub id
  or folder (a CLIP model's vision tower is used); the paper used an ImageNet ViT.
* ``layer=-1``: the output of the last block after the final LayerNorm (``last_hidden_state``);
  an integer k >= 0 takes ``hidden_states[k]`` (0 = patch embeddings, k = output of block k,
  before the final LayerNorm); other negative k index ``hidden_states`` from the end (-2 = the
  output of the second-to-last block).
* ``cls=False``: patch tokens only (the CLS token, and DINOv2 register tokens if any, are dropped).
* ``size=224``: the short side is resized to 224 px (bicubic, antialiased) and the long side to
  keep the aspect ratio, both rounded to a multiple of the patch size (Kodak 512x768 -> 224x336,
  16x24 = 384 tokens) with interpolated position embeddings, so tokens cover the whole image;
  ``crop=True`` centre-crops a square instead. ImageNet mean/std (CLIP towers: CLIP mean/std).

Output of ``metric(ref, rec)``: (N,) F; :meth:`ViTScore.score_columns` also gives ``vitscore_p``
and ``vitscore_r`` (the runner stores all three).
"""

from __future__ import annotations

import inspect

import torch

from semcom.metrics import semantic_checkpoints  # noqa: F401  (registers the checkpoints)
from semcom.metrics.base import Metric, check_unit_range, module_on
from semcom.metrics.hf import (
    CLIP_MEAN,
    CLIP_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    centre_crop,
    from_pretrained,
    locate,
    normalise,
    require,
    resize_short_side,
)
from semcom.metrics.semantic_checkpoints import HUB_IDS


def bertscore(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(P, R, F) of token sets x (n, D) and y (m, D) (normalised here; float64 scalars)."""
    x = torch.nn.functional.normalize(x.double(), dim=-1)
    y = torch.nn.functional.normalize(y.double(), dim=-1)
    s = x @ y.T
    recall = s.max(dim=1).values.mean().clamp(min=0)
    precision = s.max(dim=0).values.mean().clamp(min=0)
    total = precision + recall
    f = 2 * precision * recall / total if total > 0 else total.new_zeros(())
    return precision, recall, f.clamp(0, 1)


class ViTTokens(torch.nn.Module):
    """A Hugging Face vision transformer returning the tokens of one layer, (N, T, D)."""

    def __init__(self, model: torch.nn.Module, layer: int = -1, cls: bool = False, size: int = 224, crop: bool = False):
        super().__init__()
        config = model.config
        self.is_clip = hasattr(model, "vision_model") or "clip" in getattr(config, "model_type", "")
        if hasattr(model, "vision_model"):  # CLIPModel -> its vision tower
            model = model.vision_model
            config = model.config
        self.model = model
        self.layer, self.cls, self.size, self.crop = layer, cls, size, crop
        self.patch = int(getattr(config, "patch_size", 16))
        self.prefix = 1 + int(getattr(config, "num_register_tokens", 0) or 0)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        x = resize_short_side(images.float(), self.size, self.patch)
        if self.crop:
            x = centre_crop(x, self.size)
        mean, std = (CLIP_MEAN, CLIP_STD) if self.is_clip else (IMAGENET_MEAN, IMAGENET_STD)
        return normalise(x, mean, std)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(images)
        kwargs = {"output_hidden_states": self.layer != -1}
        if "interpolate_pos_encoding" in inspect.signature(self.model.forward).parameters:  # CLIP / ViT; DINOv2 always interpolates
            kwargs["interpolate_pos_encoding"] = True
        out = self.model(pixel_values=x, **kwargs)
        tokens = out.last_hidden_state if self.layer == -1 else out.hidden_states[self.layer]
        return tokens if self.cls else tokens[:, self.prefix:]


class ViTScore(Metric):
    """ViTScore F, (N,) in [0, 1] for (N, 3, H, W) float images in [0, 1]; higher is better.

    ``prepare`` keeps the reference tokens, so a sweep runs the backbone once per reference.
    """

    name = "vitscore"
    label = "ViTScore"
    range = (-1.0, 1.0)
    companions = ("p", "r")
    higher_is_better = True

    def __init__(self, model: str = "dinov2/small", layer: int = -1, cls: bool = False, size: int = 224, crop: bool = False,
                 network: torch.nn.Module | None = None):
        self.model_name, self.layer, self.cls, self.size, self.crop = model, int(layer), bool(cls), int(size), bool(crop)
        self.weights = (model,) if model in HUB_IDS else ()
        self._net: ViTTokens | None = None
        if network is not None:  # a model object (tests, custom backbones)
            self._net = ViTTokens(network, self.layer, self.cls, self.size, self.crop).eval().requires_grad_(False)
            self.checkpoint = f"module:{type(network).__name__}"

    def load(self) -> "ViTScore":
        if self._net is None:
            transformers = require("transformers", "ViTScore")
            source, tag = locate(self.model_name, HUB_IDS)
            model = from_pretrained(transformers.AutoModel, source)
            self._net = ViTTokens(model, self.layer, self.cls, self.size, self.crop).eval().requires_grad_(False)
            opts = [f"layer={self.layer}", f"cls={int(self.cls)}", f"size={self.size}"] + (["crop"] if self.crop else [])
            self.checkpoint = f"{tag}[{','.join(opts)}]"
        return self

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """(N, T, D) float32 tokens of [0, 1] images."""
        check_unit_range(images, self.name)
        self.load()
        net = module_on(self._net, images.device)
        with torch.no_grad():
            return net(images).float()

    def prepare(self, reference: torch.Tensor) -> torch.Tensor:
        return self.tokens(reference)

    def score_columns(self, state: torch.Tensor, reconstruction: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"vitscore": F, "vitscore_p": P, "vitscore_r": R}``, each (N,) float32."""
        rec = self.tokens(reconstruction)
        rows = [bertscore(a, b) for a, b in zip(state, rec)]
        p, r, f = (torch.stack([row[k] for row in rows]).float() for k in range(3))
        return {self.name: f, f"{self.name}_p": p, f"{self.name}_r": r}

    def score(self, state: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        return self.score_columns(state, reconstruction)[self.name]
