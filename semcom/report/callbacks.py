"""Hydra callbacks: merge the jobs of a multirun into one table, summary and figures."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class MergeResults(Callback):
    """After a multirun: ``<sweep dir>/results.parquet``, ``summary.csv`` and ``figures/``.

    The merged table is everything in the sweep's result store (``<sweep dir>/results.parts``,
    which all jobs share, or ``results_dir`` when set) plus any per-job stores under the sweep
    folder (:func:`semcom.report.outputs.merge`); the store is compacted into one part file.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from semcom.errors import SemcomError
        from semcom.report.outputs import merge
        from semcom.runner.settings import plot_options

        sweep_dir = Path(str(config.hydra.sweep.dir))
        source = Path(str(config.results_dir)).expanduser() if config.get("results_dir") else sweep_dir
        try:
            plot = config.get("plot")
            options = plot_options({"plot": OmegaConf.to_container(plot, resolve=True) if plot is not None else {}})
        except SemcomError as exc:  # the jobs checked it already; never lose the merge over a figure option
            log.warning("plot options ignored: %s", exc)
            options = {}
        try:
            written = merge(source, out_dir=sweep_dir, plots=bool(config.get("plots", True)), plot_options=options)
        except SemcomError as exc:
            log.warning("nothing merged: %s", exc)
            return
        except Exception as exc:  # noqa: BLE001 - a figure bug must not hide that every row is stored
            log.error("merging %s failed (%s: %s); every job's rows are in the store: "
                      "python -m semcom.results merge %s retries", sweep_dir, type(exc).__name__, exc, sweep_dir)
            return
        print(f"results: {written['results']}\nsummary: {written['summary']}\nfigures: {sweep_dir / 'figures'}")


class SeparationResults(Callback):
    """After a ``sweep=transform`` multirun: ``<sweep dir>/separation.csv`` (AUC of preserving vs
    changing transformations per metric) and ``figures/separation_<metric>.{pdf,png}``
    (see :mod:`semcom.transforms.separation`)."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from semcom.errors import SemcomError
        from semcom.report.outputs import collect
        from semcom.transforms.separation import format_table, write_separation

        sweep_dir = Path(str(config.hydra.sweep.dir))
        source = Path(str(config.results_dir)).expanduser() if config.get("results_dir") else sweep_dir
        try:
            df = collect(source)
            written = write_separation(df, sweep_dir)
        except SemcomError as exc:
            log.warning("no separation table: %s", exc)
            return
        import pandas as pd

        print(format_table(pd.read_csv(written["separation"])))
        print(f"separation: {written['separation']}\nfigures: {sweep_dir / 'figures'}/separation_*")
