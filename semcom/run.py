"""Hydra entry point: ``python -m semcom.run [overrides]``.

Runs one job (a pipeline over a channel at every SNR point for every image) into the Hydra run
folder, or, with ``sweep=snr|ratio|grid``, a multirun whose jobs share one result store in the
sweep folder and are merged there at the end. ``results_dir=DIR`` puts the store elsewhere (a
relative path is taken from the directory the command was started in).
``python -m semcom.run --cfg job <overrides>`` prints the composed config.
Problems with the input end the command with ``error: <what and how to fix>`` and exit status 2.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import semcom.runner.config  # noqa: F401  (its warning filter must be in place before Hydra composes)
from semcom.errors import SemcomError

log = logging.getLogger("semcom.run")


def _fail(exc: SemcomError) -> None:
    print(f"error: {exc}", file=sys.stderr, flush=True)
    sys.exit(exc.exit_code)


def store_dir(cfg: DictConfig, hc) -> Path:
    """Where a job's result store lives: ``results_dir``, else the sweep folder (multirun), else the run folder."""
    start = Path(hc.runtime.cwd)
    if cfg.get("results_dir"):
        return start / Path(str(cfg.results_dir)).expanduser()
    if hc.mode == RunMode.MULTIRUN:
        return start / str(hc.sweep.dir)
    return Path(hc.runtime.output_dir)


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def _job(cfg: DictConfig) -> None:
    from semcom.runner.interrupts import JobInterrupted
    from semcom.runner.job import run_job

    hc = HydraConfig.get()
    out_dir = hc.runtime.output_dir
    multirun = hc.mode == RunMode.MULTIRUN
    try:
        # In a multirun the figures are drawn once, by the merge at the end.
        df = run_job(cfg, out_dir, store_dir=store_dir(cfg, hc), job_num=int(hc.job.num) if multirun else None,
                     plots=bool(cfg.get("plots", True)) and not multirun)
    except SemcomError as exc:
        _fail(exc)
    except JobInterrupted as exc:
        # the same command resumes only in the same folder: name it (a new run gets a new timestamped one)
        key, folder = ("hydra.sweep.dir", hc.sweep.dir) if multirun else ("hydra.run.dir", hc.run.dir)
        given = any(a.startswith(f"{key}=") for a in sys.argv[1:])
        print(exc.message if given else f"{exc.message} with {key}={folder}", file=sys.stderr, flush=True)
        sys.exit(130)
    failed = int(df["failed"].sum()) if len(df) else 0
    log.info("%d rows (%d failed transmissions) -> %s", len(df), failed, out_dir)
    if not multirun:
        print(f"results: {out_dir}/results.parquet\nsummary: {out_dir}/summary.csv")


def main() -> None:
    from semcom.runner.config import expand_targets, preflight, register_plugin_configs

    try:
        register_plugin_configs()
        args = sys.argv[1:] = expand_targets(sys.argv[1:])
        if not any(a in ("--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc") for a in args):
            preflight(args)
        _job()
    except SemcomError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        print("interrupted before any row was computed; run the same command again to start", file=sys.stderr, flush=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
