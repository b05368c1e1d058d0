"""What bad inputs get: a table of ~40 of them and the outcome of each (docs/reliability.md).

    python -m semcom.tools.bad_inputs            # the table and the counts per outcome
    python -m semcom.tools.bad_inputs --json F   # also write {case: outcome} to F
    python -m semcom.tools.bad_inputs --recovery # also: damage 3 of 6 parts of a real store, resume

The recovery figure runs a job (4 images x 3 SNR points, PSNR and SSIM), splits its store into 6
parts of 2 rows, damages 3 of them (zero bytes, cut to a third, not Parquet), runs the job again
and counts the rows quarantined, recomputed, kept and lost, and whether the table equals the
undamaged one.

Outcomes:

* ``error``: a one-line :class:`~semcom.errors.SemcomError` naming the problem and the fix;
* ``nan+warning``: NaN for what cannot be scored, with a warning naming why;
* ``healed+warning``: a damaged file moved aside or rebuilt, the right result, a warning naming it;
* ``silent``: a result (possibly wrong: PSNR of [0, 255] data, NaN symbols, a truncated cache
  entry) with no error and no warning;
* ``valid``: not bad after all for this metric (PSNR of an 8 x 8 image is well defined);
* ``traceback``: any other exception (what a user sees as a crash).

Only public entry points are used (``get_metric``, ``build_channel``, ``load_dataset``,
``ResultStore``, ``EncodingCache``, ``ScoreMemo``, ``python -m semcom.results merge``), so the same
script measures an older checkout too: ``PYTHONPATH=/path/to/old python semcom/tools/bad_inputs.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch

OUTCOMES = ("error", "nan+warning", "healed+warning", "valid", "silent", "traceback")


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _classify(fn) -> tuple[str, str]:
    """Run ``fn`` (returns "ok", "nan" or "healed"); (outcome, detail)."""
    from semcom.errors import SemcomError

    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            result = fn()
    except SemcomError as exc:
        text = str(exc)
        return ("error" if "\n" not in text else "traceback"), text[:110]
    except SystemExit as exc:
        return ("error" if exc.code == 2 else "traceback"), f"exit {exc.code}"
    except Exception as exc:  # noqa: BLE001 - that is what is counted
        return "traceback", f"{type(exc).__name__}: {' '.join(str(exc).split())[:90]}"
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    warned = bool(handler.messages)
    detail = handler.messages[0][:110] if warned else str(result)[:110]
    if result == "nan":
        return ("nan+warning" if warned else "silent"), detail
    if result == "healed":
        return ("healed+warning" if warned else "silent"), detail
    if result == "valid":
        return "valid", detail
    return "silent", detail


# -- metrics ------------------------------------------------------------------------------------

def _metric_cases() -> dict:
    from semcom.metrics import get_metric

    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, 176, 176, generator=g)
    rec = (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    tiny = ref[..., :8, :8]
    nan_ref = ref.clone()
    nan_ref[0, 0, 0, 0] = float("nan")
    inputs = {
        "[0,255] floats": (ref * 255, rec * 255),
        "negative ([-1,1])": (ref * 2 - 1, rec * 2 - 1),
        "NaN in reference": (nan_ref, rec),
        "shape mismatch": (ref, rec[..., :160]),
        "8x8 image": (tiny, tiny.clone()),
    }
    cases = {}
    for name in ("psnr", "ssim", "ms_ssim", "lpips"):
        for what, (a, b) in inputs.items():
            def run(name=name, a=a, b=b):
                out = get_metric(name)(a, b)
                if not torch.isfinite(out).all():
                    return "nan"
                return "valid" if name == "psnr" and a.shape[-1] == 8 else f"{out.flatten()[0].item():.4g}"
            cases[f"metric {name}: {what}"] = run
    return cases


# -- channels -----------------------------------------------------------------------------------

def _channel_cases() -> dict:
    from semcom.channels import build_channel

    x = torch.randn(2, 64, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    inputs = {"snr_db=nan": (x, float("nan")), "snr_db=inf": (x, float("inf")),
              "real symbols": (x.real.contiguous(), 5.0), "NaN symbols": (x * float("nan"), 5.0)}
    cases = {}
    for name in ("awgn", "rayleigh_block"):
        for what, (sym, snr) in inputs.items():
            def run(name=name, sym=sym, snr=snr):
                y = build_channel(name)(sym, snr, torch.Generator().manual_seed(1)).y
                return "nan" if not torch.isfinite(torch.view_as_real(y) if y.is_complex() else y).all() else "symbols"
            cases[f"channel {name}: {what}"] = run
    return cases


# -- dataset files ------------------------------------------------------------------------------

def _dataset_cases(tmp: Path) -> dict:
    from PIL import Image

    from semcom.datasets import load_dataset

    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)) for _ in range(3)]
    good = tmp / "good.png"
    frames[0].save(good)

    def folder_with(name: str, write) -> Path:
        d = tmp / f"ds_{len(list(tmp.iterdir()))}"
        d.mkdir()
        write(d / name)
        return d

    makers = {
        "zero-byte PNG": ("a.png", lambda p: p.write_bytes(b"")),
        "truncated PNG": ("a.png", lambda p: p.write_bytes(good.read_bytes()[:200])),
        "text file named .png": ("a.png", lambda p: p.write_text("not an image")),
        "animated GIF": ("a.gif", lambda p: frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)),
        "APNG (3 frames)": ("a.png", lambda p: frames[0].save(p, save_all=True, append_images=frames[1:], format="PNG")),
        "multi-page TIFF": ("a.tiff", lambda p: frames[0].save(p, save_all=True, append_images=frames[1:])),
    }
    cases = {}
    for what, (name, write) in makers.items():
        def run(name=name, write=write):
            ds = load_dataset("folder", str(folder_with(name, write)), convert=True)
            return f"{len(ds)} image(s), first frame used" if len(ds) else "no images"
        cases[f"dataset: {what}"] = run
    return cases


# -- stores and caches --------------------------------------------------------------------------

def _small_store(tmp: Path) -> Path:
    """A run folder holding a real job's result store (1 image x 2 SNR points, PSNR)."""
    from PIL import Image

    from semcom.runner.config import compose
    from semcom.runner.job import run_job

    imgs = tmp / "imgs"
    imgs.mkdir()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(imgs / "a.png")
    cfg = compose(["pipeline=jpeg_capacity", "channel=awgn", "dataset=folder", f"dataset.path={imgs}", "ratio=1/16",
                   "metrics=[psnr]", "plots=false", "snr_db=[3,9]"])
    with contextlib.redirect_stderr(io.StringIO()):
        run_job(cfg, tmp / "run", progress=False)
    return tmp / "run"


def _store_cases(tmp: Path) -> dict:
    from semcom.store.parts import PARTS_DIR, ResultStore

    base = _small_store(tmp)
    n_rows = len(ResultStore(base / PARTS_DIR).load())

    def damaged(damage) -> Path:
        run = tmp / f"run_{len(list(tmp.glob('run_*')))}"
        shutil.copytree(base, run)
        part = ResultStore(run / PARTS_DIR).parts()[0]
        ResultStore(run / PARTS_DIR).append(ResultStore(run / PARTS_DIR).load().iloc[:1])  # a good part beside it
        damage(part)
        return run

    def load(damage):
        def run():
            d = damaged(damage)
            df = ResultStore(d / PARTS_DIR).load()
            moved = (d / PARTS_DIR / "quarantine").is_dir()
            return "healed" if moved and len(df) == 1 else f"{len(df)} of {n_rows} rows, nothing moved aside"
        return run

    def merge(damage):
        def run():
            from semcom.results import main

            d = damaged(damage)
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(["merge", str(d), "--no-plots"])
            if code:
                raise SystemExit(code)
            return "healed" if (d / PARTS_DIR / "quarantine").is_dir() else "merged"
        return run

    def zero(p: Path):
        p.write_bytes(b"")

    def cut(p: Path):
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])

    return {
        "store: zero-byte part, load": load(zero),
        "store: truncated part, load": load(cut),
        "store: zero-byte part, results merge": merge(zero),
        "store: truncated part, results merge": merge(cut),
    }


def _cache_cases(tmp: Path) -> dict:
    from semcom.codecs import build_codec
    from semcom.codecs.cache import EncodingCache
    from semcom.runner.score_memo import ScoreMemo

    codec = build_codec("jpeg")
    img = np.random.default_rng(2).integers(0, 255, (32, 48, 3), dtype=np.uint8)

    def cache_case(damage):
        def run():
            d = tmp / f"enc_{len(list(tmp.glob('enc_*')))}"
            first = EncodingCache(disk_dir=d).encode(codec, img, 50).data
            (path,) = list(d.rglob("*.bin"))
            damage(path)
            again = EncodingCache(disk_dir=d).encode(codec, img, 50).data
            return "healed" if again == first else f"{len(again)} of {len(first)} bytes returned"
        return run

    def flip(p: Path):
        b = bytearray(p.read_bytes())
        b[len(b) // 2] ^= 0xFF
        p.write_bytes(bytes(b))

    def memo_case():
        d = tmp / "scores"
        memo = ScoreMemo(d)
        memo.put(("psnr", "t", "{}", "a", "b"), {"psnr": 30.0})
        memo.flush()
        (d / "part-bad.pkl").write_bytes(b"\x80\x05garbage")
        ScoreMemo(d).load()
        return "healed" if (d / "quarantine" / "part-bad.pkl").is_file() else "skipped, left in place"

    return {
        "encoding cache: truncated entry": cache_case(lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
        "encoding cache: one byte flipped": cache_case(flip),
        "encoding cache: zero-byte entry": cache_case(lambda p: p.write_bytes(b"")),
        "score memo: garbage part": memo_case,
    }


def recovery() -> dict:
    """Damage 3 of 6 parts of a real job's store, resume it; the counts (see the module docstring)."""
    import pandas as pd
    from PIL import Image

    from semcom.runner.config import compose
    from semcom.runner.job import run_job
    from semcom.store.keys import KEY_COLUMNS
    from semcom.store.parts import PARTS_DIR, ResultStore

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="semcom-heal-") as tmp:
        root = Path(tmp)
        (root / "imgs").mkdir()
        rng = np.random.default_rng(3)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)).save(root / "imgs" / f"i{i}.png")
        cfg = compose(["pipeline=jpeg_capacity", "channel=rayleigh_block", "dataset=folder", f"dataset.path={root / 'imgs'}",
                       "ratio=1/16", "metrics=[psnr,ssim]", "plots=false", "snr_db=[1,5,9]", "batch_size=1"])
        run, parts_dir = root / "run", root / "run" / PARTS_DIR
        quiet = contextlib.redirect_stderr(io.StringIO())

        def rows():
            df = ResultStore(parts_dir).load()
            cols = [c for c in df.columns if c in KEY_COLUMNS or c in ("psnr", "ssim", "bits")]
            return df[cols].sort_values(list(KEY_COLUMNS)).reset_index(drop=True)

        with quiet:
            run_job(cfg, run, progress=False)
            before = rows()
            table = pd.concat([pd.read_parquet(p) for p in ResultStore(parts_dir).parts()], ignore_index=True)
            for p in ResultStore(parts_dir).parts():
                p.unlink()
            parts = [ResultStore(parts_dir).append(table.iloc[i : i + 2]) for i in range(0, len(table), 2)]
            damaged = {0: b"", 2: None, 4: b"not parquet"}
            for i, content in damaged.items():
                parts[i].write_bytes(parts[i].read_bytes()[: parts[i].stat().st_size // 3] if content is None else content)
            damaged_rows = sum(len(table.iloc[i : i + 2]) for i in damaged)
            run_job(cfg, run, progress=False)  # resume: reads the store (quarantine), recomputes what is missing
            after = rows()
        merged = before.merge(after, how="left", on=list(KEY_COLUMNS), indicator=True)
        quarantined = sorted((parts_dir / "quarantine").iterdir()) if (parts_dir / "quarantine").is_dir() else []
        return {"rows": len(before), "parts": len(parts), "damaged parts": len(damaged), "rows in damaged parts": damaged_rows,
                "files quarantined": len(quarantined), "rows kept": len(before) - damaged_rows, "rows recomputed": len(after) - (len(before) - damaged_rows),
                "rows after": len(after), "rows lost": int((merged["_merge"] == "left_only").sum()),
                "table equal to the undamaged one": bool(after.equals(before))}


def measure() -> dict[str, tuple[str, str]]:
    """{case: (outcome, detail)} for every bad input."""
    torch.set_num_threads(1)
    out = {}
    with tempfile.TemporaryDirectory(prefix="semcom-bad-") as tmp:
        tmp = Path(tmp)
        groups = [_metric_cases, _channel_cases, lambda: _dataset_cases(tmp / "data"), lambda: _store_cases(tmp / "store"),
                  lambda: _cache_cases(tmp / "cache")]
        for sub in ("data", "store", "cache"):
            (tmp / sub).mkdir()
        for group in groups:
            for name, fn in group().items():
                out[name] = _classify(fn)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.tools.bad_inputs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write {case: outcome} to this file")
    parser.add_argument("--recovery", action="store_true", help="also damage a real store and resume it (about 10 s)")
    args = parser.parse_args(argv)
    results = measure()
    width = max(len(k) for k in results)
    print(f"{'bad input':<{width}}  {'outcome':<15}  detail")
    for name, (outcome, detail) in results.items():
        print(f"{name:<{width}}  {outcome:<15}  {detail}")
    counts = Counter(o for o, _ in results.values())
    print(f"\n{len(results)} bad inputs: " + ", ".join(f"{o} {counts.get(o, 0)}" for o in OUTCOMES))
    if args.recovery:
        print("\nrecovery: " + "; ".join(f"{k} {v}" for k, v in recovery().items()))
    if args.json:
        Path(args.json).write_text(json.dumps({k: v[0] for k, v in results.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
