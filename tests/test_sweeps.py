"""Hydra sweeps: sweep=snr|ratio|grid configs, launchers, a resumable sweep store, submitit end to end,
the reduced form of the study in experiments/, and nothing written into the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from semcom.runner.config import compose, preflight
from semcom.errors import SemcomError

ROOT = Path(__file__).resolve().parents[1]


def run(args, cwd, timeout=600):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "semcom.run", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def git_state() -> str | None:
    """Untracked and ignored files of the checkout (None outside a git checkout)."""
    p = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        return None
    return "\n".join(sorted(line for line in p.stdout.splitlines() if "__pycache__" not in line and ".pytest_cache" not in line))


@pytest.mark.parametrize(
    "sweep, params, snr",
    [
        ("snr", {"pipeline": "deepjscc,bpg_ldpc_best,bpg_capacity", "channel": "awgn,rayleigh_block"}, [-3, 0, 3, 6, 9, 12, 15]),
        ("ratio", {"pipeline": "jpeg_ldpc,jpeg_capacity", "channel": "awgn", "ratio": "1/48,1/24,1/12,1/6,1/3"}, [10]),
        ("grid", {"pipeline": "jpeg_ldpc,jpeg_capacity", "channel": "awgn,rayleigh_block", "ratio": "1/24,1/12,1/6"}, [1, 4, 7, 10, 13]),
    ],
)
def test_sweep_configs(sweep, params, snr):
    cfg = compose([f"sweep={sweep}"], return_hydra_config=True)
    assert cfg.hydra.mode.name == "MULTIRUN" and dict(cfg.hydra.sweeper.params) == params and list(cfg.snr_db) == snr
    assert cfg.hydra.callbacks.merge_results._target_ == "semcom.report.callbacks.MergeResults"
    assert compose([f"sweep={sweep}", "snr_db=[2]"]).snr_db == [2]  # the command line wins


def test_first_job_of_a_sweep_is_checked_before_launch():
    assert preflight(["sweep=ratio"]).ratio == "1/48"  # the sweep's first value, not config.yaml's 1/6
    assert preflight(["sweep=ratio", "ratio=1/16,1/8"]).ratio == "1/16"
    with pytest.raises(SemcomError, match="unknown channel 'nope'"):
        preflight(["sweep=grid", "channel=nope,awgn"])
    with pytest.raises(SemcomError, match="no such folder"):
        preflight(["--config-dir", "/definitely/not/here", "experiment=x/y"])


@pytest.mark.filterwarnings("ignore:\\s*'hydra/launcher/joblib' is validated against ConfigStore schema")
def test_launcher_configs():
    slurm = compose(["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=30"], return_hydra_config=True)
    launcher = slurm.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher.partition, launcher.timeout_min, launcher.gpus_per_task, launcher.tasks_per_node) == ("gpu", 30, 1, 1)
    assert launcher.array_parallelism == 16 and launcher.max_num_timeout == 3 and list(launcher.setup) == []
    joblib = compose(["hydra/launcher=joblib", "hydra.launcher.n_jobs=3"], return_hydra_config=True).hydra.launcher
    assert joblib._target_ == "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher" and joblib.n_jobs == 3
    # every field of the plugin's own schema is there, so the plugin accepts the config
    from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf

    assert set(JobLibLauncherConf.__dataclass_fields__) == set(joblib.keys())


def _rows_by_config(df):
    return {(r.channel, r.ratio, r.snr_db, r.image.rsplit(".", 1)[0]): tuple(json.loads(r.config)["snr_db"]) for r in df.itertuples()}


def test_sweep_resumes_across_runs_and_launchers(tmp_path, small_folder):
    """A sweep folder is one store: re-running resumes, whatever job numbers and launcher the jobs get."""
    sweep = tmp_path / "sweep"
    common = ["pipeline=jpeg_capacity", "dataset=folder", f"dataset.path={small_folder}", "metrics=[psnr]", "plots=false",
              f"hydra.sweep.dir={sweep}"]
    before = git_state()
    # 1) basic launcher, from the repository folder; the command line narrows sweep=grid to 2 jobs
    p = run(["sweep=grid", "channel=awgn", "ratio=1/16,1/8", "snr_db=[5]", *common], ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "#1 :" in p.stdout and "#2 :" not in p.stdout  # 2 jobs launched, not grid's 12
    df = pd.read_parquet(sweep / "results.parquet")
    assert len(df) == 4 and set(df.ratio) == {0.0625, 0.125} and set(df.channel) == {"awgn"}
    assert git_state() == before, "a run wrote into the source tree"
    # 2) submitit's local executor (the job runs in its own process): one more SNR point; the rows
    #    of SNR 5 dB are not recomputed (a job renumbered in another multirun shares the store too:
    #    see test_store_jobs.py)
    p = run(["sweep=grid", "channel=awgn", "ratio=1/16", "snr_db=[5,10]", "hydra/launcher=submitit_local",
             "hydra.launcher.timeout_min=10", *common], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert list((sweep / ".submitit").glob("*/*_0_log.out")), "the job did not run through submitit"
    df = pd.read_parquet(sweep / "results.parquet")
    assert len(df) == 4 + 2 and not df.duplicated(["channel", "ratio", "snr_db", "image"]).any()
    made = _rows_by_config(df)
    assert made[("awgn", 0.0625, 5.0, "a")] == (5,) and made[("awgn", 0.125, 5.0, "b")] == (5,)  # from run 1
    assert made[("awgn", 0.0625, 10.0, "a")] == (5, 10) and made[("awgn", 0.0625, 10.0, "b")] == (5, 10)
    assert set(df.device) == {"cpu"}
    assert len(pd.read_parquet(sweep / "0" / "results.parquet")) == 4  # the job's own table: its 4 keys


def test_study_reduced_form(tmp_path):
    """experiments/jpeg_rate_sweep in its CI form, run from the repository folder."""
    before = git_state()
    sweep = tmp_path / "study"
    p = run(["experiment=jpeg_rate_sweep/ci", f"hydra.sweep.dir={sweep}"], ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    assert git_state() == before, "the study wrote into the source tree"
    df = pd.read_parquet(sweep / "results.parquet")
    assert set(df.pipeline) == {"jpeg_ldpc", "jpeg_capacity"} and set(df.snr_db) == {10.0} and set(df.channel) == {"awgn"}
    assert sorted(df.ratio.unique()) == [1 / 16, 1 / 12, 1 / 6] and len(df) == 2 * 3
    s = pd.read_csv(sweep / "summary.csv")
    cap = s[s.pipeline == "jpeg_capacity"].set_index("ratio")
    ldpc = s[s.pipeline == "jpeg_ldpc"].set_index("ratio")
    assert (cap.psnr.diff().dropna() > 0).all()  # more channel uses, more bits, better images
    assert (cap.psnr >= ldpc.psnr).all()  # the bound (log2(1 + 10) = 3.46 bit per use) beats QPSK rate 1/2 (1 bit per use)
    sent = df[(df.pipeline == "jpeg_ldpc") & (df.bits > 0)]
    assert len(sent) and not sent.failed.any()  # at 10 dB a QPSK rate-1/2 LDPC code block does not fail
    assert (sweep / "figures" / "psnr_vs_ratio.pdf").is_file()
    assert len([p for p in (sweep / "reconstructions").rglob("*.png") if p.is_file()]) == 1 + 2 * 3  # reference + pipelines x ratios
    assert (sweep / "1" / "results.parquet").is_file() and not (sweep / "1" / "figures").exists()  # figures: once, merged


def test_main_job_composes_to_learned_digital_and_bound():
    """`python -m semcom.run sweep=snr`: a learned JSCC, the best-MCS digital envelope (exact decoding)
    and the capacity bound, over AWGN and block fading, with realizations and the main metrics; every
    job of the sweep composes and builds its pipeline."""
    from omegaconf import OmegaConf

    from semcom.metrics import selectors
    from semcom.pipelines.base import build_pipeline
    from semcom.runner.config import compose
    from semcom.runner.plan import fill_checkpoint_name

    cfg = compose(["sweep=snr"], return_hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    channels, pipelines = params["channel"].split(","), params["pipeline"].split(",")
    assert channels == ["awgn", "rayleigh_block"]
    assert cfg.realizations >= 4 and cfg.ratio == "1/16" and cfg.metrics == "main"
    assert {"psnr", "ms_ssim", "lpips", "vitscore"} <= set(selectors()["main"])
    snrs = list(cfg.snr_db)
    assert min(snrs) <= -3 and max(snrs) >= 15 and snrs == sorted(snrs)
    kinds = {}
    for channel in channels:
        for name in pipelines:
            job = compose(["sweep=snr", f"channel={channel}", f"pipeline={name}"])
            p = fill_checkpoint_name(OmegaConf.to_container(job.pipeline, resolve=True), channel, 1 / 16)
            kinds[p["kind"]] = p
            build_pipeline(p, ratio=1 / 16)  # e.g. the shipped checkpoint for this channel and ratio exists
    assert set(kinds) == {"learned", "separate", "capacity"}
    assert kinds["separate"]["mcs"] == "best" and kinds["separate"].get("decoder", "exact") == "exact"
    assert kinds["separate"]["code"] == "ldpc"
