"""Hydra callbacks: merge the jobs of a multirun into one table, summary and figures."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class MergeResults(Callback):
    """After a multirun: ``<sweep dir>/results.parquet``, ``summary.csv`` and ``figures/``."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from semcom.results import dedupe, write_outputs

        import pandas as pd

        sweep_dir = Path(config.hydra.sweep.dir)
        tables = sorted(sweep_dir.glob("*/results.parquet"))
        if not tables:
            log.warning("no job results under %s to merge", sweep_dir)
            return
        df = dedupe(pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True))
        point_tables = sorted(sweep_dir.glob("*/points.parquet"))
        points = pd.concat([pd.read_parquet(t) for t in point_tables], ignore_index=True) if point_tables else None
        written = write_outputs(df, sweep_dir, plots=bool(config.get("plots", True)), points=points)
        log.info("merged %d jobs, %d rows -> %s", len(tables), len(df), written["results"])
        print(f"results: {written['results']}\nsummary: {written['summary']}\nfigures: {sweep_dir / 'figures'}")
