"""One job: every image x every SNR point of one (pipeline, channel, ratio, seed), scored.

:func:`run_job` is Hydra-free (it takes a config mapping and an output folder), so it serves
``python -m semcom.run`` and Python users alike. Rows are appended to
``<out>/results.parts/`` after every batch; on completion ``results.parquet``, ``summary.csv`` and
the figures are written. A re-run into the same folder skips rows already present.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from semcom.channels import build_channel
from semcom.conventions import check_snr_list, parse_ratio
from semcom.data import load_dataset
from semcom.errors import SemcomError
from semcom.metrics import get_metric
from semcom.pipeline import FALLBACKS, build_pipeline
from semcom.randomness import generator, image_seed
from semcom.results import ResultStore, row_key, write_outputs

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; otherwise the named device (checked)."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SemcomError(f"device={name} but no CUDA GPU is available: use device=cpu or device=auto")
    return dev


def _plain(cfg) -> dict:
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)
    return dict(cfg)


def validate(cfg: Mapping) -> dict:
    """Check the top-level settings of a job config; return the parsed values."""
    cfg = _plain(cfg)
    for key in ("pipeline", "channel", "dataset", "metrics", "snr_db", "ratio", "seed"):
        if key not in cfg:
            raise SemcomError(f"config has no {key!r}: run through python -m semcom.run, or give {key}=...")
    metrics = cfg["metrics"]
    if isinstance(metrics, str):
        metrics = [metrics]
    if not metrics:
        raise SemcomError("metrics is empty: choose at least one, e.g. metrics=[psnr,ssim,ms_ssim]")
    for name in metrics:
        get_metric(name)  # raises with the list of valid names
    fallback = cfg.get("fallback", "grey")
    if fallback not in FALLBACKS:
        raise SemcomError(f"fallback={fallback!r} is unknown: choose one of {', '.join(FALLBACKS)}")
    try:
        seed = int(cfg["seed"])
    except (TypeError, ValueError):
        raise SemcomError(f"seed={cfg['seed']!r} is not an integer: e.g. seed=0") from None
    batch = cfg.get("batch_size", 8)
    if not isinstance(batch, int) or batch < 1:
        raise SemcomError(f"batch_size={batch!r} must be a positive integer")
    return {
        "snr_db": check_snr_list(cfg["snr_db"]),
        "ratio": parse_ratio(cfg["ratio"]),
        "metrics": list(metrics),
        "seed": seed,
        "fallback": fallback,
        "batch_size": batch,
    }


def _batches(items, size: int):
    """Images grouped by shape (a batch must be one tensor), at most ``size`` per batch."""
    by_shape = defaultdict(list)
    for item in items:
        by_shape[tuple(item.image.shape)].append(item)
    for group in by_shape.values():
        for start in range(0, len(group), size):
            yield group[start : start + size]


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] and round to 8 bits (what a receiver displays)."""
    return (images.clamp(0, 1) * 255.0).round() / 255.0


def run_job(cfg: Mapping, out_dir: str | Path, progress: bool = True, force: bool = False) -> pd.DataFrame:
    """Run one job and write its outputs into ``out_dir``; return the per-image table."""
    plain = _plain(cfg)
    v = validate(plain)
    device = resolve_device(plain.get("device", "auto"))
    ds_cfg = dict(plain["dataset"])
    dataset = load_dataset(ds_cfg.get("name", "builtin"), ds_cfg.get("path"), ds_cfg.get("limit"), bool(ds_cfg.get("convert", False)))
    pipeline = build_pipeline(plain["pipeline"], ratio=v["ratio"], fallback=v["fallback"], device=device)
    channel = build_channel(plain["channel"]).to(device)
    metrics = [get_metric(name) for name in v["metrics"]]
    quantize_out = bool(plain.get("quantize", True))

    out_dir = Path(out_dir)
    store = ResultStore(out_dir / "results.parts")
    done = set() if force else store.keys()
    checkpoint = str(plain["pipeline"].get("checkpoint") or "")
    common = {
        "dataset": dataset.name,
        "pipeline": pipeline.name,
        "checkpoint": checkpoint,
        "channel": channel.label,
        "ratio": v["ratio"],
        "seed": v["seed"],
        "pipeline_params": json.dumps(pipeline.params(), sort_keys=True, default=str),
        "channel_params": json.dumps(plain["channel"], sort_keys=True, default=str),
        "config": json.dumps(plain, sort_keys=True, default=str),
        "metric_checkpoints": json.dumps({m.name: m.checkpoint for m in metrics}, sort_keys=True),
    }

    batches = list(_batches(dataset.items, v["batch_size"]))
    cells = [(snr, batch) for snr in v["snr_db"] for batch in batches]
    bar = tqdm(total=len(dataset) * len(v["snr_db"]), desc=f"{pipeline.name} | {channel.label}", unit="img", disable=not progress)
    for snr, batch in cells:
        todo = [it for it in batch if row_key({**common, "image": it.name, "snr_db": snr}) not in done]
        bar.update(len(batch) - len(todo))
        if not todo:
            continue
        images = torch.stack([it.image for it in todo]).to(device)
        rngs = [generator(image_seed(v["seed"], dataset.name, it.name, channel.name, snr), device) for it in todo]
        with torch.no_grad():
            tx = pipeline.transmit(images, snr, channel, rngs)
        rec = tx.reconstructions.to(device)
        if not torch.isfinite(rec).all():
            raise SemcomError(f"pipeline {pipeline.name} returned NaN/Inf pixels at SNR {snr} dB: this is a bug in the pipeline, please report it")
        rec = quantize(rec) if quantize_out else rec.clamp(0, 1)
        scores = {m.name: m(images, rec).cpu().tolist() for m in metrics}
        _, _, height, width = images.shape
        rows = []
        for j, item in enumerate(todo):
            bits, uses = int(tx.bits[j]), int(tx.channel_uses[j])
            row = {
                **common,
                "image": item.name,
                "snr_db": float(snr),
                "bits": bits,
                "channel_uses": uses,
                "bpp": bits / (height * width),
                "ratio_used": uses / (3 * height * width),
                "failed": bool(tx.failed[j]),
                "height": height,
                "width": width,
            }
            row.update(channel.overhead(uses))  # pilot (and OFDM) channel uses beyond the data symbols
            row.update({k: vals[j] for k, vals in tx.extras.items()})
            row.update({name: _finite_or_nan(vals[j]) for name, vals in scores.items()})
            rows.append(row)
        store.append(rows)
        bar.update(len(todo))
    bar.close()

    wanted = {row_key({**common, "image": it.name, "snr_db": snr}) for snr in v["snr_db"] for it in dataset.items}
    df = store.load()
    df = df[[row_key(r) in wanted for r in df.to_dict("records")]].reset_index(drop=True)
    write_outputs(df, out_dir, plots=bool(plain.get("plots", True)))
    return df


def _finite_or_nan(x: float) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else float("nan")
