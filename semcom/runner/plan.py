"""Stage 1 of a job: plan. Build the job's components and decide which rows remain to compute.

:func:`plan_job` loads the dataset, builds the pipeline, the channel and the metrics from the
config (names, plugins or ``_target_`` nodes: :mod:`semcom.registry`), computes the identity of
every row the job owns (:mod:`semcom.store.keys`) and reads the result store to find the rows
already there, scored by every requested metric with the same weights and parameters, with their
set-metric features and reconstruction PNGs. ``force=true`` plans every row again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import torch

from semcom.channels import build_channel
from semcom.channels.base import Channel
from semcom.codecs.cache import store_cache
from semcom.datasets import Dataset, load_dataset
from semcom.devices import select_device
from semcom.errors import SemcomError
from semcom.metrics import select_metrics
from semcom.metrics.base import Metric
from semcom.pipelines.base import Pipeline, build_pipeline
from semcom.randomness import cell_seed, generator
from semcom.registry import qualified_name
from semcom.runner.settings import JobSettings, job_settings, plain
from semcom.store.features import FEATURES_DIR, RECONSTRUCTION, FeatureStore
from semcom.store.keys import KEY_VERSION, digest, row_id
from semcom.store.parts import PARTS_DIR, ResultStore
from semcom.store.reconstructions import ReconstructionWriter, select_images

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One row to compute: image ``item`` (index into the dataset) at ``snr_db``, ``realization``."""

    item: int
    snr_db: float
    realization: int
    row_id: str


@dataclass
class JobPlan:
    """Everything a job computes with, and the rows it owns (see the module docstring)."""

    settings: JobSettings
    config: dict
    dataset: Dataset
    pipeline: Pipeline
    channel: Channel
    metrics: list[Metric]
    device: torch.device
    store_root: Path
    common: dict
    cells: list[Cell]
    done: set[str] = field(default_factory=set)
    stored_features: dict = field(default_factory=dict)

    @property
    def store(self) -> ResultStore:
        return ResultStore(self.store_root / PARTS_DIR)

    @property
    def features(self) -> FeatureStore:
        return FeatureStore(self.store_root / FEATURES_DIR)

    def key_row(self, cell: Cell) -> dict:
        """The columns that name a cell's row (with its ``row_id``)."""
        item = self.dataset.items[cell.item]
        return {**self.common, "image": item.name, "snr_db": cell.snr_db, "realization": cell.realization,
                "row_id": cell.row_id, "image_id": item.digest}

    def generator(self, cell: Cell) -> torch.Generator:
        """The cell's own generator: noise and fading depend on the image, channel family and
        realization only, not on the SNR (common random numbers), the pipeline or the batch
        (:mod:`semcom.randomness`)."""
        item = self.dataset.items[cell.item]
        return generator(cell_seed(self.settings.seed, item.name, self.channel.name, cell.realization), self.device)

    def pending(self) -> list[Cell]:
        return [c for c in self.cells if c.row_id not in self.done]


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
    try:
        filled = name.format(channel=channel_name, ratio=f"{frac.numerator}_{frac.denominator}")
    except (KeyError, IndexError, ValueError) as exc:
        raise SemcomError(f"pipeline.checkpoint={name!r} has a bad placeholder ({exc}): only {{channel}} and {{ratio}} are filled in") from None
    return {**pipe_cfg, "checkpoint": filled}


def metric_ids(metrics: list[Metric], metric_params: dict) -> dict[str, str]:
    """``{metric name: identity}``: its import path, weights (checkpoint tag) and parameters."""
    return {m.name: f"{qualified_name(m)}|{m.checkpoint}|{digest(metric_params.get(m.name) or {}, 8)}" for m in metrics}


def _common_columns(cfg: dict, s: JobSettings, dataset: Dataset, pipeline, channel: Channel, metrics, device) -> dict:
    """Columns shared by every row of the job: names, identities, the settings as JSON."""
    params = pipeline.params()
    pipeline_identity = {"target": qualified_name(pipeline), "config": cfg["pipeline"], "params": params}
    channel_identity = {"target": qualified_name(channel), "settings": channel.settings()}
    pipeline_id, channel_id = digest(pipeline_identity), digest(channel_identity)
    return {
        "dataset": dataset.name,
        "pipeline": pipeline.name,
        "checkpoint": str(cfg["pipeline"].get("checkpoint") or ""),
        "channel": channel.label,
        "ratio": s.ratio,
        "seed": s.seed,
        "key_version": KEY_VERSION,
        "dataset_id": dataset.identity,
        "pipeline_id": pipeline_id,
        "channel_id": channel_id,
        "setup_id": digest([dataset.identity, pipeline_id, channel_id, s.quantize]),
        "pipeline_label": getattr(pipeline, "label", pipeline.name),
        "bound": bool(getattr(pipeline, "bound", False)),
        "pipeline_params": json.dumps(params, sort_keys=True, default=str),
        "channel_params": json.dumps(cfg["channel"], sort_keys=True, default=str),
        "config": json.dumps(cfg, sort_keys=True, default=str),
        "metric_ids": json.dumps(metric_ids(metrics, s.metric_params), sort_keys=True),
        "metric_info": json.dumps({m.name: m.declaration() for m in metrics}, sort_keys=True),
        "device": str(device),
    }


def _cells(s: JobSettings, dataset: Dataset, pipeline, common: dict) -> list[Cell]:
    """Every cell of the job, image by image, SNR by SNR, realization by realization."""
    dataset_digest = dataset.digest if getattr(pipeline, "uses_dataset", False) else None
    out = []
    for i, item in enumerate(dataset.items):
        for snr in s.snr_db:
            for r in range(s.realizations):
                rid = row_id(dataset_id=dataset.identity, dataset_digest=dataset_digest, image=item.name, image_id=item.digest,
                             pipeline_id=common["pipeline_id"], channel_id=common["channel_id"], snr_db=snr, ratio=s.ratio,
                             seed=s.seed, realization=r, quantize=s.quantize)
                out.append(Cell(i, float(snr), r, rid))
    return out


def done_rows(stored, wanted_metrics: dict[str, str]) -> set[str]:
    """``row_id`` of stored rows that hold every wanted metric with the same identity."""
    if not len(stored) or "metric_ids" not in stored.columns:
        return set()
    ok_by_text = {}
    for text in stored["metric_ids"].dropna().unique():
        have = json.loads(text)
        ok_by_text[text] = all(have.get(name) == ident for name, ident in wanted_metrics.items())
    ok = stored["metric_ids"].map(lambda t: ok_by_text.get(t, False))
    return set(stored.loc[ok, "row_id"])


def _object_node(obj) -> dict:
    """The config node recorded for a component given as an object (the Python API)."""
    return {"object": qualified_name(obj)}


def build_components(cfg: dict, s: JobSettings, device, store_root: Path, objects: dict) -> tuple:
    """(dataset, pipeline, channel) from the config, or the objects given in ``objects`` instead
    (``dataset``: a :class:`Dataset`; ``pipeline``: a pipeline or a :class:`JSCCModel`;
    ``channel``: a :class:`Channel`), whose config nodes then record their class."""
    from semcom.jscc.base import JSCCModel
    from semcom.pipelines.learned import LearnedPipeline
    from semcom.registry import PIPELINES

    dataset = objects.get("dataset")
    if dataset is None:
        dataset = load_dataset(cfg["dataset"])
    else:
        cfg["dataset"] = {**_object_node(dataset), "identity": dataset.identity}
    channel = objects.get("channel")
    if channel is None:
        channel = build_channel(cfg["channel"])
    else:
        cfg["channel"] = {**_object_node(channel), "name": channel.name}
    pipeline = objects.get("pipeline")
    common = {"ratio": s.ratio, "fallback": s.fallback, "device": device}
    if pipeline is None:
        cfg["pipeline"] = fill_checkpoint_name(cfg["pipeline"], cfg["channel"].get("name", ""), s.ratio)
        pipeline = build_pipeline(cfg["pipeline"], encodings=store_cache(store_root / "encodings"), **common)
    else:
        if isinstance(pipeline, JSCCModel):
            pipeline = LearnedPipeline(pipeline, name=objects.get("name"), **common)
        PIPELINES.check(pipeline)
        cfg["pipeline"] = _object_node(pipeline)
    return dataset, pipeline, channel.to(device)


#: Pipeline parameters that identify the content behind a name, not a variant of its settings.
CONTENT_PARAMS = ("checkpoint_sha256",)


def _variant(params_json: str) -> dict:
    params = json.loads(params_json)
    return {k: v for k, v in params.items() if k not in CONTENT_PARAMS}


def _json_diff(a: dict, b: dict) -> str:
    """``key: stored -> now`` for the top-level keys where two mappings differ."""
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


def check_same_name(stored, common: dict, quantize: bool, root: Path) -> None:
    """Refuse to put rows of one pipeline name made with other settings into one store.

    Rows are keyed by content, so they never mix; but figures and tables are read by name, and
    ``jpeg_ldpc`` at QAM 4 and at QAM 16 under one name would be two curves with one label. A
    changed checkpoint *file* behind the same name (retrained) is not a variant: its new rows
    supersede the old ones in reports (:func:`semcom.report.outputs.one_version`).
    """
    if not len(stored) or "pipeline_params" not in stored.columns:
        return
    same = stored[(stored["pipeline"] == common["pipeline"]) & (stored["checkpoint"].fillna("") == common["checkpoint"])]
    fix = "give this variant its own name (e.g. pipeline.name=...), use another results_dir or hydra.sweep.dir, or force=true to recompute"
    now = _variant(common["pipeline_params"])
    for text in same["pipeline_params"].dropna().unique():
        before = _variant(text)
        if before != now:
            raise SemcomError(f"{root} already holds rows of pipeline {common['pipeline']!r} with other parameters "
                              f"({_json_diff(before, now)}): {fix}")
    for text in same["config"].dropna().unique() if "config" in same.columns else ():
        q = json.loads(text).get("quantize", True)
        if bool(q) != quantize:
            raise SemcomError(f"{root} already holds rows of pipeline {common['pipeline']!r} scored with quantize={q}: {fix}")


def plan_job(cfg, store_dir: str | Path | None, out_dir: Path, job_num: int | None = None, force: bool | None = None,
             objects: dict | None = None) -> JobPlan:
    """Plan a job (see the module docstring). ``store_dir``: the result store's folder (default:
    ``cfg.results_dir``, else ``out_dir``); ``job_num`` spreads multirun jobs over GPUs;
    ``objects``: components given as Python objects instead of config (:func:`build_components`)."""
    cfg = plain(cfg)
    s = job_settings(cfg)
    if force is not None:
        s = JobSettings(**{**s.__dict__, "force": bool(force)})
    device = select_device(s.device, job_num)
    store_root = Path(store_dir or s.results_dir or out_dir)
    dataset, pipeline, channel = build_components(cfg, s, device, store_root, dict(objects or {}))
    metrics, skipped = select_metrics(s.metrics, s.metric_params or None)
    for name, why in skipped.items():
        log.warning("metric %s skipped: %s", name, why)
    common = _common_columns(cfg, s, dataset, pipeline, channel, metrics, device)
    plan = JobPlan(s, cfg, dataset, pipeline, channel, metrics, device, store_root, common, _cells(s, dataset, pipeline, common))
    if not s.force:
        stored = plan.store.load()
        check_same_name(stored, common, s.quantize, store_root)
        plan.done = done_rows(stored, json.loads(common["metric_ids"]))
        set_metrics = {m.feature_id for m in metrics if not m.per_image}
        if set_metrics:
            plan.stored_features = plan.features.load()
        recon = recorder_images(plan)
        for c in plan.cells:
            if c.row_id in plan.done and (recon.missing(plan.key_row(c)) or
                                          any((fid, RECONSTRUCTION, c.row_id) not in plan.stored_features for fid in set_metrics)):
                plan.done.discard(c.row_id)
    return plan


def recorder_images(plan: JobPlan) -> ReconstructionWriter:
    """The writer of the job's reconstruction PNGs (``save_reconstructions``)."""
    names = [it.name for it in plan.dataset.items]
    return ReconstructionWriter(plan.store_root / "reconstructions", select_images(plan.settings.save_reconstructions, names))
