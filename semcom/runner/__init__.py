"""The runner: one job (a pipeline over a channel at every SNR point for every image), in stages.

plan (which rows remain) -> transmit -> score (per-image metrics, set-metric features, the score
memo) -> record (result store, reconstructions) -> report (tables, summary, figures:
:mod:`semcom.report`). :func:`semcom.runner.job.run_job` is the entry point, Hydra-free.
"""
