"""The reduced (CI) forms of the studies in experiments/ that tests/test_sweeps.py and
tests/test_transforms.py do not run: deepjscc_vs_bpg_ldpc (and its fast form), rate_sweep,
metric_agreement. Each study config is composed exactly as ``experiment=<study>/<form>``
composes it, every point of its sweep is run by ``run_job`` into one store (what the Hydra
launcher does, without a process per job), on two Kodak images shrunk to 192 x 288 so that the
suite stays fast, and the claims of the study's README are checked on the numbers."""

from __future__ import annotations

import os
from itertools import product
from pathlib import Path

import pytest
from PIL import Image

from semcom.runner.config import compose
from semcom.runner.job import run_job
from semcom.report.outputs import collect

REPO = Path(__file__).resolve().parents[1]
KODAK = Path(os.environ["SEMCOM_DATA"]) / "kodak"


@pytest.fixture(scope="module")
def kodak_small(tmp_path_factory) -> Path:
    """kodim05 (motorcycles) and kodim23 (parrots), 192 x 288 (bicubic; MS-SSIM needs a side > 160)."""
    folder = tmp_path_factory.mktemp("kodak_small")
    for name in ("kodim05", "kodim23"):
        with Image.open(KODAK / f"{name}.png") as im:
            im.resize((288, 192), Image.BICUBIC).save(folder / f"{name}.png")
    return folder


def run_study(study: str, form: str, images: Path, sweep: Path, *extra: str):
    """Compose ``+study=form`` with ``extra`` overrides, run every point of its sweeper params into
    the store under ``sweep``; return (the composed study config, the merged rows)."""
    base = [f"experiment={study}/{form}", "dataset=folder", f"dataset.path={images}", "dataset.limit=null",
            f"hydra.sweep.dir={sweep}", "device=cpu", *extra]
    cfg = compose(base, return_hydra_config=True)
    params = {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items()}
    for i, point in enumerate(product(*params.values())):
        job = compose([*base, *(f"{k}={v}" for k, v in zip(params, point))])
        run_job(job, sweep / str(i), store_dir=sweep, progress=False, plots=False, job_num=i)
    return cfg, collect(sweep)


def test_deepjscc_vs_bpg_ldpc_reduced_form_and_its_fast_twin(tmp_path, kodak_small):
    """The ci form (deepjscc, bpg_ldpc_best with exact BP decoding, bpg_capacity; AWGN; 1 and 13 dB)
    and the same points in LDPC fast mode: the envelope stays below the capacity bound, climbs with
    SNR, and the fast envelope picks the same MCS and gives the same images as exact decoding
    at these two points (far from every scheme's cliff)."""
    cfg, df = run_study("deepjscc_vs_bpg_ldpc", "ci", kodak_small, tmp_path / "ci")
    assert list(cfg.snr_db) == [1, 13] and list(cfg.metrics) == ["psnr", "ms_ssim"] and cfg.ratio == "1/16"
    assert set(df.pipeline) == {"deepjscc", "bpg_ldpc_best", "bpg_capacity"} and len(df) == 3 * 2 * 2
    assert set(df.checkpoint.dropna()) - {""} == {"deepjscc-awgn-r1_16"}
    mean = df.groupby(["pipeline", "snr_db"]).psnr.mean().unstack("pipeline")
    assert (mean.bpg_capacity >= mean.bpg_ldpc_best).all()  # no MCS carries more bits than the bound
    assert mean.bpg_ldpc_best[13.0] > mean.bpg_ldpc_best[1.0] + 3  # higher-order schemes decode at 13 dB
    assert (mean.deepjscc > 20).all()  # a mid-grey image scores about 12 dB here
    env = df[df.pipeline == "bpg_ldpc_best"].set_index(["image", "snr_db"])
    assert (env.bits > 0).all() and not env.failed.any()

    _, fast = run_study("deepjscc_vs_bpg_ldpc", "ci", kodak_small, tmp_path / "fast",
                        "hydra.sweeper.params.pipeline=bpg_ldpc_best_abstraction")
    fast = fast.set_index(["image", "snr_db"])
    assert set(fast.pipeline) == {"bpg_ldpc_best_abstraction"} and set(fast.decoder) == {"abstraction"}
    assert (fast.qam == env.qam).all() and (fast.code_rate == env.code_rate).all()
    assert (fast.psnr - env.psnr).abs().max() < 1e-6


def test_rate_sweep_fast_form_composes():
    """The fast form keeps the full sweep's data, SNR and ratio grid and swaps in the fast-mode envelopes."""
    full = compose(["experiment=rate_sweep/full"], return_hydra_config=True)
    fast = compose(["experiment=rate_sweep/fast"], return_hydra_config=True)
    assert fast.dataset.name == "kodak" and list(fast.snr_db) == [10] and fast.hydra.sweeper.params.channel == "awgn"
    assert fast.hydra.sweeper.params.ratio == full.hydra.sweeper.params.ratio and len(fast.hydra.sweeper.params.ratio.split(",")) == 10
    assert fast.hydra.sweeper.params.pipeline == "bpg_ldpc_best_abstraction,bpg_capacity,jpeg_ldpc_best_abstraction"
    assert str(fast.hydra.sweep.dir).endswith("rate_sweep/fast")


def test_deepjscc_vs_bpg_ldpc_fast_form_composes():
    """The fast form keeps the full study's data, channels, ratio and SNR grid, swaps in the
    fast-mode envelopes and adds the metrics of the performance target."""
    full = compose(["experiment=deepjscc_vs_bpg_ldpc/full"], return_hydra_config=True)
    fast = compose(["experiment=deepjscc_vs_bpg_ldpc/fast"], return_hydra_config=True)
    assert fast.dataset.name == full.dataset.name == "kodak" and fast.ratio == full.ratio == "1/16"
    assert list(fast.snr_db) == list(full.snr_db) and len(fast.snr_db) == 7
    assert fast.hydra.sweeper.params.channel == full.hydra.sweeper.params.channel == "awgn,rayleigh_block"
    assert fast.hydra.sweeper.params.pipeline == "bpg_ldpc_best_abstraction,jpeg2000_ldpc_best_abstraction,deepjscc,bpg_capacity"
    assert list(fast.metrics) == ["psnr", "ms_ssim", "lpips", "vitscore", "fid"]
    assert str(fast.hydra.sweep.dir).endswith("deepjscc_vs_bpg_ldpc/fast")
    for name in ("bpg_ldpc_best_abstraction", "jpeg2000_ldpc_best_abstraction"):
        p = compose(["experiment=deepjscc_vs_bpg_ldpc/fast", f"pipeline={name}"]).pipeline
        assert p.decoder == "abstraction" and p.mcs == "best" and p.mcs_table == "compact"
    # every learned pipeline of either form has a shipped checkpoint for each channel of the sweep
    from semcom.runner.plan import fill_checkpoint_name
    from semcom.jscc.checkpoints import shipped

    learned = [n for form in (full, fast) for n in form.hydra.sweeper.params.pipeline.split(",")
               if compose(["experiment=deepjscc_vs_bpg_ldpc/fast", f"pipeline={n}"]).pipeline.kind == "learned"]
    assert sorted(set(learned)) == ["adjscc", "deepjscc", "swinjscc"]
    for name in set(learned):
        p = compose(["experiment=deepjscc_vs_bpg_ldpc/fast", f"pipeline={name}"]).pipeline
        for channel in ("awgn", "rayleigh_block"):
            assert fill_checkpoint_name(dict(p), channel, 1 / 16)["checkpoint"] in shipped(), (name, channel)


@pytest.mark.parametrize("study, full_form, fast_form, digital", [
    ("metric_agreement", "full", "fast", {"bpg_ldpc_best": "best", "jpeg_ldpc_best": "best"}),
    ("metric_validation", "chains", "chains_fast", {"bpg_ldpc_best": "best", "jpeg_ldpc": None}),
])
def test_metric_study_fast_forms_compose(study, full_form, fast_form, digital):
    """The fast forms of metric_agreement and of metric_validation's chains keep the full form's data,
    grid and metrics and replace exactly its LDPC chains by their fast-mode twins (same MCS rule)."""
    full = compose([f"experiment={study}/{full_form}"], return_hydra_config=True)
    fast = compose([f"experiment={study}/{fast_form}"], return_hydra_config=True)
    assert fast.dataset.name == full.dataset.name == "kodak" and list(fast.snr_db) == list(full.snr_db)
    assert list(fast.metrics) == list(full.metrics) and fast.ratio == full.ratio
    for key in ("channel", "ratio"):
        assert fast.hydra.sweeper.params.get(key) == full.hydra.sweeper.params.get(key)
    slow, quick = (set(str(c.hydra.sweeper.params.pipeline).split(",")) for c in (full, fast))
    assert slow - quick == set(digital) and quick - slow == {f"{d}_abstraction" for d in digital}
    assert str(fast.hydra.sweep.dir).endswith(f"{study}/{fast_form}")
    for name, mcs in digital.items():
        p = compose([f"experiment={study}/{fast_form}", f"pipeline={name}_abstraction"]).pipeline
        exact = compose([f"experiment={study}/{full_form}", f"pipeline={name}"]).pipeline
        assert p.decoder == "abstraction" and exact.get("decoder", "exact") == "exact" and p.codec == exact.codec
        assert (p.mcs == "best") == (mcs == "best") and p.mcs == exact.mcs


def test_rate_sweep_reduced_form(tmp_path, kodak_small):
    """bpg_capacity and DeepJSCC at 1/16 and 1/6, AWGN 10 dB: more channel uses give the
    bound more bits, so BPG + capacity improves with the ratio on every image."""
    cfg, df = run_study("rate_sweep", "ci", kodak_small, tmp_path / "rate")
    assert list(cfg.snr_db) == [10]
    assert set(df.pipeline) == {"bpg_capacity", "deepjscc"} and sorted(df.ratio.unique()) == [1 / 16, 1 / 6]
    assert set(df.checkpoint.dropna()) - {""} == {"deepjscc-awgn-r1_16", "deepjscc-awgn-r1_6"}
    cap = df[df.pipeline == "bpg_capacity"].pivot_table(index="image", columns="ratio", values="psnr")
    assert (cap[1 / 6] > cap[1 / 16] + 1).all()
    assert (cap.columns.size, len(df)) == (2, 2 * 2 * 2)


def test_metric_agreement_reduced_form(tmp_path, kodak_small):
    """deepjscc, bpg_capacity, jpeg_capacity at 1, 7, 13 dB scored by PSNR, MS-SSIM, LPIPS and
    ViTScore; then the agreement table of `python -m semcom.meta agree`."""
    from semcom.meta.agreement import agreement

    cfg, df = run_study("metric_agreement", "ci", kodak_small, tmp_path / "agree")
    assert set(df.pipeline) == {"deepjscc", "bpg_capacity", "jpeg_capacity"} and len(df) == 3 * 3 * 2
    metrics = ["psnr", "ms_ssim", "lpips", "vitscore"]
    assert df[metrics].notna().all().all() and (df.vitscore <= 1).all()
    table = agreement(df, metrics)
    assert len(table) == 6  # every pair of four metrics
    row = table.set_index(["metric_a", "metric_b"]).loc[("psnr", "ms_ssim")]
    assert row.kendall_points > 0.5  # both rise with SNR and with the bound's rate
    assert ((table.kendall_points >= -1) & (table.kendall_points <= 1)).all()
