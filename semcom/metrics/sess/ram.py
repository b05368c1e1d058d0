"""RelateAnything (RAM): relation scores over the 56 PSG predicates for every ordered pair of SAM masks.

Written from the official code (read, not copied):

* ``Luodian/RelateAnything``: ``ram_train_eval.py`` (``RamModel``, ``RamPredictor.predict``),
  ``app.py`` (the inference configuration), ``ram_collect.py`` (how training features were made),
  ``segment_anything/modeling/mask_decoder.py``, ``segment_anything/modeling/sam.py``,
  ``segment_anything/predictor.py``, ``segment_anything/segment_anything/automatic_mask_generator.py``
  (RAM's modified SAM, which returns a feature per mask);
* ``FSR3340/Semantic_Similarty_Score`` (the SeSS authors): ``predict.py`` (the same configuration,
  ``ram_epoch12.pth``, run in training mode), ``ram_train_eval.py``, ``environment.yml``
  (transformers 4.28.0).

**Input feature of a mask** (RAM's modified SAM): not a pooling of the 256 x 64 x 64 image
embedding, but the 256-d output token of SAM's mask decoder for that mask: the two-way
transformer's query output (after its final LayerNorm, before the hypernetwork MLP) at the mask
token that predicted the mask. The automatic generator prompts one foreground point per grid
point (32 x 32) with ``multimask_output=True``, so a mask is one of mask tokens 1..3 of its point.
Here the segments come from elsewhere (transformers' ``mask-generation`` pipeline does not expose
its prompts), so :class:`SAMMaskTokens` re-prompts SAM: one point per segment (the grid point
deepest inside the mask, see :func:`prompt_points`), three masks, and the token of the mask that
overlaps the segment best (IoU in the decoder's low-resolution frame). This reconstruction is our
choice; the official point is whichever grid point produced the kept mask, which is not recorded.

**Network** (``RamModel``; attribute names kept, so the official state dict loads as is):
``fc_input`` = Linear(256, 768) + LayerNorm; ``model`` = a BERT built from ``bert-base-uncased``'s
config without pretrained weights (``AutoModel.from_config``), its encoder cut to its first 2 layers
(here a 2-layer ``BertModel``: the same keys; its pooler is in the state dict, unused);
``fc_output`` = Linear(768, 768) + LayerNorm; heads ``cls_sub``, ``cls_obj`` = Linear(768, 56 x 512).
The K mask features are K tokens (``inputs_embeds``) with an all-ones attention mask, token type 0
and position id 1 for every token (the official quirk: no order information). Logit of predicate r for subject s and object o:
``<sub[s, r], obj[o, r]> / sqrt(512)`` (``pred_type='attention'``). Scores: sigmoid, the diagonal
(s = o) set to 0 (the official sets its logits to -9999).

The BERT configuration is built in code (:meth:`RAMDims.bert_config`) with bert-base-uncased's
values (hidden 768, 12 heads, intermediate 3072, GELU, dropout 0.1 on hidden states and attention
probabilities, LayerNorm eps 1e-12, vocabulary 30522, 512 positions, 2 token types): all sizes are
:class:`RAMDims` fields with these official defaults. ``faithful``: the SeSS code runs the network
in training mode, so BERT's dropout is on and scores vary from call to call; otherwise eval mode.

Checkpoint: ``ram_epoch12.pth`` is ``torch.save(RamModel.state_dict())`` (83.5 M values, about
334 MB in float32). Saved with transformers 4.28, it may hold ``model.embeddings.position_ids``, a
buffer that later versions no longer save: such non-persistent buffers are ignored; any other
missing, unexpected or misshapen key is a :class:`SemcomError` naming them (:func:`load_checkpoint`).

Not determined (the file itself cannot be read offline): its exact key set and sizes (taken from
the configuration in ``app.py`` / ``predict.py``, hence the :class:`RAMDims` parameters); that the
SeSS ``ram_epoch12.pth`` is RAM's ``epoch_12.pth`` (same configuration in both repositories); the
prompt point of each mask (see above). SAM's input is resized on the float image (the official
resizes the uint8 image with PIL), and BERT runs with eager attention (the 4.28 implementation).
Since every token has the same position id, the scores do not depend on the order of the segments.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semcom.errors import SemcomError
from semcom.metrics.hf import IMAGENET_MEAN, IMAGENET_STD, normalise

#: SAM's automatic mask generator: points per side of its prompt grid, prompts per decoder batch.
GRID_POINTS = 32
POINTS_PER_BATCH = 64


@dataclass(frozen=True)
class RAMDims:
    """Sizes of the RAM network; the defaults are those of the official ``ram_epoch12.pth``
    (``app.py`` / SeSS ``predict.py`` configuration, BERT sizes from bert-base-uncased)."""

    input_size: int = 256          # SAM mask-token width (SAM ViT-H mask decoder transformer_dim)
    hidden_size: int = 768         # output_feature_size = BERT hidden size
    head_size: int = 512           # cls_feature_size: width of the per-predicate subject/object codes
    num_predicates: int = 56       # PSG predicates
    num_layers: int = 2            # num_transformer_layer: BERT layers kept
    num_heads: int = 12
    intermediate_size: int = 3072
    vocab_size: int = 30522        # unused by the forward pass, present in the state dict
    max_positions: int = 512
    type_vocab_size: int = 2
    dropout: float = 0.1           # BERT hidden and attention-probability dropout

    def bert_config(self):
        """A transformers ``BertConfig`` with these sizes (bert-base-uncased's other settings; eager attention)."""
        from transformers import BertConfig

        return BertConfig(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads, intermediate_size=self.intermediate_size, hidden_act="gelu",
            hidden_dropout_prob=self.dropout, attention_probs_dropout_prob=self.dropout,
            max_position_embeddings=self.max_positions, type_vocab_size=self.type_vocab_size,
            initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0, position_embedding_type="absolute",
            attn_implementation="eager",
        )


class RAMNetwork(nn.Module):
    """RAM's relation network (official ``RamModel``): mask features (B, K, input_size) -> logits
    (B, P, K, K) float32, P = ``num_predicates``; entry [b, r, s, o] scores "s r o"."""

    def __init__(self, dims: RAMDims = RAMDims()):
        from transformers import BertModel

        super().__init__()
        self.dims = dims
        self.fc_input = nn.Sequential(nn.Linear(dims.input_size, dims.hidden_size), nn.LayerNorm(dims.hidden_size))
        self.model = BertModel(dims.bert_config())
        self.fc_output = nn.Sequential(nn.Linear(dims.hidden_size, dims.hidden_size), nn.LayerNorm(dims.hidden_size))
        self.cls_sub = nn.Linear(dims.hidden_size, dims.head_size * dims.num_predicates)
        self.cls_obj = nn.Linear(dims.hidden_size, dims.head_size * dims.num_predicates)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, k, _ = features.shape
        ids = torch.ones((b, k), dtype=torch.long, device=features.device)
        hidden = self.model(inputs_embeds=self.fc_input(features), attention_mask=ids, position_ids=ids,
                            token_type_ids=torch.zeros_like(ids)).last_hidden_state
        hidden = self.fc_output(hidden)
        sub = self._codes(self.cls_sub(hidden))
        obj = self._codes(self.cls_obj(hidden))
        return sub @ obj.transpose(2, 3) / self.dims.head_size ** 0.5

    def _codes(self, x: torch.Tensor) -> torch.Tensor:
        """(B, K, P * head_size) -> (B, P, K, head_size)."""
        b, k, _ = x.shape
        return x.reshape(b, k, self.dims.num_predicates, self.dims.head_size).permute(0, 2, 1, 3)

    def relation_scores(self, features: torch.Tensor) -> torch.Tensor:
        """(K, K, P) float32 sigmoid scores of the K mask features (K, input_size), [s, o, r] for
        "s r o"; 0 where s = o. Dropout follows the module's mode (``train()``: the faithful run)."""
        logits = self(features[None].float())[0].permute(1, 2, 0)
        off_diagonal = 1.0 - torch.eye(len(features), dtype=logits.dtype, device=logits.device)
        return logits.sigmoid() * off_diagonal[..., None]


def _shape(value) -> tuple[int, ...] | str:
    """A tensor's shape, or the type name of anything else found in a state dict."""
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def _few(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def checkpoint_problems(network: nn.Module, state: Mapping) -> list[str]:
    """What keeps ``state`` from loading into ``network``: missing and unexpected keys, shape
    mismatches (non-persistent buffers such as ``model.embeddings.position_ids`` are not counted)."""
    expected = network.state_dict()
    transient = {name for name, _ in network.named_buffers()} - set(expected)
    given = {k: v for k, v in state.items() if k not in transient}
    problems = []
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    if missing:
        problems.append(f"missing keys {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected keys {_few(unexpected)}")
    shapes = [f"{k} {_shape(given[k])} instead of {_shape(expected[k])}"
              for k in sorted(set(given) & set(expected)) if _shape(given[k]) != _shape(expected[k])]
    if shapes:
        problems.append(f"shape mismatches {_few(shapes)}")
    return problems


def load_checkpoint(network: RAMNetwork, path: Path) -> RAMNetwork:
    """``network`` with the state dict in ``path`` (official key names) loaded; SemcomError when
    the file is not a state dict of this architecture."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SemcomError(f"{path} is not ram_epoch12.pth: torch cannot read it as a state dict ({first})") from None
    if not isinstance(state, Mapping):
        raise SemcomError(f"{path} is not ram_epoch12.pth: it holds a {type(state).__name__}, not a state dict")
    problems = checkpoint_problems(network, state)
    if problems:
        raise SemcomError(f"{path} is not ram_epoch12.pth (RelateAnything's RamModel state dict for {network.dims}): "
                          + "; ".join(problems))
    keys = set(network.state_dict())
    network.load_state_dict({k: v for k, v in state.items() if k in keys})
    return network


def sam_input_size(image_size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(h', w') of an image (h, w) resized so that its long side is ``long_side`` (SAM's ResizeLongestSide)."""
    h, w = image_size
    scale = long_side / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def sam_pixels(image: torch.Tensor, long_side: int) -> torch.Tensor:
    """SAM's input (1, 3, S, S), S = ``long_side``, of a (3, H, W) [0, 1] image: long side resized to S
    (bilinear, antialiased, on the float image), ImageNet mean/std (SAM's pixel mean/std / 255),
    zero-padded at the bottom and right."""
    h, w = sam_input_size(image.shape[-2:], long_side)
    x = F.interpolate(image[None].float(), size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return F.pad(normalise(x, IMAGENET_MEAN, IMAGENET_STD), (0, long_side - w, 0, long_side - h))


def prompt_points(masks: np.ndarray, grid: int = GRID_POINTS) -> np.ndarray:
    """(K, 2) float64 x, y (pixels, continuous) of one point prompt per mask of (K, H, W) bool: of the
    automatic generator's grid points (cell centres of a ``grid`` x ``grid`` lattice over the image)
    inside the mask, the one farthest from the mask's outside (ties: the one nearest the mask's
    centroid); a mask holding none: the centre of its deepest pixel; an empty mask: the image centre."""
    _, h, w = masks.shape
    gx = (np.arange(grid) + 0.5) / grid * w
    gy = (np.arange(grid) + 0.5) / grid * h
    return np.array([_deepest_point(m, gx, gy) for m in masks]).reshape(len(masks), 2)


def _deepest_point(mask: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> tuple[float, float]:
    """(x, y) of :func:`prompt_points` for one (H, W) bool mask, grid centres ``gx`` (columns) and ``gy`` (rows)."""
    from scipy.ndimage import distance_transform_edt

    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    if not len(rows):
        return mask.shape[1] / 2, mask.shape[0] / 2
    r0, c0 = rows[0], cols[0]
    depth = distance_transform_edt(np.pad(mask[r0:rows[-1] + 1, c0:cols[-1] + 1], 1))[1:-1, 1:-1]  # on the box
    ix = np.nonzero((gx >= c0) & (gx < cols[-1] + 1))[0]
    iy = np.nonzero((gy >= r0) & (gy < rows[-1] + 1))[0]
    on_grid = depth[np.ix_(np.floor(gy[iy]).astype(int) - r0, np.floor(gx[ix]).astype(int) - c0)]
    if on_grid.size and on_grid.max() > 0:
        ys, xs = np.nonzero(mask)
        tied = np.argwhere(on_grid == on_grid.max())  # a plateau (bars, boxes): the one nearest the centroid
        i, j = tied[np.argmin(np.hypot(gx[ix[tied[:, 1]]] - xs.mean() - 0.5, gy[iy[tied[:, 0]]] - ys.mean() - 0.5))]
        return float(gx[ix[j]]), float(gy[iy[i]])
    r, c = np.unravel_index(np.argmax(depth), depth.shape)
    return c0 + c + 0.5, r0 + r + 0.5


def low_res_targets(masks: torch.Tensor, input_size: tuple[int, int], long_side: int, low_res: int) -> torch.Tensor:
    """(K, L, L) bool: masks (K, H, W) bool laid in SAM's low-resolution mask frame (L = ``low_res``
    covers the padded S x S input, the image in its top-left (h', w') = ``input_size``)."""
    h, w = (max(1, round(s * low_res / long_side)) for s in input_size)
    x = F.interpolate(masks[:, None].float(), size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return F.pad(x, (0, low_res - w, 0, low_res - h))[:, 0] > 0.5


class SAMMaskTokens:
    """RAM's mask features from a transformers ``SamModel``: (3, H, W) [0, 1] image and K masks ->
    (K, C) float32 mask-decoder tokens, C = the decoder width (256 for SAM ViT-H).

    The image embedding (``get_image_embeddings``, 256 x 64 x 64 for ViT-H) is computed once; each
    mask is then prompted with one foreground point (:func:`prompt_points`) in batches of
    ``points_per_batch``, three masks per point; the feature is the decoder token of the one of
    the three whose mask (logit > 0) has the highest IoU with the segment (ties: the first).
    """

    def __init__(self, sam, points_per_batch: int = POINTS_PER_BATCH, grid: int = GRID_POINTS):
        self.sam = sam.eval().requires_grad_(False)
        self.points_per_batch, self.grid = int(points_per_batch), int(grid)

    def __call__(self, image: torch.Tensor, masks: np.ndarray) -> torch.Tensor:
        """(K, C) float32 features of the masks (K, H, W) bool of a (3, H, W) [0, 1] image."""
        sam = self.sam
        dtype = next(sam.parameters()).dtype
        long_side = int(sam.config.vision_config.image_size)
        input_size = sam_input_size(image.shape[-2:], long_side)
        with torch.no_grad():
            embedding = sam.get_image_embeddings(sam_pixels(image, long_side).to(image.device, dtype))
            scale = torch.tensor([input_size[1] / image.shape[-1], input_size[0] / image.shape[-2]], device=image.device)
            points = torch.as_tensor(prompt_points(masks, self.grid), dtype=torch.float32, device=image.device) * scale
            step = self.points_per_batch
            feats = [self._batch(embedding, points[i:i + step], torch.as_tensor(masks[i:i + step], device=image.device),
                                 input_size, long_side) for i in range(0, len(points), step)]
        return torch.cat(feats).float()

    def _batch(self, embedding: torch.Tensor, points: torch.Tensor, masks: torch.Tensor,
               input_size: tuple[int, int], long_side: int) -> torch.Tensor:
        """(B, C) tokens of B prompts (B, 2) in SAM's input frame for B masks (B, H, W) bool."""
        decoder = self.sam.mask_decoder
        captured = []
        hook = decoder.transformer.register_forward_hook(lambda module, args, out: captured.append(out[0]))
        try:
            out = self.sam(image_embeddings=embedding, input_points=points[None, :, None].to(embedding.dtype),
                           input_labels=torch.ones((1, len(points), 1), dtype=torch.long, device=points.device),
                           multimask_output=True)
        finally:
            hook.remove()
        # decoder tokens: IoU token, single-mask token, then the multimask tokens of output masks 0..2
        tokens = captured[0][0, :, 2:1 + decoder.num_mask_tokens]
        predicted = out.pred_masks[0] > 0
        target = low_res_targets(masks, input_size, long_side, predicted.shape[-1])[:, None]
        inter = (predicted & target).flatten(2).sum(-1)
        union = (predicted | target).flatten(2).sum(-1).clamp(min=1)
        best = (inter / union).argmax(1)
        return tokens[torch.arange(len(points)), best]
