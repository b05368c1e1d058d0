"""Inputs checked at the door and a store that heals (docs/reliability.md).

Metrics refuse what they cannot score honestly ([0, 255] or negative values, NaN, shapes that
differ) with one line naming the fix; images below a metric's ``min_size`` score NaN with one
warning per metric and run; channels refuse real or non-finite symbols and a non-finite SNR;
unreadable part files are moved to ``quarantine/`` and their rows recomputed; a damaged encoding
cache entry is encoded again; multi-frame images are refused unless ``dataset.frame`` picks one.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from semcom.channels import build_channel
from semcom.errors import SemcomError
from semcom.metrics import get_metric
from semcom.runner.config import compose
from semcom.runner.job import run_job
from semcom.store.keys import KEY_COLUMNS
from semcom.store.parts import PARTS_DIR, QUARANTINE_DIR, ResultStore

PIXEL_AND_LPIPS = ["psnr", "ssim", "ms_ssim", "lpips"]


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 176, 176, generator=g)
    return x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert isinstance(exc, SemcomError) and "\n" not in text and ": " in text, text
    return text


@pytest.mark.parametrize("name", PIXEL_AND_LPIPS)
def test_metric_refuses_0_255_negative_nan_and_shape_mismatch(name, pair):
    ref, rec = pair
    m = get_metric(name)
    cases = {
        "[0, 255]": ((ref * 255, rec * 255), r"values up to 2\d\d.*divide by 255"),
        "negative": ((ref * 2 - 1, rec * 2 - 1), r"values down to -.*\(x \+ 1\) / 2"),
        "NaN reference": ((torch.where(ref > 0.99, torch.nan, ref), rec), r"reference contains NaN"),
        "shapes": ((ref, rec[..., :160]), r"differ in shape"),
        "uint8": (((ref * 255).to(torch.uint8), (rec * 255).to(torch.uint8)), r"uint8.*divide by 255"),
        "HWC": ((ref[0].permute(1, 2, 0)[None], rec[0].permute(1, 2, 0)[None]), r"not \(N, 3, H, W\)"),
    }
    for what, ((a, b), message) in cases.items():
        with pytest.raises(SemcomError, match=message) as info:
            m(a, b)
        assert name in _one_line(info.value), (what, str(info.value))
    assert torch.isfinite(m(ref, rec)).all()  # the good pair still scores


def test_plugin_metric_and_plugin_channel_are_checked_too(pair, caplog):
    from semcom.channels.base import Channel, ChannelOutput
    from semcom.metrics.base import Metric

    class MeanDiff(Metric):  # a plugin metric: only compute_batch, a minimum of its own
        name, min_size = "mean_diff", 40

        def compute_batch(self, reference, reconstruction):
            return (reference - reconstruction).abs().mean(dim=(1, 2, 3))

    class Wire(Channel):  # a plugin channel with its own forward
        name = "wire"

        def forward(self, x, snr_db, rng):
            return ChannelOutput(y=x, h=torch.ones_like(x), n0=torch.zeros(x.shape[0], 1))

    ref, rec = pair
    with pytest.raises(SemcomError, match=r"mean_diff got values up to .*divide by 255"):
        MeanDiff()(ref * 255, rec * 255)
    with caplog.at_level(logging.WARNING):
        assert torch.isnan(MeanDiff()(ref[..., :20, :30], rec[..., :20, :30])).all()
    assert "mean_diff needs images of at least 40 x 40 px; a 20 x 30 image" in caplog.text
    with pytest.raises(SemcomError, match=r"wire: snr_db=nan"):
        Wire()(torch.ones(1, 4, dtype=torch.complex64), float("nan"), None)


def test_min_size_nan_with_one_warning_per_metric_in_a_real_job(tmp_path, astronaut, caplog):
    folder = tmp_path / "imgs"
    folder.mkdir()
    arr = (astronaut.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(np.ascontiguousarray(arr[100:300, 120:320])).save(folder / "big.png")
    Image.fromarray(np.ascontiguousarray(arr[200:208, 200:210])).save(folder / "tiny.png")  # 8 x 10 px
    cfg = compose(["pipeline=jpeg_capacity", "channel=awgn", "dataset=folder", f"dataset.path={folder}", "ratio=1/16",
                   "metrics=default", "plots=false", "snr_db=[5,15]", "batch_size=1"])
    with caplog.at_level(logging.WARNING):
        df = run_job(cfg, tmp_path / "o", progress=False)
    tiny, big = df[df.image == "tiny.png"], df[df.image == "big.png"]
    assert len(tiny) == 2 and len(big) == 2
    assert tiny[["ssim", "ms_ssim", "lpips"]].isna().all().all() and tiny["psnr"].notna().all()
    assert big[["psnr", "ssim", "ms_ssim", "lpips"]].notna().all().all()
    for name, need in (("ssim", 11), ("ms_ssim", 161), ("lpips", 31)):
        warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{name} needs images")]
        assert len(warnings) == 1 and f"at least {need} x {need} px" in warnings[0] and "8 x 10" in warnings[0], warnings
    assert not [r for r in caplog.records if r.getMessage().startswith("psnr needs")]


@pytest.mark.parametrize("channel", ["awgn", "rayleigh_block"])
def test_channel_refuses_nan_snr_and_real_or_nan_symbols(channel):
    ch = build_channel(channel)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 64, dtype=torch.complex64, generator=g)
    for args, message in [((x, float("nan")), r"snr_db=nan is not a finite"), ((x, float("inf")), r"snr_db=inf is not a finite"),
                          ((x.real, 5.0), r"not complex"), ((x * torch.nan, 5.0), r"NaN or Inf"),
                          ((x, torch.tensor([1.0, 2.0, 3.0])), r"3 values for 2 rows")]:
        with pytest.raises(SemcomError, match=message) as info:
            ch(*args, g)
        assert channel in _one_line(info.value)
    assert torch.isfinite(torch.view_as_real(ch(x, 5.0, g).y)).all()


def _rows(store) -> pd.DataFrame:
    df = ResultStore(store / PARTS_DIR).load()
    cols = [c for c in df.columns if c in KEY_COLUMNS or c in ("image", "snr_db", "psnr", "bits")]
    return df[cols].sort_values(list(KEY_COLUMNS)).reset_index(drop=True)


def test_corrupted_parts_are_quarantined_and_their_rows_recomputed(tmp_path, small_folder, caplog):
    from semcom.results import main as results_main

    cfg = compose(["pipeline=jpeg_capacity", "channel=rayleigh_block", "dataset=folder", f"dataset.path={small_folder}",
                   "ratio=1/16", "metrics=[psnr]", "plots=false", "snr_db=[1,9]", "batch_size=1"])
    store = tmp_path / "o"
    run_job(cfg, store, progress=False)
    before = _rows(store)
    (whole,) = ResultStore(store / PARTS_DIR).parts()  # the job compacts its parts: one row per part again
    table = pd.read_parquet(whole)
    whole.unlink()
    parts = [ResultStore(store / PARTS_DIR).append(table.iloc[[i]]) for i in range(len(table))]
    assert len(before) == 4 and len(parts) == 4 and _rows(store).equals(before)
    sizes = {p.name: p.stat().st_size for p in parts}
    parts[0].write_bytes(b"")  # zero bytes
    parts[1].write_bytes(parts[1].read_bytes()[: sizes[parts[1].name] // 2])  # cut short
    assert len(ResultStore(store / PARTS_DIR).load()) == 2 and (store / PARTS_DIR / QUARANTINE_DIR).is_dir()  # reading heals
    for p in (store / PARTS_DIR / QUARANTINE_DIR).iterdir():  # put them back: the resume below meets them
        p.rename(store / PARTS_DIR / p.name)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        run_job(cfg, store, progress=False)  # resume: reads the store, quarantines, recomputes
    quarantined = sorted((store / PARTS_DIR / QUARANTINE_DIR).iterdir())
    assert [p.name for p in quarantined] == sorted([parts[0].name, parts[1].name])  # moved, not deleted
    assert quarantined[0].stat().st_size + quarantined[1].stat().st_size == sizes[parts[1].name] // 2
    moved = [r.getMessage() for r in caplog.records if "unreadable file" in r.getMessage()]
    assert len(moved) == 1 and QUARANTINE_DIR in moved[0] and "recomputed" in moved[0], moved
    after = _rows(store)
    pd.testing.assert_frame_equal(after, before)  # every row back, equal to the first run's
    # merge never ends in a traceback, even with another bad part in the store
    (store / PARTS_DIR / "part-00000000000000000001-deadbeef.parquet").write_bytes(b"PAR1 not really")
    assert results_main(["merge", str(store), "--no-plots"]) == 0
    assert len(list((store / PARTS_DIR / QUARANTINE_DIR).iterdir())) == 3
    assert len(pd.read_parquet(store / "results.parquet")) == 4


def test_damaged_score_memo_and_feature_parts_are_quarantined(tmp_path, caplog):
    from semcom.runner.score_memo import ScoreMemo
    from semcom.store.features import FeatureStore

    memo = ScoreMemo(tmp_path / "scores")
    memo.put(("psnr", "x", "{}", "a", "b"), {"psnr": 30.0})
    good = memo.flush()
    (tmp_path / "scores" / "part-bad.pkl").write_bytes(b"\x80\x05garbage")
    fs = FeatureStore(tmp_path / "features.parts")
    fs.append("inception", "reference", ["k"], torch.ones(1, 4))
    (tmp_path / "features.parts" / "part-bad.parquet").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        fresh = ScoreMemo(tmp_path / "scores")
        assert fresh.load() == 1 and fresh.get(("psnr", "x", "{}", "a", "b")) == {"psnr": 30.0}
        assert list(fs.load()) == [("inception", "reference", "k")]
    assert (tmp_path / "scores" / QUARANTINE_DIR / "part-bad.pkl").is_file() and good.is_file()
    assert (tmp_path / "features.parts" / QUARANTINE_DIR / "part-bad.parquet").is_file()
    assert sum("unreadable file" in r.getMessage() for r in caplog.records) == 2


def test_damaged_encoding_cache_entry_is_encoded_again(tmp_path, astronaut, caplog):
    from semcom.codecs import build_codec
    from semcom.codecs.cache import EncodingCache, unpack

    codec = build_codec("jpeg")
    img = (astronaut.permute(1, 2, 0).numpy()[:64, :64] * 255).round().astype(np.uint8)
    first = EncodingCache(disk_dir=tmp_path / "enc").encode(codec, img, 50).data
    (path,) = list((tmp_path / "enc").rglob("*.bin"))
    assert unpack(path.read_bytes())[0] == first  # stored with its sha256
    blob = path.read_bytes()
    for damage in (blob[: len(blob) // 2], blob[:-10] + bytes(10), b"", first):  # cut, zeroed tail, empty, headerless
        path.write_bytes(damage)
        cache = EncodingCache(disk_dir=tmp_path / "enc")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            again = cache.encode(codec, img, 50).data
        assert again == first and cache.corrupt == 1 and cache.misses == 1
        warnings = [r.getMessage() for r in caplog.records if "encoding cache entry" in r.getMessage()]
        assert len(warnings) == 1 and str(path) in warnings[0]
        assert unpack(path.read_bytes())[0] == first  # rewritten intact
    cache = EncodingCache(disk_dir=tmp_path / "enc")
    assert cache.encode(codec, img, 50).data == first and cache.hits == 1 and cache.corrupt == 0


def test_multi_frame_images_refused_unless_a_frame_is_chosen(tmp_path):
    from semcom.datasets import load_dataset

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(tmp_path / "pages.tiff", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "still.png")
    with pytest.raises(SemcomError, match=r"anim.gif holds 3 frames.*dataset.frame=N") as info:
        load_dataset("folder", str(tmp_path), convert=True)
    _one_line(info.value)
    ds = load_dataset("folder", str(tmp_path), convert=True, frame=2)
    by_name = {it.name: it.image for it in ds}
    assert set(by_name) == {"anim.gif", "pages.tiff", "still.png"}
    third = torch.from_numpy(np.array(frames[2])).permute(2, 0, 1).float() / 255
    assert torch.equal(by_name["pages.tiff"], third)  # TIFF pages are lossless: exactly the third frame
    assert not torch.equal(by_name["anim.gif"], load_dataset("folder", str(tmp_path), convert=True, frame=0).items[0].image)
    with pytest.raises(SemcomError, match=r"dataset.frame=5 but image .* holds 3 frames"):
        load_dataset("folder", str(tmp_path), convert=True, frame=5)
    with pytest.raises(SemcomError, match=r"dataset.frame=-1 must be"):
        load_dataset("folder", str(tmp_path), convert=True, frame=-1)
    cfg = compose(["dataset=folder", f"dataset.path={tmp_path}", "dataset.frame=1"])
    assert cfg.dataset.frame == 1
