"""Hydra entry point: ``python -m semcom.run [overrides]``.

Runs one job (a pipeline over a channel at every SNR point for every image) into the Hydra run
folder, or, with ``sweep=snr``, a multirun over pipelines and channels whose jobs are merged into
the sweep folder. ``python -m semcom.run --cfg job <overrides>`` prints the composed config.
Problems with the input end the command with ``error: <what and how to fix>`` and exit status 2.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from semcom.errors import SemcomError

log = logging.getLogger("semcom.run")


def _fail(exc: SemcomError) -> None:
    print(f"error: {exc}", file=sys.stderr, flush=True)
    sys.exit(exc.exit_code)


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def _job(cfg: DictConfig) -> None:
    from semcom.experiment import run_job

    out_dir = HydraConfig.get().runtime.output_dir
    try:
        df = run_job(cfg, out_dir)
    except SemcomError as exc:
        _fail(exc)
    failed = int(df["failed"].sum()) if len(df) else 0
    log.info("%d rows (%d failed transmissions) -> %s", len(df), failed, out_dir)
    if HydraConfig.get().mode.name == "RUN":
        print(f"results: {out_dir}/results.parquet\nsummary: {out_dir}/summary.csv")


def main() -> None:
    args = sys.argv[1:]
    if not any(a in ("--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc") for a in args):
        try:
            from semcom.config import preflight

            preflight(args)
        except SemcomError as exc:
            _fail(exc)
    _job()


if __name__ == "__main__":
    main()
