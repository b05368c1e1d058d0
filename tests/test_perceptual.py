"""LPIPS and DISTS: the upstream calibration values, identity, the [0, 1] input convention."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.errors import SemcomError
from semcom.metrics import get_metric
from semcom.metrics.backbones import alexnet_features, load_features

SHARED = Path(os.environ["SEMCOM_WEIGHTS"]).parent  # conftest: ../shared/weights by default
CALIB = SHARED / "calibration"


def _load(path) -> torch.Tensor:
    """An 8-bit image file as (1, 3, H, W) float32 in [0, 1] (alpha dropped)."""
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float()[None] / 255


@pytest.fixture(scope="module")
def lpips_imgs():
    return [_load(CALIB / "lpips_imgs" / f) for f in ("ex_ref.png", "ex_p0.png", "ex_p1.png")]


def test_lpips_alex_reproduces_upstream_calibration(lpips_imgs):
    """richzhang/PerceptualSimilarity publishes LPIPS-alex (ref, p0) = 0.722 and (ref, p1) = 0.138."""
    ref, p0, p1 = lpips_imgs
    m = get_metric("lpips")
    d = m(torch.cat([ref, ref]), torch.cat([p0, p1]))  # batched: one call, two pairs
    assert d.shape == (2,)
    assert round(d[0].item(), 3) == 0.722 and round(d[1].item(), 3) == 0.138
    assert m(ref, p1).item() == pytest.approx(d[1].item(), abs=1e-6)  # batching does not change a pair
    assert m(ref, ref).item() == 0.0 and m(p0, p0).item() == 0.0
    assert not m.higher_is_better and m.checkpoint.startswith("torchvision/alexnet@fc39e1bc1d88+lpips/lin-alex@df73285e35b2")


def test_lpips_vgg_values(lpips_imgs):
    """LPIPS-vgg on the same images: (0.5686, 0.4217), the value of the official lpips package."""
    ref, p0, p1 = lpips_imgs
    d = get_metric("lpips_vgg")(torch.cat([ref, ref]), torch.cat([p0, p1]))
    assert d[0].item() == pytest.approx(0.5686, abs=1e-4) and d[1].item() == pytest.approx(0.4217, abs=1e-4)


def test_lpips_input_range_is_handled_by_the_api(lpips_imgs):
    """Callers pass [0, 1]; the metric maps to [-1, 1]. [-1, 1] or [0, 255] data is refused, not
    silently mis-scored; skipping the mapping (a known bug elsewhere) would give another number."""
    ref, p0, _ = lpips_imgs
    m = get_metric("lpips").load()
    with pytest.raises(SemcomError, match=r"\(x \+ 1\) / 2"):
        m(ref * 2 - 1, p0 * 2 - 1)
    with pytest.raises(SemcomError, match="x / 255"):
        m(ref * 255, p0 * 255)
    net = m._net
    unscaled = net.distance(net.features(ref), net.features(p0)).item()  # [0, 1] fed as if [-1, 1]
    assert round(unscaled, 3) != 0.722  # 0.725: the calibration test above catches the missing mapping


def test_full_torchvision_state_dict_is_accepted(tmp_path, lpips_imgs):
    """A full torchvision AlexNet state dict (features.* + classifier.*) loads like the extract."""
    extract = SHARED / "weights" / "lpips" / "alexnet_features_torchvision.pth"
    state = torch.load(extract, weights_only=True)
    full = {f"features.{k}": v for k, v in state.items()}
    full["classifier.1.weight"] = torch.zeros(4096, 9216)
    torch.save(full, tmp_path / "alexnet-owt.pth")
    a = load_features(alexnet_features(), extract)
    b = load_features(alexnet_features(), tmp_path / "alexnet-owt.pth")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_dists_reproduces_published_example():
    """DISTS_pt.py in dingkeyan93/DISTS prints 0.3347 for images/r0.png vs r1.png (256x256)."""
    r0, r1 = _load(CALIB / "dists_imgs" / "r0.png"), _load(CALIB / "dists_imgs" / "r1.png")
    m = get_metric("dists")
    assert round(m(r0, r1).item(), 4) == 0.3347
    assert m.checkpoint.startswith("torchvision/vgg16@87b6ee404c34+dists/alpha-beta@f5e65c96230b")
    crop = r0[..., :96, :96]
    assert m(crop, crop).item() == pytest.approx(0.0, abs=1e-6)
    # further from the reference, larger: a mild then a strong blur of the crop
    mild = torch.nn.functional.avg_pool2d(crop, 3, stride=1, padding=1, count_include_pad=False)
    strong = torch.nn.functional.avg_pool2d(crop, 9, stride=1, padding=4, count_include_pad=False)
    d = m(torch.cat([crop, crop]), torch.cat([mild, strong]))
    assert 0 < d[0].item() < d[1].item()


def test_dists_resize_follows_the_reference_demo():
    """DISTS(resize=256) shrinks like the reference demo's prepare_image (PIL bilinear via
    torchvision Resize(256) when the shorter side exceeds 256 px): on the published pair enlarged to
    512 x 512 it matches DISTS on PIL's own bilinear 256 x 256 shrink within 2e-4, and it leaves a
    256 px image alone (0.3347 as published)."""
    def pil(im: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255

    big = [Image.open(CALIB / "dists_imgs" / f"r{i}.png").convert("RGB").resize((512, 512), Image.BICUBIC) for i in (0, 1)]
    demo = get_metric("dists")(*(pil(im.resize((256, 256), Image.BILINEAR)) for im in big)).item()
    ours = get_metric("dists", resize=256)
    assert ours(*(pil(im) for im in big)).item() == pytest.approx(demo, abs=2e-4)
    assert get_metric("dists")(*(pil(im) for im in big)).item() != pytest.approx(demo, abs=2e-3)  # resize matters
    r0, r1 = _load(CALIB / "dists_imgs" / "r0.png"), _load(CALIB / "dists_imgs" / "r1.png")
    assert round(ours(r0, r1).item(), 4) == 0.3347
    assert ours._sized(torch.zeros(1, 3, 512, 768)).shape[-2:] == (256, 384)
    assert ours._sized(torch.zeros(1, 3, 700, 300)).shape[-2:] == (597, 256)
    with pytest.raises(SemcomError, match="resize"):
        get_metric("dists", resize="big")


def test_prepared_reference_reused_and_subset(lpips_imgs):
    """The runner prepares a batch's reference once and scores any subset of it against it."""
    from semcom.runner.references import ReferenceCache, take

    ref, p0, p1 = lpips_imgs
    m = get_metric("lpips").load()
    refs, recs = torch.cat([ref, p0]), torch.cat([p1, p1])
    cache = ReferenceCache()
    state = cache.state(m, refs)
    assert cache.state(m, refs.clone()) is state  # remembered by content
    full = m.score(state, recs)
    sub = m.score(take(state, [1], 2), recs[1:])
    assert sub.item() == pytest.approx(full[1].item(), abs=1e-6)
    assert sub.item() == pytest.approx(m(p0, p1).item(), abs=1e-6)
