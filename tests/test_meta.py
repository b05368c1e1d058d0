"""semcom.meta: agreement statistics, correlate on a small ratings file (TID2013 references with
synthetic distortions of known order), and fitting sess_lite's constants with cached graphs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from semcom.datasets import load_image
from semcom.errors import SemcomError
from semcom.meta.__main__ import main as meta_main
from semcom.meta.correlate import correlate
from semcom.meta.fit import cached_raw_graphs, fit_metric, split_pairs
from semcom.meta.ratings import load_ratings
from semcom.meta.stats import bootstrap_intervals, correlations, fit_logistic, logistic4
from semcom.metrics import select_metrics
from semcom.metrics.sess import SeSSLite
from semcom.metrics.sess.components import Segments
from semcom.metrics.sess.metric import DEFAULT_PARAMS, load_params

TID = Path(os.environ.get("SEMCOM_DATA", "")).parent / "calibration" / "tid2013_pairs"
SIGMAS = (0.02, 0.05, 0.1, 0.2)  # Gaussian noise levels: the known order of quality


def test_logistic_fit_and_correlations_by_hand():
    x = np.linspace(-3, 3, 25)
    truth = (4.0, 1.0, 0.5, 0.8)
    y = logistic4(x, *truth)
    params = fit_logistic(x, y)
    assert np.allclose(logistic4(x, *params), y, atol=1e-6)
    c = correlations(x, y)
    assert c["srocc"] == pytest.approx(1.0) and c["krocc"] == pytest.approx(1.0)
    assert c["plcc"] == pytest.approx(1.0, abs=1e-9) and c["plcc_fit"] == "logistic"
    # a falling relation: rank correlations -1, the logistic falls too, so PLCC stays +1
    c = correlations(-x, y)
    assert c["srocc"] == pytest.approx(-1.0) and c["krocc"] == pytest.approx(-1.0) and c["plcc"] == pytest.approx(1.0, abs=1e-6)
    # Kendall by hand: x = 1..4, y with one swapped pair -> (5 - 1) / 6
    assert correlations([1, 2, 3, 4], [1, 2, 4, 3])["krocc"] == pytest.approx(4 / 6)
    noisy = y + np.random.default_rng(0).normal(0, 0.3, len(y))
    ci = bootstrap_intervals(x, noisy, n_boot=60)
    point = correlations(x, noisy)
    for k in ("srocc", "krocc", "plcc"):
        assert ci[k][0] <= point[k] <= ci[k][1] and ci[k][0] < ci[k][1]


@pytest.fixture(scope="module")
def ratings(tmp_path_factory) -> Path:
    """5 TID2013 references (48 x 64) x 4 noise levels; score = 4 - level (higher = better)."""
    root = tmp_path_factory.mktemp("ratings")
    rows = []
    g = torch.Generator().manual_seed(0)
    for ref_path in sorted((TID / "ref_dir").glob("*.bmp")):
        ref = load_image(ref_path)[None]
        ref = torch.nn.functional.interpolate(ref, size=(48, 64), mode="bilinear", antialias=True).clamp(0, 1)
        ref_png = root / f"{ref_path.stem}.png"
        _save(ref[0], ref_png)
        for level, sigma in enumerate(SIGMAS):
            dist = (ref + sigma * torch.randn(ref.shape, generator=g)).clamp(0, 1)
            name = f"{ref_path.stem}_n{level}.png"
            _save(dist[0], root / name)
            rows.append({"reference": ref_png.name, "distorted": name, "score": float(len(SIGMAS) - level)})
    path = root / "ratings.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _save(x: torch.Tensor, path: Path) -> None:
    from PIL import Image

    Image.fromarray((x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()).save(path)


def test_correlate_on_tid2013_with_known_order(ratings, tmp_path):
    written = correlate(ratings, ["psnr", "lpips"], tmp_path / "out", n_boot=40)
    table = pd.read_csv(written["correlation"]).set_index("metric")
    scores = pd.read_csv(written["scores"])
    assert len(scores) == 20 and table.loc["psnr", "n"] == 20
    # PSNR by hand for one pair
    r = scores.iloc[5]
    a, b = load_image(r["reference"]), load_image(r["distorted"])
    assert r["psnr"] == pytest.approx(float(-10 * torch.log10(((a - b) ** 2).mean())), abs=1e-3)
    # within each reference, both metrics rank the four noise levels exactly (Kendall +1 / -1)
    for _, g in scores.groupby("reference"):
        assert correlations(g["psnr"], g["score"])["krocc"] == pytest.approx(1.0)
        assert correlations(g["lpips"], g["score"])["krocc"] == pytest.approx(-1.0)
    # over all pairs (ties in the score across references): strong, and of the right sign
    assert table.loc["psnr", "srocc"] > 0.9 and table.loc["lpips", "srocc"] < -0.85
    assert table.loc["psnr", "srocc_lo"] <= table.loc["psnr", "srocc"] <= table.loc["psnr", "srocc_hi"]
    assert table.loc["psnr", "plcc"] > 0.9 and not table.loc["lpips", "higher_is_better"]
    assert (tmp_path / "out" / "figures" / "scatter_lpips.png").is_file()


def test_ratings_and_cli_errors(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("reference,distorted,mos\na.png,b.png,1\n")
    with pytest.raises(SemcomError, match="no score column"):
        load_ratings(bad)
    assert meta_main(["correlate", "--ratings", str(bad)]) == 2
    assert "error: ratings file" in capsys.readouterr().err
    assert meta_main(["fit", "psnr", "--ratings", str(bad)]) == 2
    with pytest.raises(SemcomError, match="metric_params names sess_lite"):
        select_metrics(["psnr"], {"sess_lite": {"params": "x.yaml"}})


class ToySegmenter:
    """Two boxes: the left and the right half of the image (no network)."""

    tag = "toy-halves"

    def load(self):
        return self

    def segment(self, image):
        h, w = image.shape[-2:]
        return Segments(np.array([[0, 0, w // 2, h], [w // 2, 0, w, h]], float), labels=["left", "right"])


class ToyEmbedder:
    """Colour statistics (mean, std and a 4-bin luminance histogram per crop): a tiny embedder."""

    tag = "toy-colour"

    def load(self):
        return self

    def _f(self, x):
        lum = x.mean(0).flatten()
        hist = torch.histc(lum, bins=4, min=0, max=1) / lum.numel()
        return torch.cat([x.mean((1, 2)), x.std((1, 2)), hist]).double().numpy()

    def crops(self, crops):
        return np.stack([self._f(c) for c in crops])

    def image(self, image):
        return self._f(image)


def test_fit_sess_lite_writes_params_the_metric_loads_and_caches_graphs(ratings, tmp_path):
    metric = SeSSLite(segmenter=ToySegmenter(), embedder=ToyEmbedder())
    df = load_ratings(ratings)
    train, held = split_pairs(df, 0.6, seed=0)
    assert set(df.iloc[train]["reference"]).isdisjoint(df.iloc[held]["reference"]) and len(train) == 12
    out = tmp_path / "fitted.yaml"
    cache = tmp_path / "cache"
    report = fit_metric(metric, ratings, out, train_fraction=0.6, maxiter=3, popsize=2, cache_dir=cache)
    fit = report["fit"]
    assert fit["graphs_extracted_now"] == 25 == fit["graphs_total"]  # 5 references + 20 distorted, each once
    assert fit["srocc_train_fitted"] >= fit["srocc_train_default"]
    assert (fit["train_pairs"], fit["heldout_pairs"]) == (12, 8)
    params = load_params(out)
    assert set(params) == set(DEFAULT_PARAMS) and params == pytest.approx(report["params"])
    # the metric built on the file uses the fitted constants: its scores equal the fit's
    tuned = SeSSLite(segmenter=ToySegmenter(), embedder=ToyEmbedder(), params=str(out)).load()
    assert tuned.params == pytest.approx(report["params"])
    if tuned.params != DEFAULT_PARAMS:
        assert "[" in tuned.checkpoint
    a, b = load_image(df["reference"][0])[None], load_image(df["distorted"][0])[None]
    raws, n_new = cached_raw_graphs(tuned, [df["reference"][0], df["distorted"][0]], cache)
    assert n_new == 0  # read from the cache
    from semcom.metrics.sess.metric import assemble_graph, score_graphs

    by_cache = score_graphs(assemble_graph(raws[df["reference"][0]], tuned.params), assemble_graph(raws[df["distorted"][0]], tuned.params),
                            tuned.predicate_similarity(), tuned.params)
    assert tuned(a, b).item() == pytest.approx(by_cache, abs=1e-5)
    assert yaml.safe_load(out.read_text())["metric"] == "sess_lite"
    again = fit_metric(metric, ratings, tmp_path / "again.yaml", train_fraction=0.6, maxiter=1, popsize=2, cache_dir=cache)
    assert again["fit"]["graphs_extracted_now"] == 0
    with pytest.raises(SemcomError, match="outside"):
        load_params({"beta": 3})
