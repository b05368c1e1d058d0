"""The settings of one job, checked at the door.

:func:`job_settings` turns a job config (a mapping, as ``python -m semcom.run`` composes it) into a
:class:`JobSettings`, or raises :class:`~semcom.errors.SemcomError` with one line naming the key and
the fix. Integers are integers (``seed=1.5`` is refused, not truncated), booleans are booleans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from semcom.conventions import check_snr_list, parse_ratio
from semcom.errors import SemcomError
from semcom.metrics import metric_list
from semcom.pipelines.base import FALLBACKS

REQUIRED = ("pipeline", "channel", "dataset", "metrics", "snr_db", "ratio", "seed")


@dataclass(frozen=True)
class JobSettings:
    """The top-level settings of a job (see ``semcom/conf/config.yaml`` for each key)."""

    snr_db: list[float]
    ratio: float
    metrics: Any
    metric_params: dict
    seed: int
    realizations: int
    fallback: str
    batch_size: int
    force: bool
    results_dir: str | None
    save_reconstructions: Any
    quantize: bool
    plots: bool
    plot: dict
    device: str


def plain(cfg) -> dict:
    """A job config as plain Python containers (interpolations resolved)."""
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)
    return dict(cfg)


def whole_number(key: str, value, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; SemcomError for floats with a fraction, strings, booleans."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not value.is_integer()):
        raise SemcomError(f"{key}={value!r} is not a whole number: give e.g. {key}={max(minimum, 1)}")
    if int(value) < minimum:
        raise SemcomError(f"{key}={value!r} is too small: give {key}={minimum} or more")
    return int(value)


def flag(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise SemcomError(f"{key}={value!r} is not a boolean: give {key}=true or {key}=false")
    return value


def job_settings(cfg: Mapping) -> JobSettings:
    """Check the top-level settings of a job config; return them parsed."""
    cfg = plain(cfg)
    for key in REQUIRED:
        if key not in cfg:
            raise SemcomError(f"config has no {key!r}: run through python -m semcom.run, or give {key}=...")
    metric_list(cfg["metrics"])  # raises on an empty list or an unknown name, listing the valid ones
    fallback = cfg.get("fallback", "grey")
    if fallback not in FALLBACKS:
        raise SemcomError(f"fallback={fallback!r} is unknown: choose one of {', '.join(FALLBACKS)}")
    results_dir = cfg.get("results_dir")
    if results_dir is not None and (not isinstance(results_dir, str) or not results_dir.strip()):
        raise SemcomError(f"results_dir={results_dir!r} is not a folder: give results_dir=DIR, or null for the run folder")
    recon = cfg.get("save_reconstructions")
    if recon is not None and not isinstance(recon, (bool, int, str, list, tuple)):
        raise SemcomError(f"save_reconstructions={recon!r} is not understood: give null, a count N, true, or a list of image names")
    metric_params = cfg.get("metric_params") or {}
    if not isinstance(metric_params, Mapping):
        raise SemcomError(f"metric_params={metric_params!r} must map metric names to keyword arguments")
    check_dataset(cfg["dataset"])
    return JobSettings(
        snr_db=check_snr_list(cfg["snr_db"]),
        ratio=parse_ratio(cfg["ratio"]),
        metrics=cfg["metrics"] if isinstance(cfg["metrics"], (str, Mapping)) else list(cfg["metrics"]),
        metric_params=dict(metric_params),
        seed=whole_number("seed", cfg["seed"], 0),
        realizations=whole_number("realizations", cfg.get("realizations", 1), 1),
        fallback=fallback,
        batch_size=whole_number("batch_size", cfg.get("batch_size", 8), 1),
        force=flag("force", cfg.get("force", False)),
        results_dir=results_dir,
        save_reconstructions=recon,
        quantize=flag("quantize", cfg.get("quantize", True)),
        plots=flag("plots", cfg.get("plots", True)),
        plot=plot_options(cfg),
        device=str(cfg.get("device", "auto")),
    )


def plot_options(cfg: Mapping) -> dict:
    """Keyword arguments of :func:`semcom.report.figures.plot_results` from the config's ``plot``
    section, checked: ``references`` (published curves, :mod:`semcom.published`), ``ci``,
    ``names``, ``pipelines``, ``channels``, ``ylim`` (:class:`semcom.report.figures.FigureOptions`)."""
    from semcom.published import check_spec
    from semcom.report.figures import FigureOptions

    plot = cfg.get("plot") or {}
    if not isinstance(plot, Mapping):
        raise SemcomError(f"plot={plot!r} is not a mapping: give e.g. plot.ci=bootstrap")
    unknown = sorted(set(plot) - {"references", "ci", "names", "pipelines", "channels", "ylim"})
    if unknown:
        raise SemcomError(f"plot.{unknown[0]} is not a figure option: choose from references, ci, names, pipelines, channels, ylim")
    options = {"ci": plot.get("ci") or "auto", "names": dict(plot.get("names") or {}), "pipelines": plot.get("pipelines") or None,
               "channels": plot.get("channels") or None, "ylim": dict(plot.get("ylim") or {})}
    FigureOptions(**options)  # one-line errors for a bad value
    return {"references": check_spec(plot.get("references")), **options}


def check_dataset(ds) -> None:
    """Cheap checks of the dataset node before anything runs (names, folder, limit); the images
    themselves are read and checked by :func:`semcom.datasets.load_dataset`."""
    from semcom.datasets import list_images
    from semcom.registry import DATASETS

    if not isinstance(ds, Mapping):
        raise SemcomError(f"dataset={ds!r} is not a dataset config: choose dataset=builtin, kodak or folder")
    if not ds.get("_target_"):
        DATASETS.entry(ds.get("name", "builtin"))  # unknown names: one line listing the known ones
    limit = ds.get("limit")
    if limit is not None:
        whole_number("dataset.limit", limit, 1)
    if ds.get("name") == "folder" and not ds.get("_target_"):
        if not ds.get("path"):
            raise SemcomError("dataset=folder needs a folder: add dataset.path=/path/to/images")
        list_images(ds["path"], recursive=bool(ds.get("recursive", False)))  # missing, not a folder, no images
