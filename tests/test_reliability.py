"""Reliability: bad input, corrupted bitstreams, interrupted and concurrent jobs, determinism.

The large versions are validation scripts (README, "Reliability"):
``python -m semcom.tools.fuzz_decoders`` and ``python -m semcom.tools.kill_resume``.
Interrupted and concurrent jobs here are forked processes running :func:`run_job` (a real
process receiving a real signal, without paying the command line's import time); the script
kills the command line itself.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from semcom.codecs import build_codec
from semcom.runner.config import compose
from semcom.errors import SemcomError
from semcom.runner.job import run_job
from semcom.store.keys import KEY_COLUMNS
from semcom.store.parts import PARTS_DIR, ResultStore
from semcom.tools.fuzz_decoders import MUTATIONS, OUTCOMES, fuzz_codec, mutate, small_learned_codec

HAVE_COMPRESSAI = importlib.util.find_spec("compressai") is not None


# -- bad input ----------------------------------------------------------------------------------

BAD_ARGS = [
    (["foo=1"], "unknown config key 'foo'"),
    (["pipeline=nope"], "unknown pipeline 'nope': choose one of"),
    (["channel=nope"], "unknown channel 'nope'"),
    (["snr_db=[]"], "snr_db is empty"),
    (["snr_db=[5,500]"], "snr_db=500.0 is out of range"),
    (["snr_db=[abc]"], "not a number"),
    (["ratio=0"], "out of range"),
    (["ratio=3/2"], "must be in (0, 1]"),
    (["ratio=abc"], "is not a number"),
    (["metrics=[psnr,bogus]"], "unknown metric 'bogus'"),
    (["seed=x"], "is not a whole number"),
    (["seed=1.5"], "is not a whole number"),
    (["fallback=nope"], "fallback='nope' is unknown"),
    (["batch_size=0"], "batch_size=0 is too small: give batch_size=1"),
    (["dataset=folder", "dataset.path=/definitely/not/here"], "does not exist"),
    (["dataset=folder"], "dataset.path"),
    (["dataset.name=imagenet"], "unknown dataset 'imagenet'"),
    (["dataset.limit=0"], "dataset.limit=0 is too small: give dataset.limit=1"),
    (["-m", "sweep=snr", "pipeline=jpeg_ldpc,nope"], "unknown pipeline 'nope'"),
]


def test_bad_command_lines_end_with_one_error_line(tmp_path, capsys, monkeypatch):
    """Every bad command line: exit status 2, one ``error:`` line naming the problem, nothing written.

    In-process through ``semcom.run.main`` (the pre-flight check runs before Hydra starts);
    tests/test_cli.py runs a bad image through the real command line.
    """
    import sys

    from semcom.run import main

    monkeypatch.chdir(tmp_path)
    for args, message in BAD_ARGS:
        monkeypatch.setattr(sys, "argv", ["semcom.run", *args, f"hydra.run.dir={tmp_path / 'o'}", f"hydra.sweep.dir={tmp_path / 's'}"])
        with pytest.raises(SystemExit) as exit_info:
            main()
        err = capsys.readouterr().err
        lines = [line for line in err.strip().splitlines() if line.strip()]
        assert exit_info.value.code == 2, (args, err)
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, err)
        assert ": " in lines[0][len("error: "):], lines[0]  # problem: fix
    assert not any(tmp_path.rglob("results.parquet")) and not any(tmp_path.rglob("part-*.parquet"))


def _rgb(h=40, w=50, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_every_non_rgb_mode_refused_or_converted(tmp_path):
    from semcom.datasets import load_image

    rgb = _rgb()
    grey = rgb[..., 0]
    cases = {
        "grey.png": (Image.fromarray(grey, "L"), "greyscale"),
        "la.png": (Image.fromarray(np.dstack([grey, grey]), "LA"), "greyscale with alpha"),
        "pal.png": (Image.fromarray(rgb).quantize(16), "palette"),
        "rgba.png": (Image.fromarray(np.dstack([rgb, grey]), "RGBA"), "RGBA"),
        "cmyk.jpg": (Image.fromarray(rgb).convert("CMYK"), "CMYK"),
        "grey16.png": (Image.fromarray(grey.astype(np.uint16) * 257), "16-bit"),
        "bilevel.png": (Image.fromarray(grey > 127), "bilevel"),
    }
    for name, (im, words) in cases.items():
        im.save(tmp_path / name)
        with pytest.raises(SemcomError, match=f"{words}.*dataset.convert=true"):
            load_image(tmp_path / name)
        x = load_image(tmp_path / name, convert=True)
        assert x.shape == (3, 40, 50) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1, name
    # conversions keep the values: greyscale replicated, 16-bit scaled to 8 bits, alpha dropped
    as8 = lambda name: (load_image(tmp_path / name, convert=True) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # noqa: E731
    for name in ("grey.png", "la.png", "grey16.png"):
        assert np.array_equal(as8(name), np.dstack([grey] * 3)), name
    assert np.array_equal(as8("rgba.png"), rgb)
    assert np.abs(as8("cmyk.jpg").astype(int) - rgb).mean() < 8  # JPEG-coded CMYK, back to RGB


def test_unreadable_truncated_and_zero_byte_images(tmp_path):
    from semcom.datasets import load_dataset, load_image

    Image.fromarray(_rgb()).save(tmp_path / "ok.png")
    Image.fromarray(_rgb()).save(tmp_path / "ok.jpg", quality=90)
    png, jpg = (tmp_path / "ok.png").read_bytes(), (tmp_path / "ok.jpg").read_bytes()
    bad = {"zero.png": b"", "cut.png": png[: len(png) // 2], "cut.jpg": jpg[: len(jpg) // 3], "header.png": png[:40],
           "text.png": b"not an image at all", "garbage.jpg": bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8))}
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SemcomError) as info:
            load_image(tmp_path / name)
        text = str(info.value)
        assert "\n" not in text and name in text and ("empty" in text or "truncated or not an image" in text), text
    with pytest.raises(SemcomError, match="cut.jpg"):  # a whole folder stops at its first bad file
        load_dataset("folder", str(tmp_path))


def _cfg(folder, *extra):
    return compose(["pipeline=jpeg_capacity", "channel=rayleigh_block", "dataset=folder", f"dataset.path={folder}", "ratio=1/16",
                    "metrics=[psnr]", "plots=false", *extra])


def test_bad_image_found_by_the_runner_writes_nothing(tmp_path, small_folder):
    (small_folder / "c.png").write_bytes((small_folder / "a.png").read_bytes()[:300])
    with pytest.raises(SemcomError, match="c.png.*truncated"):
        run_job(_cfg(small_folder, "snr_db=[5]"), tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


class _NaNPipeline:
    """A pipeline whose decoder returns NaN for the second image (a bug the runner must catch)."""

    def __init__(self, ratio, fallback, device, name="nan_pipe", bad="nan"):
        self.name, self.ratio, self.bad = name, ratio, bad

    def params(self):
        return {"bad": self.bad}

    def transmit(self, images, snr_db, channel, rng):
        from semcom.pipelines.base import Transmission

        rec = images.clone()
        if images.shape[0] > 1:
            rec[1, 0, 0, 0] = float(self.bad)
        n = images.shape[0]
        return Transmission(rec, torch.zeros(n, dtype=torch.int64), torch.zeros(n, dtype=torch.int64), torch.zeros(n, dtype=torch.bool))


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_nan_or_inf_reconstruction_stops_the_job_without_rows(tmp_path, small_folder, bad):
    cfg = compose(["pipeline=jpeg_capacity", "dataset=folder", f"dataset.path={small_folder}", "metrics=[psnr]", "plots=false",
                   "snr_db=[5]"])
    cfg.pipeline = {"_target_": f"{__name__}._NaNPipeline", "name": "nan_pipe", "bad": bad}
    with pytest.raises(SemcomError, match=r"nan_pipe returned NaN/Inf pixels at SNR 5 dB"):
        run_job(cfg, tmp_path / "o", progress=False)
    assert not (tmp_path / "o" / "results.parquet").exists() and not ResultStore(tmp_path / "o" / PARTS_DIR).parts()


def test_weights_with_other_shapes_or_digest_are_refused(tmp_path):
    from torch import nn

    from semcom.metrics.backbones import alexnet_features, load_features
    from semcom.metrics.lpips import LPIPSNet

    stack = alexnet_features()
    state = {k: v.clone() for k, v in stack.state_dict().items()}
    state["3.weight"] = torch.zeros(8, 8, 5, 5)
    torch.save(state, tmp_path / "alex.pth")
    with pytest.raises(SemcomError, match=r"3.weight \(8, 8, 5, 5\) \(expected \(192, 64, 5, 5\)\).*replace it"):
        load_features(stack, tmp_path / "alex.pth")
    net = LPIPSNet("alex", stack=nn.Sequential(*list(stack)))
    torch.save({f"lin{i}.model.1.weight": torch.zeros(1, 3, 1, 1) for i in range(5)}, tmp_path / "lin.pth")
    with pytest.raises(SemcomError, match=r"lin0.model.1.weight is shape \(1, 3, 1, 1\), expected \(1, 64, 1, 1\)"):
        net.load_lins(tmp_path / "lin.pth")
    # a registered file with another digest is refused before it is loaded (tests/test_weights.py: more)
    from semcom import weights

    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "x.pth").write_bytes(b"tampered")
    weights.register(weights.WeightFile("test/tampered", "x.pth", sha256="0" * 64))
    os.environ["SEMCOM_WEIGHTS"], old = str(tmp_path / "w"), os.environ.get("SEMCOM_WEIGHTS")
    try:
        with pytest.raises(SemcomError, match=r"x.pth for 'test/tampered' has sha256 .* expected 0000000000000000.*replace it"):
            weights.resolve("test/tampered", download=False)
    finally:
        os.environ["SEMCOM_WEIGHTS"] = old or ""
        weights.REGISTRY.pop("test/tampered", None)


@pytest.mark.skipif(not HAVE_COMPRESSAI, reason="CompressAI not installed: scripts/install_compressai.sh")
def test_learned_codec_checkpoint_of_another_architecture_or_broken(tmp_path):
    codec = small_learned_codec("bmshj2018-hyperprior")
    other = small_learned_codec("bmshj2018-factorized").model(1)
    torch.save(other.state_dict(), tmp_path / "other.pth.tar")
    with pytest.raises(SemcomError, match=r"other.pth.tar is not a bmshj2018-hyperprior state dict .*give the bmshj2018-hyperprior zoo file"):
        codec.load_zoo_checkpoint(tmp_path / "other.pth.tar")
    (tmp_path / "cut.pth.tar").write_bytes((tmp_path / "other.pth.tar").read_bytes()[:500])
    with pytest.raises(SemcomError, match="cut.pth.tar cannot be read"):
        codec.load_zoo_checkpoint(tmp_path / "cut.pth.tar")
    # the model's own state dict loads (the shapes of the file decide the widths, as CompressAI's zoo does)
    torch.save(codec.model(1).state_dict(), tmp_path / "own.pth.tar")
    assert sum(p.numel() for p in codec.load_zoo_checkpoint(tmp_path / "own.pth.tar").parameters()) == \
        sum(p.numel() for p in codec.model(1).parameters())


# -- corrupted bitstreams -----------------------------------------------------------------------

def test_mutations_corrupt_as_described():
    rng = np.random.default_rng(0)
    data = bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8))
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    for _ in range(20):
        flipped = np.unpackbits(np.frombuffer(mutate(data, rng, "bitflip"), np.uint8))
        assert 1 <= int((flipped != bits).sum()) <= 64
        burst = np.flatnonzero(np.unpackbits(np.frombuffer(mutate(data, rng, "burst"), np.uint8)) != bits)
        assert burst.size and burst[-1] - burst[0] < 4096
        cut = mutate(data, rng, "truncate")
        assert len(cut) < len(data) and data.startswith(cut)
        padded = mutate(data, rng, "truncate_pad")
        assert len(padded) == len(data) and padded.rstrip(b"\0") == data[: len(padded.rstrip(b"\0"))]
        assert mutate(data, rng, "header_garbage")[:8] == data[:8]
        assert len(mutate(data, rng, "garbage")) <= 2 * len(data)
        assert mutate(data, rng, "splice") != data and mutate(data, rng, "zero_block") != data
    assert mutate(b"", rng, "bitflip") == b""


def _codecs():
    out = [("jpeg", build_codec("jpeg")), ("webp", build_codec("webp")), ("jpeg2000", build_codec("jpeg2000")),
           ("hevc", build_codec("hevc"))]
    if HAVE_COMPRESSAI:
        out.append(("bmshj2018-hyperprior", small_learned_codec("bmshj2018-hyperprior")))
    return out


def test_fuzz_sample_of_every_decoder(astronaut):
    """A sample of the fuzz harness: every case ends as an image or a refusal, none escapes.

    (The script runs thousands; here 24 mutated streams of 2 images x 3 qualities per codec.)
    """
    from semcom.pipelines.base import to_uint8

    img = to_uint8(astronaut[None])[0]
    images = [np.ascontiguousarray(img[100:164, 200:264]), np.ascontiguousarray(img[300:361, 100:183])]
    for k, (name, codec) in enumerate(_codecs()):
        r = fuzz_codec(codec, name, images, cases=24, seed=k, timeout_s=20)
        assert r.cases == 24 and r.counts["escaped"] == 0, (name, r.examples)
        assert set(r.by_mutation) == set(MUTATIONS) and set(r.counts) == set(OUTCOMES)
        assert r.counts["refused"] > 0, name  # garbage and empty streams are refused, not "decoded"
        # an error-free stream decodes in the worker (a fresh process) exactly as in-process;
        # for the learned codecs this needs CompressAI imported before the models are unpickled
        data = codec.encode(images[1], list(codec.qualities)[-1])
        if codec.isolate:
            assert np.array_equal(codec.decode_untrusted(data, (61, 83)), codec.decode(data, (61, 83))), name


def test_hevc_payload_of_any_image_size_rebuilds_the_file(astronaut):
    """libheif codes at least 64 px in multiples of 4 and crops with a clap box: the receiver's
    container must carry it (found by the fuzz harness: odd sizes never decoded)."""
    from semcom.codecs.heif import rebuild_heif
    from semcom.pipelines.base import to_uint8

    codec = build_codec("hevc")
    img = to_uint8(astronaut[None])[0]
    for h, w in ((61, 83), (8, 8), (1, 3), (64, 64)):
        crop = np.ascontiguousarray(img[:h, :w])
        heif = codec.heif_file(crop, 60)
        payload = codec.encode(crop, 60)
        assert rebuild_heif(codec.reference_for((h, w)), payload + bytes(16)) == heif
        out = codec.decode(payload, (h, w))
        assert out.shape == (h, w, 3) and np.abs(out.astype(int) - crop).mean() < 12


# -- interruption and concurrency ---------------------------------------------------------------

def _job(cfg, out, store):
    torch.set_num_threads(1)  # a forked child must not enter the parent's OpenMP pool
    # A user's process reacts to Ctrl-C and SIGTERM; a test run started in the background of a
    # non-interactive shell inherits SIGINT ignored, so put the usual dispositions back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    run_job(cfg, out, progress=False, store_dir=store)


def _fork(ctx, cfg, out, store):
    p = ctx.Process(target=_job, args=(cfg, str(out), str(store)))
    p.start()
    return p


def _parts(store) -> int:
    return len(list((store / PARTS_DIR).glob("part-*.parquet"))) if (store / PARTS_DIR).is_dir() else 0


def _table(store) -> pd.DataFrame:
    return ResultStore(store / PARTS_DIR).load().sort_values(list(KEY_COLUMNS)).reset_index(drop=True)


@pytest.fixture()
def six_images(tmp_path, astronaut):
    arr = (astronaut.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    folder = tmp_path / "six"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(np.ascontiguousarray(arr[50 * i : 50 * i + 80, 40 * i : 40 * i + 96])).save(folder / f"i{i}.png")
    return folder


def test_killed_job_resumes_to_the_uninterrupted_table_and_two_writers_share_a_store(tmp_path, six_images):
    """SIGINT, SIGTERM and SIGKILL mid-job, each followed by a resume into the same store; then
    the last resume runs as two processes at once beside a third job writing the same store.
    The final table equals an uninterrupted run's, every column, with each key once."""
    ctx = multiprocessing.get_context("fork")
    cfg = _cfg(six_images, "snr_db=[1,5,9,13]", "batch_size=1")
    other = _cfg(six_images, "snr_db=[1,5,9,13]", "batch_size=1", "pipeline=webp_capacity")
    ref = tmp_path / "ref"
    for c in (cfg, other):  # the uninterrupted runs (forked as well: same thread count as the resumed ones)
        p = _fork(ctx, c, ref / "o", ref)
        p.join(300)
        assert p.exitcode == 0
    reference = _table(ref)
    assert len(reference) == 2 * 6 * 4

    store = tmp_path / "store"
    rng = np.random.default_rng(0)
    landed = []
    for sig, after in ((signal.SIGINT, 3), (signal.SIGTERM, 8), (signal.SIGKILL, 14)):
        p = _fork(ctx, cfg, store / "o", store)
        t = time.monotonic()
        while p.is_alive() and _parts(store) < after and time.monotonic() - t < 300:
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0, 0.05)))  # anywhere in the next image, part writes included
        landed.append(_parts(store))
        os.kill(p.pid, sig)
        p.join(60)
        assert p.exitcode != 0, f"{sig!r} landed after the job finished ({landed})"
    assert 0 < len(_table(store)) < 24  # killed part-way, some rows kept
    writers = [_fork(ctx, cfg, store / "o1", store), _fork(ctx, cfg, store / "o2", store), _fork(ctx, other, store / "o3", store)]
    for p in writers:
        p.join(300)
        assert p.exitcode == 0
    final = _table(store)
    pd.testing.assert_frame_equal(final, reference)
    assert not final.duplicated(list(KEY_COLUMNS)).any()
    mine = pd.read_parquet(store / "o1" / "results.parquet").sort_values(list(KEY_COLUMNS)).reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, reference[reference.pipeline == "jpeg_capacity"].reset_index(drop=True))
    for part in ResultStore(store / PARTS_DIR).parts():  # every part file is whole
        pd.read_parquet(part)


class _SigintInFinaliser:
    """Sends SIGINT to its own process from ``__del__``: the KeyboardInterrupt is raised inside the
    finaliser, where CPython prints "Exception ignored" and drops it (what pyarrow's and pandas'
    C code did with one SIGINT in about sixty in a stress run of the test above)."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_ctrl_c_swallowed_by_a_finaliser_still_stops_the_job(tmp_path, small_folder, monkeypatch):
    """The job stops at the next cell with KeyboardInterrupt, keeping the rows written so far;
    the SIGINT handler in place before the job is back afterwards."""
    from semcom.runner.interrupts import InterruptGuard

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # pytest may inherit SIGINT ignored
    try:
        appended = []
        original = ResultStore.append

        def append(self, rows):
            appended.append(original(self, rows))
            if len(appended) == 2:
                _SigintInFinaliser()  # created and dropped at once: __del__ runs here
            return appended[-1]

        monkeypatch.setattr(ResultStore, "append", append)
        with pytest.raises(KeyboardInterrupt):
            run_job(_cfg(small_folder, "snr_db=[1,5,9]", "batch_size=1"), tmp_path / "o", progress=False)
        assert len(appended) == 2 and _parts(tmp_path / "o") == 2
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

        def custom(signum, frame):  # a launcher's own handler is left alone
            pass

        signal.signal(signal.SIGINT, custom)
        with InterruptGuard() as guard:
            assert signal.getsignal(signal.SIGINT) is custom
            guard.check()
    finally:
        signal.signal(signal.SIGINT, previous)


# -- determinism --------------------------------------------------------------------------------

def test_same_seed_same_table_different_seed_different_noise(tmp_path, small_folder):
    """Run to run on CPU: identical tables for one seed (every column); another seed draws other
    fading and noise (the capacity bound's budget follows each image's fade)."""
    tables = [run_job(_cfg(small_folder, "snr_db=[5]", f"seed={seed}"), tmp_path / f"o{i}", progress=False).sort_values("image")
              .reset_index(drop=True) for i, seed in enumerate((3, 3, 4))]
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert json.loads(tables[0].config[0])["seed"] == 3
    assert (tables[0].capacity_bits != tables[2].capacity_bits).all() and not tables[0].bits.equals(tables[2].bits)

    from semcom.channels import build_channel
    from semcom.randomness import cell_seed, generator

    ch = build_channel({"name": "awgn"})
    x = torch.ones(1, 4096, dtype=torch.complex64)
    draws = {seed: ch(x, 5.0, generator(cell_seed(seed, "img", "awgn"))).y for seed in (3, 3, 4)}
    y3 = ch(x, 5.0, generator(cell_seed(3, "img", "awgn"))).y
    assert torch.equal(draws[3], y3) and not torch.allclose(draws[3], draws[4])
    noise = (draws[3] - draws[4]).abs().square().mean().item()
    assert noise == pytest.approx(2 * 10 ** (-0.5), rel=0.1)  # two independent CN(0, N0) draws: E|n1 - n2|^2 = 2 N0
