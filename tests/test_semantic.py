"""ViTScore, CLIP similarity / SCS, detection agreement: closed forms, identities, Kodak noise."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.runner.config import compose
from semcom.datasets import load_image
from semcom.errors import SemcomError
from semcom.runner.job import run_job
from semcom.metrics import get_metric, select_metrics
from semcom.metrics.clip import CLIPSimilarity, consistency_score
from semcom.metrics.detection import Detections, box_iou, match_detections
from semcom.metrics.vitscore import ViTScore, bertscore

KODAK = Path(os.environ["SEMCOM_DATA"]) / "kodak"


def _noisy(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


@pytest.fixture(scope="module")
def kodak_crops() -> torch.Tensor:
    """Two 224x224 Kodak crops (kodim05 motorcycles, kodim23 parrots), (2, 3, 224, 224)."""
    return torch.stack([load_image(KODAK / "kodim05.png")[:, 150:374, 250:474], load_image(KODAK / "kodim23.png")[:, 60:284, 200:424]])


@pytest.fixture(scope="module")
def vitscore() -> ViTScore:
    return get_metric("vitscore").load()


def test_bertscore_closed_form():
    x = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])  # reference tokens e1, e2
    y = torch.tensor([[2.0, 0, 0]])  # reconstruction: e1 only (unnormalised on purpose)
    p, r, f = bertscore(x, y)
    assert (p.item(), r.item()) == (1.0, 0.5) and f.item() == pytest.approx(2 * 0.5 / 1.5, abs=1e-15)
    p2, r2, _ = bertscore(y, x)
    assert (p2.item(), r2.item()) == (0.5, 1.0)
    # anti-aligned tokens: P, R clamped at 0, F = 0 (not NaN)
    assert bertscore(x[:1], -x[:1])[2].item() == 0.0


def test_vitscore_identity_symmetry_bounds_and_noise_on_kodak(vitscore, kodak_crops):
    x = kodak_crops
    assert vitscore.checkpoint.startswith("dinov2/small@dinov2-small[layer=-1,cls=0,size=224]")
    state = vitscore.prepare(x)
    assert state.shape == (2, 256, 384)  # 16 x 16 patches, CLS dropped
    assert torch.allclose(vitscore.score_columns(state, x)["vitscore"], torch.ones(2), atol=1e-6)
    # the noise sweep at 112 px (8 x 8 tokens) to keep the test fast; same backbone
    small = ViTScore(size=112, network=vitscore._net.model)
    ref = small.prepare(x)
    ys = [_noisy(x, s) for s in (0.05, 0.1, 0.2, 0.4)]
    cols = [small.score_columns(ref, y) for y in ys]
    f = torch.stack([c["vitscore"] for c in cols])  # (4 sigmas, 2 images)
    assert ((f >= 0) & (f <= 1)).all()
    assert (f[1:] < f[:-1]).all(), f  # strictly decreasing in sigma for both images
    # symmetry: swapping reference and reconstruction swaps P and R, F unchanged
    ba = small.score_columns(small.prepare(ys[2]), x)
    ab = cols[2]
    assert torch.allclose(ab["vitscore_p"], ba["vitscore_r"], atol=1e-6) and torch.allclose(ab["vitscore_r"], ba["vitscore_p"], atol=1e-6)
    assert torch.allclose(ab["vitscore"], ba["vitscore"], atol=1e-6)
    # unrelated images score below a mildly noisy copy
    cross = small.score_columns(ref[:1], x[1:])["vitscore"]
    assert cross.item() < f[0, 0].item()


def test_vitscore_options_layer_cls_and_aspect(vitscore, kodak_crops):
    m = ViTScore(layer=4, cls=True, size=112, network=vitscore._net.model)
    assert m.tokens(kodak_crops[:1]).shape == (1, 1 + 8 * 8, 384)  # CLS + 8x8 patches of an intermediate layer
    wide = torch.rand(1, 3, 64, 96)
    assert vitscore.tokens(wide).shape == (1, 16 * 24, 384)  # short side 224, aspect kept: 224 x 336


def _tiny_clip(folder: Path, image_size: int = 64) -> Path:
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 100},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": image_size, "patch_size": 16},
        projection_dim=16,
    )
    CLIPModel(cfg).save_pretrained(folder)
    return folder


def test_clip_similarity_loads_registered_folder_and_scores(tmp_path, monkeypatch, kodak_crops):
    root = tmp_path / "weights"
    _tiny_clip(root / "clip-vit-base-patch32")  # where the official ViT-B/32 folder goes
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(root))
    m = CLIPSimilarity(size=64).load()
    assert m.checkpoint == "clip/vit-b-32@clip-vit-base-patch32"
    x = kodak_crops
    same = m(x, x)
    assert torch.allclose(same, torch.full((2,), 100.0), atol=1e-3)
    s = m(x, _noisy(x, 0.3))
    assert ((s >= 0) & (s <= 100)).all() and (s < 100).all()
    # the per-image score is the clamped cosine of the two embeddings
    e = m.embedder.images(torch.cat([x[:1], x[1:]]))
    assert m(x[:1], x[1:]).item() == pytest.approx(max(100 * float(e[0] @ e[1]), 0.0), abs=1e-3)
    # ViTScore on a CLIP vision tower named by folder (CLIP mean/std, interpolated positions)
    v = ViTScore(model=str(root / "clip-vit-base-patch32"), size=64).load()
    assert v.checkpoint.startswith("folder:clip-vit-base-patch32") and v(x, x).sub(1).abs().max() < 1e-6
    assert v.tokens(torch.rand(1, 3, 64, 96)).shape == (1, 4 * 6, 32)  # non-square: position embeddings interpolated


def test_consistency_score_clamps_each_pair():
    e = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]])
    score, pairs = consistency_score(e)
    # pairs: (0,1) 100, (0,2) -100 -> 0, (1,2) -100 -> 0; clamping after the mean would give 0
    assert pairs == 3 and score == pytest.approx(100 / 3, abs=1e-9)
    assert consistency_score(torch.tensor([[1.0, 0], [0.6, 0.8]], dtype=torch.float64))[0] == pytest.approx(60.0, abs=1e-9)
    with pytest.raises(SemcomError, match="at least 2"):
        consistency_score(e[:1])


def test_consistency_command_on_a_folder(tmp_path, capsys, kodak_crops):
    from semcom.tools.consistency import main

    model = _tiny_clip(tmp_path / "tiny")
    folder = tmp_path / "imgs"
    folder.mkdir()
    arr = (kodak_crops.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr[0]).save(folder / "a.png")
    Image.fromarray(arr[0]).save(folder / "b.png")
    Image.fromarray(arr[1]).save(folder / "c.png")
    assert main([str(folder), "--model", str(model), "--pairs"]) == 0
    out = capsys.readouterr().out.splitlines()
    head = dict(kv.split("=") for kv in out[0].split())
    assert head["images"] == "3" and head["pairs"] == "3"
    rows = {tuple(line.split("\t")[:2]): float(line.split("\t")[2]) for line in out[1:]}
    assert rows[("a.png", "b.png")] == pytest.approx(100.0, abs=1e-3)
    assert float(head["scs"]) == pytest.approx(sum(rows.values()) / 3, abs=1e-3)
    assert main([str(tmp_path / "missing")]) == 2


def test_semantic_metrics_missing_weights_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SEMCOM_OFFLINE", "1")
    with pytest.raises(SemcomError, match="clip-vit-base-patch32"):
        get_metric("clip").load()
    with pytest.raises(SemcomError, match="dinov2-small"):
        get_metric("vitscore").load()
    with pytest.raises(SemcomError, match=r"put yolox_nano.onnx .*yolox/yolox_nano.onnx"):
        get_metric("sess_lite").load()
    chosen, skipped = select_metrics("all")
    assert {"vitscore", "clip", "sess", "sess_lite", "detection"} <= set(skipped) and "psnr" in [m.name for m in chosen]


def test_box_iou_and_matching_by_hand():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    b = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [40, 40, 50, 50]])
    iou = box_iou(a, b)
    assert iou[0, 0] == 1.0 and iou[0, 1] == pytest.approx(80 / 120) and iou[1, 2] == 0.0
    ref = Detections([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]], [0.9, 0.8, 0.7], [0, 0, 1])
    rec = Detections([[2, 0, 12, 10], [21, 20, 31, 30], [0, 0, 10, 10]], [0.9, 0.9, 0.9], [0, 16, 2])
    n, ious = match_detections(ref, rec)
    # class 0: box 0 matched at IoU 80/120; box 1 only has a class-16 partner; class 1 has none
    assert n == 1 and ious == [pytest.approx(80 / 120)]
    # one reconstruction box cannot serve two reference boxes
    two = Detections([[0, 0, 10, 10], [1, 0, 11, 10]], [0.9, 0.9], [0, 0])
    assert match_detections(two, Detections([[0, 0, 10, 10]], [0.9], [0]))[0] == 1


def test_detection_agreement_on_kodak_parrots():
    x = load_image(KODAK / "kodim23.png")[None]
    m = get_metric("detection").load()
    assert m.checkpoint == "yolox/nano@e8af074932d4"
    ref = m.prepare(x)[0]
    assert len(ref) >= 1 and set(ref.names()) == {"bird"} and ref.scores.max() > 0.9  # MANIFEST: bird 0.93
    same = m.score_columns(m.prepare(x), x)
    assert same["detection"].item() == 1.0 and same["detection_miou"].item() == pytest.approx(1.0, abs=1e-6)
    flat = m.score_columns(m.prepare(x), torch.full_like(x, 0.5))  # a grey image: nothing survives
    assert flat["detection"].item() == 0.0 and torch.isnan(flat["detection_miou"]).item()
    grey = m.score_columns(m.prepare(torch.full_like(x, 0.5)), x)  # no reference objects: undefined
    assert torch.isnan(grey["detection"]).item()


def test_runner_takes_images_from_per_image_states():
    from semcom.metrics.detection import DetectionList
    from semcom.runner.references import take

    a, b, c = (Detections([[0, 0, i + 1, i + 1]], [0.9], [i]) for i in range(3))
    picked = take(DetectionList([a, b, c]), [0, 2], 3)
    assert isinstance(picked, DetectionList) and picked == [a, c]
    assert take(torch.arange(3), [0, 2], 3).tolist() == [0, 2]  # batch tensors still indexed on dim 0


def test_runner_semantic_metrics_columns(tmp_path, small_folder):
    cfg = compose(["pipeline=jpeg_capacity", "channel=awgn", "dataset=folder", f"dataset.path={small_folder}", "dataset.limit=1",
                   "ratio=1/16", "snr_db=[10]", "plots=false", "metrics=[psnr,vitscore,detection]"])
    df = run_job(cfg, tmp_path / "out", progress=False)
    assert {"vitscore", "vitscore_p", "vitscore_r", "detection", "detection_miou"} <= set(df.columns)
    assert 0 < df["vitscore"].iloc[0] < 1
    recorded = {k: v.split("|")[1] for k, v in json.loads(df["metric_ids"].iloc[0]).items()}
    assert recorded["detection"] == "yolox/nano@e8af074932d4" and recorded["vitscore"].startswith("dinov2/small@")
