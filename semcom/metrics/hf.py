"""Hugging Face models for the semantic metrics: optional import, offline-first loading, preprocessing.

``transformers`` (and ``onnxruntime`` for the detector) come with the optional extra
``pip install 'semcom[semantic]'``; without it a semantic metric's :meth:`load` raises a one-line
SemcomError naming the extra, so ``metrics=all`` skips it and an explicit list fails up front.

A model is named either by a registered checkpoint (``semcom.weights``; a Hugging Face model
folder under ``SEMCOM_WEIGHTS``, e.g. ``dinov2-small``), by a local folder, or by a Hugging Face
repository id (``facebook/dinov2-small``). Registered checkpoints are looked up in SEMCOM_WEIGHTS
and the semcom cache first; if absent, the official repository is loaded through the Hugging Face
hub (its own cache and checks), unless ``HF_HUB_OFFLINE=1`` or ``SEMCOM_OFFLINE=1``, where the
error says which folder to put where.

Preprocessing is done here in torch on the project's float [0, 1] images (no PIL round trip, no
8-bit requantisation): bicubic resize with antialiasing, optional centre crop, mean/std
normalisation.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.errors import SemcomError
from semcom.weights import REGISTRY, find, get_spec, how_to_install

EXTRA_HINT = "pip install 'semcom[semantic]'"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: OpenAI CLIP normalisation (also OpenCLIP's ViT-H-14).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def require(module: str, what: str):
    """Import an optional dependency or raise SemcomError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SemcomError(f"{what} needs {module} ({exc}): {EXTRA_HINT}") from None


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("SEMCOM_OFFLINE") == "1"


def locate(model: str, hub_ids: dict[str, str]) -> tuple[str, str]:
    """``(source, tag)`` for a model name: a folder path, or a hub repository id to download.

    ``model`` is a registered checkpoint name (looked up in SEMCOM_WEIGHTS / cache, else its hub
    id from ``hub_ids``), a local folder, or a hub id. ``tag`` is what result rows record.
    """
    if model in REGISTRY:
        found = find(model)
        if found is not None:
            return str(found), f"{model}@{found.name}"
        hub = hub_ids.get(model)
        if hub is None or offline():
            src = f" (Hugging Face {hub})" if hub else ""
            raise SemcomError(f"checkpoint {model!r}{src} not found: {how_to_install(get_spec(model))}; "
                              "or unset HF_HUB_OFFLINE to download it")
        return hub, f"{model}@hf:{hub}"
    if Path(model).expanduser().is_dir():
        path = Path(model).expanduser()
        return str(path), f"folder:{path.name}"
    if "/" in model and not offline():
        return model, f"hf:{model}"
    raise SemcomError(f"model {model!r} is neither a registered checkpoint ({', '.join(sorted(hub_ids))}), "
                      "a model folder nor (online) a Hugging Face id: give one of those")


def from_pretrained(cls, source: str, **kwargs):
    """``cls.from_pretrained(source)`` with hub errors turned into one-line SemcomErrors."""
    try:
        return cls.from_pretrained(source, local_files_only=Path(source).is_dir() or offline(), **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SemcomError(f"cannot load {cls.__name__} from {source} ({first}): check the folder or the model name") from None


def resize_short_side(images: torch.Tensor, size: int, multiple: int = 1) -> torch.Tensor:
    """Bicubic (antialiased) resize so that the short side is ``size`` px, the aspect ratio kept;
    both sides rounded to a multiple of ``multiple`` (e.g. the ViT patch size). (N,3,H,W) -> (N,3,H',W')."""
    h, w = images.shape[-2:]
    scale = size / min(h, w)
    nh = max(multiple, round(h * scale / multiple) * multiple)
    nw = max(multiple, round(w * scale / multiple) * multiple)
    if (nh, nw) == (h, w):
        return images
    return F.interpolate(images, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)


def centre_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    h, w = images.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return images[..., top:top + size, left:left + size]


def normalise(images: torch.Tensor, mean, std) -> torch.Tensor:
    m = torch.tensor(mean, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - m) / s


def clip_preprocess(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """OpenAI CLIP preprocessing on [0, 1] tensors: short side to ``size`` bicubic, centre crop
    ``size`` x ``size``, CLIP mean/std. (N,3,H,W) -> (N,3,size,size)."""
    return normalise(centre_crop(resize_short_side(images.float(), size), size), CLIP_MEAN, CLIP_STD)
