"""One job: every image x every SNR point of one (pipeline, channel, ratio, seed), scored.

:func:`run_job` is Hydra-free (it takes a config mapping and an output folder), so it serves
``python -m semcom.run`` and Python users alike. Rows are appended to a result store
(``<results dir>/results.parts/``: the run folder, the sweep folder shared by all jobs of a
multirun, or ``results_dir``) after every batch; on completion the job's ``results.parquet``,
``summary.csv`` and figures are written into its output folder. A re-run against the same store
skips the keys already there and scored with every requested metric (``force=true`` recomputes).

Images are processed batch by batch, every SNR point of a batch in turn, so the reference side of
a per-image metric (LPIPS/DISTS features) is prepared once per batch (and remembered across the
jobs of a sweep, see semcom.set_points). Set metrics (FID, KID, IS) store per-image features in
``<results dir>/features.parts/`` and are computed per point at the end into ``points.parquet``.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from semcom.channels import build_channel
from semcom.codecs.base import ENCODINGS
from semcom.conventions import check_snr_list, parse_ratio
from semcom.data import list_images, load_dataset
from semcom.errors import SemcomError
from semcom.interrupts import InterruptGuard
from semcom.metrics import metric_list, select_metrics
from semcom.pipeline import FALLBACKS, build_pipeline
from semcom.randomness import generator, image_seed
from semcom.devices import select_device
from semcom import score_memo
from semcom.reconstructions import ReconstructionWriter, select_images
from semcom.results import PARTS_DIR, ResultStore, key_list, row_key, write_outputs
from semcom.set_points import RECONSTRUCTION, FeatureStore, compute_points, key_text, reference_state, take

log = logging.getLogger(__name__)


def resolve_device(name: str, job_num: int | None = None) -> torch.device:
    """The job's device: see :func:`semcom.devices.select_device` (``auto`` spreads jobs over GPUs)."""
    return select_device(name, job_num)


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
        raise SemcomError(f"batch_size={batch!r} must be a positive integer: e.g. batch_size=8")
    force = cfg.get("force", False)
    if not isinstance(force, bool):
        raise SemcomError(f"force={force!r} is not a boolean: give force=true or force=false")
    results_dir = cfg.get("results_dir")
    if results_dir is not None and (not isinstance(results_dir, str) or not results_dir.strip()):
        raise SemcomError(f"results_dir={results_dir!r} is not a folder: give results_dir=DIR, or null for the run folder")
    check_dataset(cfg["dataset"])
    recon = cfg.get("save_reconstructions")
    if recon is not None and not isinstance(recon, (bool, int, str, list, tuple)):
        raise SemcomError(f"save_reconstructions={recon!r} is not understood: give null, a count N, true, or a list of image names")
    references = plot_references(cfg)
    return {
        "snr_db": check_snr_list(cfg["snr_db"]),
        "ratio": parse_ratio(cfg["ratio"]),
        "metrics": metrics if isinstance(metrics, str) else list(metrics),
        "seed": seed,
        "fallback": fallback,
        "batch_size": batch,
        "force": force,
        "results_dir": results_dir,
        "save_reconstructions": recon,
        "references": references,
    }


def plot_references(cfg: Mapping) -> list[str]:
    """The published curves ``plot.references`` names (checked against semcom.published); [] when unset."""
    from semcom.published import check_spec

    plot = cfg.get("plot") or {}
    if not isinstance(plot, Mapping):
        raise SemcomError(f"plot={plot!r} is not a mapping: give e.g. plot.references=[auto]")
    return check_spec(plot.get("references"))


def check_dataset(ds) -> None:
    """Cheap checks of the dataset node before anything runs (names, folder, limit); the images
    themselves are read and checked by :func:`semcom.data.load_dataset`."""
    if not isinstance(ds, Mapping):
        raise SemcomError(f"dataset={ds!r} is not a dataset config: choose dataset=builtin, kodak or folder")
    name = ds.get("name", "builtin")
    if name not in ("builtin", "kodak", "folder"):
        raise SemcomError(f"unknown dataset {name!r}: choose builtin, kodak, or folder with dataset.path=DIR")
    limit = ds.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise SemcomError(f"dataset.limit={limit!r} must be a positive number of images: give dataset.limit=N, or null for all")
    if name == "folder":
        if not ds.get("path"):
            raise SemcomError("dataset=folder needs a folder: add dataset.path=/path/to/images")
        list_images(ds["path"])  # missing, not a folder, or no image files: one line


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


def run_job(
    cfg: Mapping,
    out_dir: str | Path,
    progress: bool = True,
    force: bool | None = None,
    store_dir: str | Path | None = None,
    job_num: int | None = None,
    plots: bool | None = None,
) -> pd.DataFrame:
    """Run one job and write its outputs into ``out_dir``; return the per-image table.

    Rows are appended after every batch to the result store ``<store_dir>/results.parts``
    (``store_dir``: the argument, else ``cfg.results_dir``, else ``out_dir``); the rows of this
    job's keys are then written to ``out_dir`` as ``results.parquet`` and ``summary.csv`` (and
    figures when ``plots``, default ``cfg.plots``). Keys already in the store are skipped unless
    ``force`` (default ``cfg.force``), as long as the stored row has every requested metric
    (with the same checkpoint) and, for images in ``save_reconstructions``, its PNG exists.
    A store that holds rows of this pipeline name made with other parameters is
    refused (the rows could not be told apart): give the variant its own ``pipeline.name``, or
    recompute with ``force``. ``job_num`` (the Hydra multirun job index) picks the GPU for
    ``device=auto`` (see :mod:`semcom.devices`).
    """
    plain = _plain(cfg)
    v = validate(plain)
    force = v["force"] if force is None else bool(force)
    plots = bool(plain.get("plots", True)) if plots is None else bool(plots)
    device = resolve_device(plain.get("device", "auto"), job_num)
    ds_cfg = dict(plain["dataset"])
    dataset = load_dataset(ds_cfg.get("name", "builtin"), ds_cfg.get("path"), ds_cfg.get("limit"), bool(ds_cfg.get("convert", False)))
    plain["pipeline"] = fill_checkpoint_name(plain["pipeline"], plain["channel"].get("name", ""), v["ratio"])
    pipeline = build_pipeline(plain["pipeline"], ratio=v["ratio"], fallback=v["fallback"], device=device)
    channel = build_channel(plain["channel"]).to(device)
    metric_params = dict(plain.get("metric_params") or {})
    metrics, skipped = select_metrics(v["metrics"], metric_params or None)
    for name, why in skipped.items():
        log.warning("metric %s skipped: %s", name, why)
    per_image = [m for m in metrics if m.per_image]
    set_metrics = [m for m in metrics if not m.per_image]
    extractors = {}  # feature_id -> the set metric that computes those features (FID and KID share)
    for m in set_metrics:
        extractors.setdefault(m.feature_id, m)
    quantize_out = bool(plain.get("quantize", True))

    out_dir = Path(out_dir)
    store_root = Path(store_dir or v["results_dir"] or out_dir)
    store = ResultStore(store_root / PARTS_DIR)
    ENCODINGS.follow_store(store_root / "encodings")  # source encodings shared by the jobs of a sweep
    features = FeatureStore(store_root / "features.parts")
    if force:
        score_memo.clear()
    else:
        score_memo.follow_store(store_root / "scores")  # scores other jobs of the sweep computed
    checkpoint = str(plain["pipeline"].get("checkpoint") or "")
    metric_checkpoints = {m.name: m.checkpoint for m in metrics}
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
        "metric_checkpoints": json.dumps(metric_checkpoints, sort_keys=True),
        "device": str(device),
    }
    stored = store.load()
    check_store_consistent(stored, common, quantize_out, store_root, force)
    done = set() if force else done_keys(stored, metric_checkpoints)
    del stored
    stored_features = {} if force or not set_metrics else features.load()
    recon = ReconstructionWriter(store_root / "reconstructions", select_images(v["save_reconstructions"], [it.name for it in dataset.items]))

    def is_done(key, key_row) -> bool:
        """Row stored and scored by every requested metric (same weights), features and PNG stored."""
        if key not in done or recon.missing(key_row):
            return False
        return all((fid, RECONSTRUCTION, key_text(key)) in stored_features for fid in extractors)

    with InterruptGuard() as guard:  # Ctrl-C stops the job even when its KeyboardInterrupt is swallowed
        _prepare(pipeline, dataset, [(snr, it) for snr in v["snr_db"] for it in dataset.items], common, is_done, channel, v["seed"], device)
        written = []
        bar = tqdm(total=len(dataset) * len(v["snr_db"]), desc=f"{pipeline.name} | {channel.label}", unit="img", disable=not progress)
        for batch in _batches(dataset.items, v["batch_size"]):
            guard.check()
            images = ref_ids = None
            states = {}  # per-image metric -> reference state of the whole batch
            cells = []  # (snr, index in batch, key) of every cell still to compute
            for snr in v["snr_db"]:
                for j, it in enumerate(batch):
                    key_row = {**common, "image": it.name, "snr_db": float(snr)}
                    key = row_key(key_row)
                    if is_done(key, key_row):
                        bar.update(1)
                    else:
                        cells.append((float(snr), j, key))
            # batch_size cells per pipeline call and metric pass, across SNR points (SNR-major order)
            for start in range(0, len(cells), v["batch_size"]):
                guard.check()
                group = cells[start : start + v["batch_size"]]
                if images is None:
                    images = torch.stack([it.image for it in batch]).to(device)
                index = [c[1] for c in group]
                todo = [batch[j] for j in index]
                snrs = [c[0] for c in group]
                keys = [c[2] for c in group]
                sub = images if index == list(range(len(batch))) else images[torch.as_tensor(index, device=device)]
                rngs = [generator(image_seed(v["seed"], dataset.name, it.name, channel.name, s), device) for it, s in zip(todo, snrs)]
                snr_arg = snrs[0] if len(set(snrs)) == 1 else torch.tensor(snrs, dtype=torch.float32, device=device)
                with torch.no_grad():
                    tx = pipeline.transmit(sub, snr_arg, channel, rngs)
                rec = tx.reconstructions.to(device)
                if not torch.isfinite(rec).all():
                    at = ", ".join(str(x) for x in sorted(set(snrs)))
                    raise SemcomError(f"pipeline {pipeline.name} returned NaN/Inf pixels at SNR {at} dB: this is a bug in the pipeline, please report it")
                rec = quantize(rec) if quantize_out else rec.clamp(0, 1)
                if ref_ids is None:
                    ref_ids = [score_memo.content_digest(img) for img in images]
                rec_ids = [score_memo.content_digest(r) for r in rec]
                scores = _score_per_image(per_image, metric_params, states, images, [ref_ids[j] for j in index], index, rec, rec_ids)
                texts = [key_text(k) for k in keys]
                for fid, m in extractors.items():
                    feats = _set_features(fid, m, rec, rec_ids)
                    features.append(fid, RECONSTRUCTION, texts, feats)
                    for text, f in zip(texts, feats):
                        stored_features[(fid, RECONSTRUCTION, text)] = f.float().numpy()
                _, _, height, width = sub.shape
                rows = []
                for j, item in enumerate(todo):
                    bits, uses = int(tx.bits[j]), int(tx.channel_uses[j])
                    row = {
                        **common,
                        "image": item.name,
                        "snr_db": snrs[j],
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
                    recon.save(row, rec[j], sub[j], metrics=list(scores))
                written.append(store.append(rows))
                bar.update(len(todo))
        bar.close()
        guard.check()  # a swallowed interrupt during the last cell: the job is not reported finished
    # One part per finished job keeps a shared store quick to read for the jobs that follow.
    store.compact(written)
    score_memo.flush()

    wanted = {row_key({**common, "image": it.name, "snr_db": float(snr)}) for snr in v["snr_db"] for it in dataset.items}
    df = store.load()
    df = df[[k in wanted for k in key_list(df)]].reset_index(drop=True)
    point_rows = [
        ({"dataset": dataset.name, "pipeline": pipeline.name, "checkpoint": checkpoint, "channel": channel.label,
          "ratio": v["ratio"], "snr_db": float(snr), "seed": v["seed"]},
         [key_text(row_key({**common, "image": it.name, "snr_db": float(snr)})) for it in dataset.items])
        for snr in v["snr_db"]
    ]
    points = compute_points(set_metrics, stored_features, features, dataset.items, dataset.name, point_rows, device)
    write_outputs(df, out_dir, plots=plots, points=points if len(points) else None, references=v["references"])
    return df


def _score_per_image(per_image, metric_params, states, images, ref_ids, index, rec, rec_ids) -> dict[str, list[float]]:
    """Columns ``{name: [value per cell]}`` of every per-image metric for the cells of one call.

    ``images``: the batch's references (B, 3, H, W); cell i scores ``rec[i]`` against
    ``images[index[i]]`` (content digests ``ref_ids[i]``, ``rec_ids[i]``). Pairs met before in
    this process, or earlier in this call, are taken from :mod:`semcom.score_memo`; only the
    others go through the metric, as one sub-batch. ``states`` caches each metric's prepared
    reference state of the whole batch (prepared on first need).
    """
    n = len(index)
    scores: dict[str, list[float]] = {}
    for m in per_image:
        mk = score_memo.metric_key(m, metric_params.get(m.name))
        keys = [None if mk is None else (mk, a, b) for a, b in zip(ref_ids, rec_ids)]
        todo = score_memo.unique_missing(keys)
        computed = {}
        if todo:
            if m.name not in states:
                states[m.name] = reference_state(m, images)
            sub = rec if len(todo) == n else rec[torch.as_tensor(todo, device=rec.device)]
            with torch.no_grad():
                columns = m.score_columns(take(states[m.name], [index[i] for i in todo], images.shape[0]), sub)
            columns = {name: vals.cpu().tolist() for name, vals in columns.items()}
            for k, i in enumerate(todo):
                computed[i] = {name: vals[k] for name, vals in columns.items()}
                if keys[i] is not None:
                    score_memo.put(keys[i], computed[i])
        by_key = {keys[i]: v for i, v in computed.items() if keys[i] is not None}
        for i in range(n):
            values = computed[i] if i in computed else by_key.get(keys[i]) or score_memo.get(keys[i])
            for name, value in values.items():
                scores.setdefault(name, [math.nan] * n)[i] = value
    return scores


def _set_features(feature_id: str, metric, rec: torch.Tensor, rec_ids: list[str]) -> torch.Tensor:
    """(N, D) float64 features of the reconstructions, those of contents met before taken from
    :mod:`semcom.score_memo` (the features of a set metric depend on the image alone)."""
    keys = [("features", feature_id, r) for r in rec_ids]
    todo = score_memo.unique_missing(keys)
    computed = {}
    if todo:
        feats = metric.features(rec if len(todo) == len(keys) else rec[torch.as_tensor(todo, device=rec.device)])
        for k, i in enumerate(todo):
            computed[keys[i]] = feats[k].clone()
            score_memo.put(keys[i], computed[keys[i]])
    return torch.stack([computed[k] if k in computed else score_memo.get(k) for k in keys])


def _prepare(pipeline, dataset, cells, common, is_done, channel, seed, device) -> None:
    """Let a pipeline that decides per SNR over the whole dataset (``prepare``) see it first.

    Used by the best-MCS envelope (:class:`semcom.chains.separate.SeparateChain` with
    ``mcs=best``); only SNR points that still have rows to compute are prepared. ``cells`` are
    (snr_db, item) pairs; ``is_done(key, key_row)`` tells a finished row.
    """
    prepare = getattr(pipeline, "prepare", None)
    if prepare is None:
        return
    pending = set()
    for snr, it in cells:
        key_row = {**common, "image": it.name, "snr_db": float(snr)}
        if not is_done(row_key(key_row), key_row):
            pending.add(float(snr))
    if not pending:
        return
    items = dataset.items

    def rng_for(i: int, snr: float) -> torch.Generator:
        return generator(image_seed(seed, dataset.name, items[i].name, channel.name, snr), device)

    with torch.no_grad():
        prepare([it.image for it in items], sorted(pending), channel, rng_for)


def fill_checkpoint_name(pipe_cfg: dict, channel_name: str, ratio: float) -> dict:
    """Fill ``{channel}`` and ``{ratio}`` in a pipeline's ``checkpoint`` name.

    ``checkpoint: deepjscc-{channel}-r{ratio}`` picks, per job, the checkpoint trained for the
    job's channel and bandwidth ratio (``deepjscc-rayleigh_block-r1_16``), so one sweep over
    channels and ratios uses the matching model each time. ``{ratio}`` is written as in the
    shipped names (1/16 -> ``1_16``). Other names are returned unchanged.
    """
    name = pipe_cfg.get("checkpoint")
    if not isinstance(name, str) or "{" not in name:
        return pipe_cfg
    frac = Fraction(ratio).limit_denominator(1000)
    tag = f"{frac.numerator}_{frac.denominator}"
    try:
        filled = name.format(channel=channel_name, ratio=tag)
    except (KeyError, IndexError, ValueError) as exc:
        raise SemcomError(f"pipeline.checkpoint={name!r} has a bad placeholder ({exc}): only {{channel}} and {{ratio}} are filled in") from None
    return {**pipe_cfg, "checkpoint": filled}


def done_keys(stored: pd.DataFrame, metric_checkpoints: dict[str, str | None]) -> set[tuple]:
    """Keys of stored rows that already have every wanted metric, with the same checkpoint."""
    if not len(stored):
        return set()
    if "metric_checkpoints" not in stored.columns:
        return set()
    ok_by_text = {}
    for text in stored["metric_checkpoints"].dropna().unique():
        have = json.loads(text)
        ok_by_text[text] = all(name in have and have[name] == ck for name, ck in metric_checkpoints.items())
    ok = stored["metric_checkpoints"].map(lambda t: ok_by_text.get(t, False)).tolist()
    return {k for k, good in zip(key_list(stored), ok) if good}


def _json_diff(a: str, b: str) -> str:
    """``key: stored -> now`` for the top-level keys where two JSON objects differ."""
    try:
        da, db = json.loads(a), json.loads(b)
    except (TypeError, ValueError):
        return f"{a} -> {b}"
    keys = sorted(set(da) | set(db))
    return ", ".join(f"{k}: {da.get(k)!r} -> {db.get(k)!r}" for k in keys if da.get(k) != db.get(k))


def check_store_consistent(stored: pd.DataFrame, common: dict, quantize_out: bool, root: Path, force: bool) -> None:
    """Refuse to mix rows of one pipeline name made with different settings.

    The key names a pipeline by ``name`` (+ checkpoint); rows of ``jpeg_ldpc`` with ``qam=4`` and
    ``qam=16`` in one store could not be told apart, and a resumed job would skip keys computed
    with other settings. (A channel is keyed by its label, which already names its non-default
    settings: ``rayleigh_block[coherence=64]``.) ``force`` recomputes anyway (the new rows
    supersede the old ones at the same keys).
    """
    if not len(stored) or force:
        return
    ckpt = stored["checkpoint"].fillna("") if "checkpoint" in stored.columns else ""
    same_pipe = stored[(stored["pipeline"] == common["pipeline"]) & (ckpt == common["checkpoint"])]
    fix = "give this variant its own name (e.g. pipeline.name=...), use another results_dir or hydra.sweep.dir, or force=true to recompute"
    if "pipeline_params" in same_pipe.columns:
        for text in same_pipe["pipeline_params"].dropna().unique():
            if text != common["pipeline_params"]:
                raise SemcomError(f"{root} already holds rows of pipeline {common['pipeline']!r} with other parameters "
                                  f"({_json_diff(text, common['pipeline_params'])}): {fix}")
        for text in same_pipe["config"].dropna().unique() if "config" in same_pipe.columns else ():
            q = json.loads(text).get("quantize", True)
            if bool(q) != quantize_out:
                raise SemcomError(f"{root} already holds rows of pipeline {common['pipeline']!r} scored with quantize={q}: {fix}")


def _finite_or_nan(x: float) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else float("nan")
