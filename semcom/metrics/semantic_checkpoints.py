"""Checkpoints of the semantic metrics, registered with semcom.weights.

Hugging Face models are folders (``is_dir``; ``config.json`` + weights, loadable with
``from_pretrained``). When a folder is not under SEMCOM_WEIGHTS or the semcom cache, the metric
loads the official repository in :data:`HUB_IDS` through the Hugging Face hub (not possible
offline: the error names the folder to put in place).

| name | folder / file under SEMCOM_WEIGHTS | official source |
|---|---|---|
| ``dinov2/small`` | dinov2-small/ | Hugging Face facebook/dinov2-small (offline copy: see its MANIFEST.txt; possibly saliency-fine-tuned) |
| ``clip/vit-b-32`` | clip-vit-base-patch32/ | Hugging Face openai/clip-vit-base-patch32 |
| ``openclip/vit-h-14`` | clip-vit-h-14-laion2b/ | Hugging Face laion/CLIP-ViT-H-14-laion2B-s32B-b79K (transformers format in the same repo) |
| ``sam/vit-h`` | sam-vit-huge/ | Hugging Face facebook/sam-vit-huge (SAM ViT-H, the sam_vit_h_4b8939 weights) |
| ``ram/relate-anything`` | ram/ram_epoch12.pth | RelateAnything (Luodian/RelateAnything) relation head; the SeSS README links a OneDrive file |
| ``yolox/nano`` | yolox/yolox_nano.onnx | YOLOX-Nano COCO ONNX export (Megvii YOLOX release v0.1.1rc0 ``yolox_nano.onnx``) |
"""

from __future__ import annotations

from semcom.weights import WeightFile, register

DINOV2_SMALL = register(WeightFile(
    name="dinov2/small",
    path="dinov2-small",
    is_dir=True,
    description="DINOv2 ViT-S/14 Hugging Face folder (ViTScore default backbone, sess_lite crop embeddings); "
    "hub: facebook/dinov2-small",
))

CLIP_VIT_B_32 = register(WeightFile(
    name="clip/vit-b-32",
    path="clip-vit-base-patch32",
    is_dir=True,
    description="OpenAI CLIP ViT-B/32 Hugging Face folder (CLIP similarity, SCS); hub: openai/clip-vit-base-patch32",
))

OPENCLIP_VIT_H_14 = register(WeightFile(
    name="openclip/vit-h-14",
    path="clip-vit-h-14-laion2b",
    is_dir=True,
    description="OpenCLIP ViT-H-14 laion2B-s32B-b79K, transformers format (SeSS embedder); "
    "hub: laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
))

SAM_VIT_H = register(WeightFile(
    name="sam/vit-h",
    path="sam-vit-huge",
    is_dir=True,
    description="Segment Anything ViT-H, transformers format (SeSS segmenter); hub: facebook/sam-vit-huge",
))

RAM = register(WeightFile(
    name="ram/relate-anything",
    path="ram/ram_epoch12.pth",
    description="RelateAnything relation model (56 PSG predicates) for SeSS; distributed by the RelateAnything "
    "and SeSS authors through a OneDrive link (no stable URL, digest unknown offline)",
))

YOLOX_NANO = register(WeightFile(
    name="yolox/nano",
    path="yolox/yolox_nano.onnx",
    sha256="e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd",
    url="https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
    url_path="yolox/official/yolox_nano.onnx",
    description="YOLOX-Nano COCO-80 detector, ONNX, input (1,3,416,416) BGR 0-255 letterboxed with 114 "
    "(detection agreement, sess_lite nodes); sha256 is that of the offline copy; the official release asset "
    "could not be fetched here, so a download is stored apart (url_path) and not digest-checked",
))

#: Hub repository of each folder checkpoint (loaded through Hugging Face when not installed).
HUB_IDS = {
    "dinov2/small": "facebook/dinov2-small",
    "clip/vit-b-32": "openai/clip-vit-base-patch32",
    "openclip/vit-h-14": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
    "sam/vit-h": "facebook/sam-vit-huge",
}
