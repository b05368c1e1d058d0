"""The Python API: evaluate your own model or pipeline beside the built-ins, in one call.

    import semcom

    result = semcom.evaluate(
        [my_model, "deepjscc", "bpg_ldpc_best", "bpg_capacity"],   # objects and config names
        dataset="kodak", channels=["awgn", "rayleigh_block"],
        snr_db=[1, 4, 7, 10, 13], ratio=1/16, metrics=["psnr", "ms_ssim", "lpips"],
    )
    print(result.summary)                  # mean and 95 % interval per point
    result.figure("psnr", "psnr_vs_snr")   # PDF + PNG, one panel per channel

Everything goes through the same runner as ``python -m semcom.run``: the same configs (a name is a
``semcom/conf/pipeline/<name>.yaml``, a dict is a pipeline config node), the same per-image
generators, the same result store and row identities. So for the same settings the numbers
equal the command line's, and rerunning resumes from the store in ``out_dir``.

What can be given:

* ``pipelines``: names of pipeline configs, config nodes (``{"kind": "learned", "checkpoint":
  "runs/train/x/last.pt"}``, ``{"_target_": "mypkg.MyPipeline", ...}``), pipeline objects
  (anything with ``transmit`` and ``params``: :class:`semcom.pipelines.base.PipelineBase`), or
  :class:`semcom.jscc.base.JSCCModel` objects (your trained ``nn.Module``: identified by a digest
  of its class, arguments and weights).
* ``dataset``: a dataset name (``builtin``, ``kodak``), a config node (``{"name": "folder",
  "path": "imgs"}``), a :class:`semcom.datasets.Dataset`, or an image tensor (N, 3, H, W) float
  in [0, 1].
* ``channels``: channel names, config nodes or :class:`semcom.channels.base.Channel` objects.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from semcom.channels.base import Channel
from semcom.datasets import Dataset, ImageItem
from semcom.errors import SemcomError
from semcom.report.outputs import one_version, write_outputs
from semcom.report.summary import summarize


@dataclass
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes:
        table: per-image rows of every (pipeline, channel) job (the result table schema).
        summary: mean and 95 % Student-t interval over images per point.
        folder: where the result store and any outputs live.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    folder: Path
    written: dict = field(default_factory=dict)

    def figure(self, metric: str = "psnr", path: str | Path | None = None, **options) -> list[Path]:
        """Draw ``metric`` against SNR (one panel per channel) as ``<path>.pdf`` and ``<path>.png``
        (default: ``<folder>/figures/<metric>_vs_snr``); ``options`` go to the figure code
        (:func:`semcom.report.figures.plot_results`)."""
        from semcom.report.figures import plot_results

        out = Path(path) if path is not None else self.folder / "figures" / f"{metric}_vs_snr"
        written = plot_results(self.table, out.parent, [metric], **options)
        if path is not None:
            renamed = []
            for p in written:
                target = out.with_name(f"{out.name}{p.suffix}")
                p.replace(target)
                renamed.append(target)
            return renamed
        return written


def tensor_dataset(images: torch.Tensor, name: str = "tensor") -> Dataset:
    """A dataset of an image tensor (N, 3, H, W) float in [0, 1]; images named ``image_000`` ..."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3 or not images.is_floating_point():
        got = f"{tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise SemcomError(f"dataset: an image tensor must be float (N, 3, H, W) in [0, 1], got {got}")
    if not torch.isfinite(images).all() or float(images.min()) < 0 or float(images.max()) > 1:
        raise SemcomError("dataset: image values must be finite and in [0, 1]: pass x / 255 for 8-bit data")
    items = [ImageItem(f"image_{i:03d}", img.detach().float().cpu().contiguous()) for i, img in enumerate(images)]
    ds = Dataset(name, items)
    ds.identity = f"tensor:{ds.digest}"
    return ds


def _split(value, kind: str) -> tuple[list[str], dict | None]:
    """(overrides, object) for one component: a name -> ``kind=name``; a node -> its keys; an object."""
    if isinstance(value, str):
        return [f"{kind}={value}"], None
    if isinstance(value, Mapping):
        return [], dict(value)
    return [], value


def evaluate(
    pipelines: Sequence,
    dataset="builtin",
    channels: Sequence = ("awgn",),
    snr_db: Sequence[float] = (1, 4, 7, 10, 13),
    ratio: float | str = "1/16",
    metrics: Sequence | str = ("psnr",),
    seed: int = 0,
    realizations: int = 1,
    out_dir: str | Path | None = None,
    figures: bool = False,
    progress: bool = True,
    **settings,
) -> Evaluation:
    """Run every pipeline over every channel (see the module docstring); return the rows and summary.

    ``settings`` are further top-level config keys (``batch_size``, ``device``, ``quantize``,
    ``fallback``, ``metric_params``, ...). ``out_dir`` holds the result store (default: a new
    temporary folder); ``figures=True`` also writes ``results.parquet``, ``summary.csv`` and
    every figure there.
    """
    from semcom.runner.config import compose
    from semcom.runner.job import run_job

    if isinstance(pipelines, (str, Mapping)) or not isinstance(pipelines, Sequence):
        pipelines = [pipelines]
    folder = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="semcom-"))
    base = [f"snr_db=[{','.join(f'{float(s):g}' for s in snr_db)}]", f"ratio={ratio}", f"seed={seed}",
            f"realizations={realizations}", "plots=false"]
    overrides: dict = {"metrics": metrics if isinstance(metrics, str) else list(metrics), "results_dir": str(folder), **settings}
    ds_over, ds_obj = _split(dataset, "dataset")
    if isinstance(ds_obj, torch.Tensor):
        ds_obj = tensor_dataset(ds_obj)
    tables = []
    for channel in channels:
        ch_over, ch_obj = _split(channel, "channel")
        if ch_obj is not None and not isinstance(ch_obj, (dict, Channel)):
            raise SemcomError(f"channels: {type(ch_obj).__name__} is neither a channel name, a config node nor a Channel object")
        for k, pipeline in enumerate(pipelines):
            p_over, p_obj = _split(pipeline, "pipeline")
            cfg = compose([*base, *ds_over, *ch_over, *p_over])
            objects = {}
            for key, obj in (("dataset", ds_obj), ("channel", ch_obj), ("pipeline", p_obj)):
                if isinstance(obj, dict):
                    cfg[key] = obj
                elif obj is not None:
                    objects[key] = obj
            for key, value in overrides.items():
                cfg[key] = value
            job_dir = folder / "jobs" / f"{k:02d}-{_label(pipeline)}-{_label(channel)}"
            tables.append(run_job(cfg, job_dir, progress=progress, plots=False, objects=objects))
    table = one_version(pd.concat(tables, ignore_index=True)) if tables else pd.DataFrame()
    result = Evaluation(table, summarize(table), folder)
    if figures:
        result.written = write_outputs(table, folder, plots=True)
    return result


def _label(component) -> str:
    if isinstance(component, str):
        return component
    if isinstance(component, Mapping):
        return str(component.get("name") or component.get("kind") or component.get("_target_", "node")).rsplit(".", 1)[-1]
    return type(component).__name__.lower()
