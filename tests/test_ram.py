"""RelateAnything (RAM) relations on tiny random SAM and RAM networks: scores, modes, the official
checkpoint layout through the real loading path, and SeSS end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom.errors import SemcomError
from semcom.metrics.sess import SeSS
from semcom.metrics.sess.components import PSG_PREDICATES, RAMRelations, Segments, masks_to_boxes
from semcom.metrics.sess.ram import RAMDims, RAMNetwork, SAMMaskTokens, low_res_targets, prompt_points

#: A tiny RAM on the tiny SAM's 32-d mask tokens (the official: 256 -> 768, BERT 2 x 12 heads, 56 x 512).
TINY = RAMDims(input_size=32, hidden_size=32, head_size=8, num_layers=2, num_heads=2, intermediate_size=64,
               vocab_size=16, max_positions=8)


@pytest.fixture(scope="module")
def tiny_sam():
    """A random SamModel: 64 px input, 16 px patches (4 x 4 x 32 embedding), 32-d mask decoder."""
    from transformers import SamConfig, SamModel

    torch.manual_seed(0)
    cfg = SamConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=64,
                           patch_size=16, output_channels=32, global_attn_indexes=[1], window_size=2, num_pos_feats=16),
        prompt_encoder_config=dict(hidden_size=32, image_size=64, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_hidden_layers=2, num_attention_heads=2,
                                 iou_head_hidden_dim=32),
    )
    return SamModel(cfg).eval()


def tiny_ram(seed: int = 1) -> RAMNetwork:
    torch.manual_seed(seed)
    return RAMNetwork(TINY)


def blobs(h: int, w: int) -> np.ndarray:
    """Four masks (4, h, w) bool: top-left quarter, right half, a centred disk, a bottom strip."""
    yy, xx = np.mgrid[:h, :w]
    return np.stack([(yy < h // 2) & (xx < w // 2), xx >= w // 2,
                     (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 5) ** 2, yy >= h - h // 6])


def segments(h: int, w: int) -> Segments:
    m = blobs(h, w)
    return Segments(masks_to_boxes(m), m)


@pytest.fixture(scope="module")
def image(astronaut) -> torch.Tensor:
    """The astronaut at 48 x 80 (3, H, W): wider than tall, so SAM's input is padded."""
    return torch.nn.functional.interpolate(astronaut[None], size=(48, 80), mode="bilinear", antialias=True)[0].clamp(0, 1)


def test_official_sizes_and_key_names():
    with torch.device("meta"):
        net = RAMNetwork()
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["fc_input.0.weight"] == (768, 256) and shapes["fc_output.1.weight"] == (768,)
    assert shapes["cls_sub.weight"] == shapes["cls_obj.weight"] == (56 * 512, 768)
    assert shapes["model.embeddings.word_embeddings.weight"] == (30522, 768)
    assert shapes["model.encoder.layer.1.intermediate.dense.weight"] == (3072, 768) and "model.pooler.dense.weight" in shapes
    assert not any(k.startswith("model.encoder.layer.2.") for k in shapes)  # the encoder cut to 2 layers
    cfg = net.model.config
    assert (cfg.num_attention_heads, cfg.hidden_dropout_prob, cfg.attention_probs_dropout_prob) == (12, 0.1, 0.1)
    assert cfg.layer_norm_eps == 1e-12 and cfg.hidden_act == "gelu"


def test_prompt_points_lie_deep_inside_and_targets_fill_the_low_res_frame():
    m = blobs(48, 80)
    pts = prompt_points(m)
    for mask, (x, y) in zip(m, pts):
        assert mask[int(y), int(x)]
    # the disk's point is the grid point nearest its centre (40, 24): cells of 2.5 x 1.5 px
    assert np.allclose(pts[2], [38.75, 23.25]) or np.allclose(pts[2], [41.25, 24.75])
    # a one-pixel mask between grid points: its own pixel centre
    dot = np.zeros((1, 48, 80), bool)
    dot[0, 10, 1] = True
    assert np.allclose(prompt_points(dot), [[1.5, 10.5]])
    # 48 x 80 -> SAM input 38 x 64 of 64 x 64 -> low-res 16 x 16: the image covers 10 x 16 rows x columns
    t = low_res_targets(torch.ones((1, 48, 80), dtype=torch.bool), (38, 64), 64, 16)
    assert t.shape == (1, 16, 16) and t[0, :10].all() and not t[0, 10:].any()


def test_mask_tokens_are_decoder_tokens(tiny_sam, image):
    feats = SAMMaskTokens(tiny_sam)(image, blobs(48, 80))
    assert feats.shape == (4, 32) and feats.dtype == torch.float32 and torch.isfinite(feats).all()
    # batching does not change them
    assert torch.allclose(SAMMaskTokens(tiny_sam, points_per_batch=3)(image, blobs(48, 80)), feats, atol=1e-6)


def test_scores_shape_range_and_modes(tiny_sam, image):
    seg = segments(48, 80)
    det = RAMRelations(network=tiny_ram(), sam=tiny_sam).load()
    s = det.scores(image, seg)
    assert s.shape == (4, 4, 56) and s.dtype == np.float64 and len(det.predicates) == 56 == len(PSG_PREDICATES)
    assert ((s >= 0) & (s <= 1)).all() and (s[np.arange(4), np.arange(4)] == 0).all() and s.max() > 0
    assert np.array_equal(det.scores(image, seg), s)  # eval mode: deterministic
    assert det.tag == "module:RAMNetwork(module:SamModel)"
    faithful = RAMRelations(faithful=True, network=tiny_ram(), sam=tiny_sam).load()
    a, b = faithful.scores(image, seg), faithful.scores(image, seg)
    assert faithful.network.training and not np.array_equal(a, b)  # dropout on: differs call to call
    assert np.abs(a - s).max() < 0.5  # the same weights: dropout perturbs, it does not replace
    assert det.scores(image, Segments(seg.boxes[:1], seg.masks[:1])).shape == (1, 1, 56)  # one segment: no pair


def _install(root, state) -> None:
    (root / "ram").mkdir(parents=True, exist_ok=True)
    torch.save(state, root / "ram" / "ram_epoch12.pth")


def test_checkpoint_round_trips_through_the_registered_path(tmp_path, monkeypatch, tiny_sam, image):
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    net = tiny_ram(seed=5).eval()
    state = dict(net.state_dict())
    state["model.embeddings.position_ids"] = torch.arange(TINY.max_positions)[None]  # saved by transformers 4.28
    _install(tmp_path, state)
    rel = RAMRelations(sam=tiny_sam, dims=TINY).load()
    assert rel.tag.startswith("ram/relate-anything@") and rel.tag.endswith("(module:SamModel)")
    loaded = rel.network.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in net.state_dict().items())
    assert not rel.network.training
    expected = RAMRelations(network=net, sam=tiny_sam).load().scores(image, segments(48, 80))
    assert np.array_equal(rel.scores(image, segments(48, 80)), expected)


def test_wrong_or_missing_checkpoint_is_refused(tmp_path, monkeypatch, tiny_sam):
    monkeypatch.setenv("SEMCOM_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(SemcomError, match="ram_epoch12.pth"):
        RAMRelations(sam=tiny_sam, dims=TINY).load()
    state = {k: v for k, v in tiny_ram().state_dict().items() if not k.startswith("cls_obj.")}
    state["head.weight"] = torch.zeros(3)
    _install(tmp_path, state)
    wrong = r"not ram_epoch12\.pth.*missing keys cls_obj\.bias, cls_obj\.weight.*unexpected keys head\.weight"
    with pytest.raises(SemcomError, match=wrong):
        RAMRelations(sam=tiny_sam, dims=TINY).load()
    _install(tmp_path, tiny_ram().state_dict())
    with pytest.raises(SemcomError, match=r"shape mismatches cls_obj\.bias \(448,\) instead of \(512,\)"):
        RAMRelations(sam=tiny_sam, dims=RAMDims(**{**TINY.__dict__, "num_predicates": 64})).load()
    (tmp_path / "ram" / "ram_epoch12.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(SemcomError, match="not ram_epoch12.pth: torch cannot read it"):
        RAMRelations(sam=tiny_sam, dims=TINY).load()


class _BlobSegmenter:
    """The four :func:`blobs` of any image."""

    tag = None

    def load(self):
        return self

    def segment(self, image):
        return segments(*image.shape[-2:])


class _ColourEmbedder:
    """Mean and std per channel as the embedding; fixed random text vectors for the predicates."""

    tag = None

    def load(self):
        return self

    def crops(self, crops):
        return np.stack([self.image(c) for c in crops])

    def image(self, image):
        flat = image.reshape(3, -1).double()
        return torch.cat([flat.mean(1), flat.std(1)]).numpy()

    def texts(self, names):
        return np.random.default_rng(0).normal(size=(len(names), 6))


@pytest.mark.parametrize("faithful", [False, True])
def test_sess_with_ram_end_to_end(tiny_sam, astronaut, faithful):
    images = torch.stack([astronaut[:, :96, :96], astronaut[:, 200:296, 240:336]])
    images = torch.nn.functional.interpolate(images, size=(48, 48), mode="bilinear", antialias=True).clamp(0, 1)
    rel = RAMRelations(faithful=faithful, network=tiny_ram(), sam=tiny_sam)
    m = SeSS(segmenter=_BlobSegmenter(), relation=rel, embedder=_ColourEmbedder(), faithful=faithful).load()
    assert "module:RAMNetwork(module:SamModel)" in m.checkpoint
    ref = m.prepare(images)
    assert len(ref) == 2 and all(len(g) >= 2 for g in ref)
    same, swapped = m.score(ref, images), m.score(ref, images.flip(0))
    assert torch.isfinite(same).all() and torch.isfinite(swapped).all()
    assert ((swapped > -0.1) & (swapped < 1.0)).all()
    if not faithful:
        assert torch.allclose(same, torch.ones(2), atol=1e-9) and (swapped < same).all()
