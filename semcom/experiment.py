"""One job: every image x every SNR point of one (pipeline, channel, ratio, seed), scored.

:func:`run_job` is Hydra-free (it takes a config mapping and an output folder), so it serves
``python -m semcom.run`` and Python users alike. Rows are appended to
``<out>/results.parts/`` after every batch; on completion ``results.parquet``, ``summary.csv`` and
the figures are written. A re-run into the same folder skips rows already present (and scored
with every requested metric).

Images are processed batch by batch, every SNR point of a batch in turn, so the reference side of
a per-image metric (LPIPS/DISTS features) is prepared once per batch (and remembered across the
jobs of a sweep, see semcom.set_points). Set metrics (FID, KID, IS) store per-image features in
``<out>/features.parts/`` and are computed per point at the end into ``points.parquet``.
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
from semcom.metrics import metric_list, select_metrics
from semcom.pipeline import FALLBACKS, build_pipeline
from semcom.randomness import generator, image_seed
from semcom.results import ResultStore, row_key, write_outputs
from semcom.set_points import RECONSTRUCTION, FeatureStore, compute_points, key_text, reference_state, take

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
    metric_list(metrics)  # raises on an empty list or an unknown name, listing the valid ones
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
        "metrics": metrics if isinstance(metrics, str) else list(metrics),
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
    metrics, skipped = select_metrics(v["metrics"])
    for name, why in skipped.items():
        log.warning("metric %s skipped: %s", name, why)
    per_image = [m for m in metrics if m.per_image]
    set_metrics = [m for m in metrics if not m.per_image]
    extractors = {}  # feature_id -> the set metric that computes those features (FID and KID share)
    for m in set_metrics:
        extractors.setdefault(m.feature_id, m)
    quantize_out = bool(plain.get("quantize", True))

    out_dir = Path(out_dir)
    store = ResultStore(out_dir / "results.parts")
    features = FeatureStore(out_dir / "features.parts")
    done = {} if force else _scored_rows(store)
    stored = {} if force or not set_metrics else features.load()
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
    wanted_checkpoints = {m.name: m.checkpoint for m in metrics}

    def is_done(key) -> bool:
        """Row stored, scored by every requested metric with the same weights, features stored."""
        scored = done.get(key)
        if scored is None or any(scored.get(name, _MISSING) != ckpt for name, ckpt in wanted_checkpoints.items()):
            return False
        return all((fid, RECONSTRUCTION, key_text(key)) in stored for fid in extractors)

    batches = list(_batches(dataset.items, v["batch_size"]))
    bar = tqdm(total=len(dataset) * len(v["snr_db"]), desc=f"{pipeline.name} | {channel.label}", unit="img", disable=not progress)
    for batch in batches:
        images = None
        states = {}  # per-image metric -> reference state of the whole batch
        for snr in v["snr_db"]:
            keys = [row_key({**common, "image": it.name, "snr_db": snr}) for it in batch]
            index = [j for j, key in enumerate(keys) if not is_done(key)]
            bar.update(len(batch) - len(index))
            if not index:
                continue
            if images is None:
                images = torch.stack([it.image for it in batch]).to(device)
            todo = [batch[j] for j in index]
            sub = images[torch.as_tensor(index, device=device)] if len(index) < len(batch) else images
            rngs = [generator(image_seed(v["seed"], dataset.name, it.name, channel.name, snr), device) for it in todo]
            with torch.no_grad():
                tx = pipeline.transmit(sub, snr, channel, rngs)
            rec = tx.reconstructions.to(device)
            if not torch.isfinite(rec).all():
                raise SemcomError(f"pipeline {pipeline.name} returned NaN/Inf pixels at SNR {snr} dB: this is a bug in the pipeline, please report it")
            rec = quantize(rec) if quantize_out else rec.clamp(0, 1)
            scores = {}
            for m in per_image:
                if m.name not in states:
                    states[m.name] = reference_state(m, images)
                with torch.no_grad():
                    scores[m.name] = m.score(take(states[m.name], index, len(batch)), rec).cpu().tolist()
            texts = [key_text(keys[j]) for j in index]
            for fid, m in extractors.items():
                feats = m.features(rec)
                features.append(fid, RECONSTRUCTION, texts, feats)
                for text, f in zip(texts, feats):
                    stored[(fid, RECONSTRUCTION, text)] = f.float().numpy()
            _, _, height, width = sub.shape
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
    point_rows = [
        ({"dataset": dataset.name, "pipeline": pipeline.name, "checkpoint": checkpoint, "channel": channel.label,
          "ratio": v["ratio"], "snr_db": float(snr), "seed": v["seed"]},
         [key_text(row_key({**common, "image": it.name, "snr_db": snr})) for it in dataset.items])
        for snr in v["snr_db"]
    ]
    points = compute_points(set_metrics, stored, features, dataset.items, dataset.name, point_rows, device)
    write_outputs(df, out_dir, plots=bool(plain.get("plots", True)), points=points if len(points) else None)
    return df


_MISSING = object()


def _scored_rows(store: ResultStore) -> dict[tuple, dict]:
    """{row key: {metric name: checkpoint}} for the stored rows (their ``metric_checkpoints``)."""
    df = store.load()
    if not len(df):
        return {}
    out = {}
    recorded = df["metric_checkpoints"] if "metric_checkpoints" in df.columns else [None] * len(df)
    for rec, text in zip(df.to_dict("records"), recorded):
        try:
            scored = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            scored = {}
        out[row_key(rec)] = scored
    return out


def _finite_or_nan(x: float) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else float("nan")
