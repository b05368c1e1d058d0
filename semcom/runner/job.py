"""One job: every image x every SNR point (x every realization) of one (pipeline, channel, ratio,
seed), scored, in stages.

:func:`run_job` is Hydra-free (it takes a config mapping and an output folder), so it serves
``python -m semcom.run`` and Python users alike::

    plan (semcom.runner.plan)            the components, the rows the job owns, those already stored
      -> transmit (semcom.runner.transmit)  the pipeline over the channel, a group of cells per call
      -> score (semcom.runner.scoring)      per-image metrics, set-metric features, the score memo
      -> record (semcom.runner.recording)   rows into the result store, features, reconstruction PNGs
      -> report (semcom.report.outputs)     the job's table, summary, set-metric points and figures

Rows are appended to the result store (``<results dir>/results.parts/``: the run folder, the
sweep folder shared by all jobs of a multirun, or ``results_dir``) after every pipeline call; a
re-run against the same store skips the rows already there and scored with every requested
metric (``force=true`` recomputes). Images are processed batch by batch, every SNR point of a
batch in turn, so the reference side of a per-image metric is prepared once per batch.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from semcom.metrics.base import reset_size_warnings
from semcom.report.outputs import write_outputs
from semcom.runner.interrupts import InterruptGuard, JobInterrupted
from semcom.runner.plan import Cell, JobPlan, plan_job
from semcom.runner.recording import Recorder
from semcom.runner.references import process_cache
from semcom.runner.score_memo import ScoreMemo, store_memo
from semcom.runner.scoring import Scorer
from semcom.runner.set_points import compute_points
from semcom.runner.transmit import prepare, transmit
from semcom.store.keys import tensor_digest

log = logging.getLogger(__name__)


def run_job(
    cfg: Mapping,
    out_dir: str | Path,
    progress: bool = True,
    force: bool | None = None,
    store_dir: str | Path | None = None,
    job_num: int | None = None,
    plots: bool | None = None,
    objects: dict | None = None,
) -> pd.DataFrame:
    """Run one job and write its outputs into ``out_dir``; return the per-image table.

    Rows go to the result store ``<store_dir>/results.parts`` (``store_dir``: the argument, else
    ``cfg.results_dir``, else ``out_dir``); the rows of this job are then written to ``out_dir``
    as ``results.parquet`` and ``summary.csv`` (and figures when ``plots``, default
    ``cfg.plots``). Rows already in the store are skipped unless ``force`` (default
    ``cfg.force``). ``job_num`` (the Hydra multirun job index) picks the GPU for
    ``device=auto`` (see :mod:`semcom.devices`). ``objects``: components given as Python objects
    instead of config (``{"pipeline": ..., "dataset": ..., "channel": ...}``; :mod:`semcom.api`).
    """
    out_dir = Path(out_dir)
    reset_size_warnings()  # one warning per metric and run about images below its min_size
    plan = plan_job(cfg, store_dir, out_dir, job_num, force, objects)
    memo = ScoreMemo() if plan.settings.force else store_memo(plan.store_root / "scores")
    scorer = Scorer(plan.metrics, plan.settings.metric_params, memo, process_cache())
    recorder = Recorder(plan)
    pending = plan.pending()
    bar = tqdm(total=len(plan.cells), initial=len(plan.cells) - len(pending), unit="img", disable=not progress,
               desc=f"{plan.pipeline.name} | {plan.channel.label}")
    try:
        with InterruptGuard() as guard:  # Ctrl-C stops the job even when its KeyboardInterrupt is swallowed
            prepare(plan)
            for items, cells in batches(plan, pending):
                guard.check()
                run_batch(plan, scorer, recorder, items, cells, guard, bar)
            guard.check()  # a swallowed interrupt during the last cell: the job is not reported finished
    except KeyboardInterrupt:
        bar.close()
        raise JobInterrupted(len(plan.cells) - len(pending) + recorder.rows, len(plan.cells)) from None
    bar.close()
    recorder.finish()
    memo.flush()
    return report(plan, out_dir, plots)


def batches(plan: JobPlan, pending: list[Cell]) -> Iterator[tuple[list[int], list[Cell]]]:
    """(image indices, their pending cells in SNR-major order) per batch: at most ``batch_size``
    images of one shape (a batch is one tensor)."""
    by_item = defaultdict(list)
    for c in pending:
        by_item[c.item].append(c)
    by_shape = defaultdict(list)
    for i, item in enumerate(plan.dataset.items):
        if i in by_item:
            by_shape[tuple(item.image.shape)].append(i)
    size = plan.settings.batch_size
    for group in by_shape.values():
        for start in range(0, len(group), size):
            items = group[start : start + size]
            cells = sorted((c for i in items for c in by_item[i]), key=lambda c: (plan.settings.snr_db.index(c.snr_db), c.realization, items.index(c.item)))
            yield items, cells


def run_batch(plan: JobPlan, scorer: Scorer, recorder: Recorder, items: list[int], cells: list[Cell], guard, bar) -> None:
    """Transmit, score and record the cells of one batch, ``batch_size`` cells per pipeline call."""
    images = torch.stack([plan.dataset.items[i].image for i in items]).to(plan.device)
    ref_ids = [plan.dataset.items[i].digest for i in items]
    scorer.new_batch()
    size = plan.settings.batch_size
    for start in range(0, len(cells), size):
        guard.check()
        group = cells[start : start + size]
        index = [items.index(c.item) for c in group]
        tx, rec = transmit(plan, images, group, index)
        rec_ids = [tensor_digest(r) for r in rec]
        scores = scorer.score(images, [ref_ids[j] for j in index], index, rec, rec_ids)
        features = scorer.features(rec, rec_ids)
        recorder.record(group, tx, rec, images[torch.as_tensor(index, device=images.device)], scores, features)
        bar.update(len(group))


def report(plan: JobPlan, out_dir: Path, plots: bool | None) -> pd.DataFrame:
    """The job's rows (exactly the cells it owns) and set-metric points, written into ``out_dir``."""
    wanted = {c.row_id for c in plan.cells}
    df = plan.store.load()
    df = df[df["row_id"].isin(wanted)].reset_index(drop=True) if len(df) else df
    set_metrics = [m for m in plan.metrics if not m.per_image]
    point_rows = []
    for snr in plan.settings.snr_db:
        point = {k: plan.common[k] for k in ("dataset", "pipeline", "checkpoint", "channel", "ratio", "seed")}
        point_rows.append(({**point, "snr_db": float(snr)}, [c.row_id for c in plan.cells if c.snr_db == float(snr)]))
    points = compute_points(set_metrics, plan.stored_features, plan.features, plan.dataset.items, process_cache(), point_rows, plan.device)
    write_outputs(df, out_dir, plots=plan.settings.plots if plots is None else bool(plots), points=points if len(points) else None,
                  plot_options=plan.settings.plot)
    return df
