"""Published reference curves: every file validates, filters, the figure overlay and its options,
and the published numbers the validation scripts print."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from semcom.errors import SemcomError
from semcom.published import CURVES_DIR, curves_for, library, list_curves, load_curve, load_file, parse_spec, select, sources
from semcom.published.__main__ import main as published_main

REQUIRED_SOURCES = {"witt_yang2023", "ntscc_dai2022", "compressai_begaint2020"}


def test_every_file_parses_and_validates():
    files = sorted(CURVES_DIR.glob("*.yaml"))
    assert {f.stem for f in files} >= REQUIRED_SOURCES
    names = []
    for f in files:
        curves = load_file(f)
        assert curves and all(c.source == f.stem and c.name.startswith(f"{f.stem}/") for c in curves)
        for c in curves:
            assert c.citation.doi or c.citation.arxiv or c.citation.url
            assert c.precision and c.tolerance >= 0 and c.kind in ("table", "figure", "repository")
            assert (c.x == "snr_db") == (c.ratio is not None) and (c.x == "ratio") == (c.snr_db is not None)
            assert [x for x, _ in c.points] == sorted({x for x, _ in c.points})
        names += [c.name for c in curves]
    assert len(names) == len(set(names)) == len(list_curves())
    assert set(sources()) == {f.stem for f in files}


def _copy(tmp_path, text: str, name="witt_yang2023.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("metric: psnr", "metric: psnrr", 1), "witt_yang2023.yaml: curve 1 (witt_awgn_r1_16_psnr): metric='psnrr'"),
    (lambda t: t.replace("[4, 31.30]", "[0.5, 31.30]", 1), "does not increase"),
    (lambda t: t.replace("[4, 31.30]", "[4, 313.0]", 1), "point 2 y=313 is outside"),
    (lambda t: t.replace("    ratio: 1/16\n", "", 1), "x=snr_db needs the curve's bandwidth ratio"),
    (lambda t: t.replace("    kind: figure\n", "    kind: blog\n", 1), "kind='blog'"),
    (lambda t: t.replace("    label: WITT\n", "    label: WITT\n    colour: red\n", 1), "unknown key colour"),
    (lambda t: t.replace("key: witt_yang2023", "key: witt", 1), "must equal the file name"),
    (lambda t: t.replace("points: [[1, 29.66]", "points: [[1, 29.66", 1), "not valid YAML at line"),
    (lambda t: t.replace("    tolerance: 0.05\n", "", 1), "tolerance missing"),
])
def test_a_malformed_file_gives_one_line_naming_it(tmp_path, change, message):
    text = (CURVES_DIR / "witt_yang2023.yaml").read_text()
    bad = _copy(tmp_path, change(text))
    with pytest.raises(SemcomError, match=None) as info:
        load_file(bad)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("witt_yang2023.yaml: ") and message in msg


def test_a_malformed_file_in_a_folder_stops_the_library(tmp_path):
    folder = tmp_path / "curves"
    shutil.copytree(CURVES_DIR, folder)
    (folder / "ntscc_dai2022.yaml").write_text((folder / "ntscc_dai2022.yaml").read_text().replace("channel: awgn", "channel: wifi", 1))
    with pytest.raises(SemcomError, match=r"^ntscc_dai2022.yaml: curve 1 \(ntscc_awgn_snr10_psnr\): channel='wifi'"):
        library(folder)


def test_curves_for_filters():
    awgn16 = curves_for(dataset="kodak", channel="awgn", ratio="1/16", metric="psnr")
    names = {c.name for c in awgn16}
    assert {"witt_yang2023/witt_awgn_r1_16_psnr", "witt_yang2023/deepjscc_awgn_r1_16_psnr", "witt_yang2023/bpg_ldpc_awgn_r1_16_psnr",
            "ntscc_dai2022/ntscc_awgn_r1_16_psnr"} <= names
    assert all(c.x == "snr_db" and c.channel == "awgn" and c.ratio == 0.0625 and c.metric == "psnr" for c in awgn16)
    # MS-SSIM published in dB is offered (converted) for an ms_ssim axis
    ms = curves_for(channel="awgn", ratio=1 / 16, metric="ms_ssim")
    assert ms and {c.metric for c in ms} == {"ms_ssim_db"}
    witt = load_curve("witt_yang2023/witt_awgn_r1_16_ms_ssim")
    assert witt.values("ms_ssim")[0][1] == pytest.approx(1 - 10 ** (-13.48 / 10))
    # a channel label with settings counts as its channel; x = ratio curves by their SNR
    assert {c.name for c in curves_for(channel="rayleigh_fast[csi=ls]", x="ratio", snr_db=3)} == {
        "witt_yang2023/witt_rayleigh_snr3_psnr", "witt_yang2023/deepjscc_rayleigh_snr3_psnr", "witt_yang2023/bpg_ldpc_rayleigh_snr3_psnr"}
    # papers plot 1/24 as 0.0417; a source-codec curve has no channel
    assert curves_for(x="bpp", metric="psnr", source="compressai_begaint2020")
    assert not curves_for(dataset="cifar10")
    assert not curves_for(channel="awgn", ratio=1 / 6)


def test_select_names_sources_auto_and_errors():
    assert select(None) == [] and select([]) == [] and select("none") == []
    assert [c.name for c in select(["witt_yang2023/witt_awgn_r1_16_psnr"])] == ["witt_yang2023/witt_awgn_r1_16_psnr"]
    assert {c.source for c in select(["ntscc_dai2022"])} == {"ntscc_dai2022"}
    assert len(select("auto", ["kodak"])) == len(list_curves()) and select("auto", ["builtin"]) == []
    assert parse_spec("auto, witt_yang2023") == ["auto", "witt_yang2023"]
    with pytest.raises(SemcomError, match="unknown published curve 'witt_yang2023/witt_awgn_r1_16_psnrr': did you mean"):
        select(["witt_yang2023/witt_awgn_r1_16_psnrr"])


def _table(channel="awgn", ratio=0.0625, snrs=(1.0, 4.0, 7.0), dataset="kodak", config=None):
    rows = []
    for s in snrs:
        for j, v in enumerate((24.0, 25.0, 26.0)):
            rows.append({"dataset": dataset, "image": f"i{j}", "pipeline": "deepjscc", "checkpoint": "", "channel": channel, "snr_db": s,
                         "ratio": ratio, "seed": 0, "failed": False, "psnr": v + s / 10, "ms_ssim": 0.9 + s / 1000,
                         "config": json.dumps(config or {})})
    return pd.DataFrame(rows)


def _labels(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


def test_figure_overlays_the_published_line_in_its_own_style():
    from matplotlib.colors import to_hex

    from semcom.report.figures import _panel_references, draw_references, plot_metric
    from semcom.report.style import curve_style

    refs = select(["witt_yang2023", "ntscc_dai2022"])
    fig = plot_metric(_table(), "psnr", "snr_db", references=refs)
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    lines = _labels(fig)
    witt = lines["WITT [WITT, Yang et al. 2023] (published)"]
    assert list(witt.get_xdata()) == [1, 4, 7, 10, 13] and list(witt.get_ydata()) == [29.66, 31.30, 32.62, 33.60, 34.29]
    assert "NTSCC [NTSCC, Dai et al. 2022] (published)" in lines and "deepjscc" in lines
    # not the panel's: other ratio, x axis or channel
    assert not any("snr10" in k or "MS-SSIM" in k for k in lines) and len([k for k in lines if "(published)" in k]) == 5
    assert witt.get_markerfacecolor() == "none" and witt.get_linewidth() < 1.0
    assert to_hex(witt.get_color()) in ("#000000", "#5a5a5a", "#9a9a9a") and witt.get_color() != curve_style("deepjscc")["color"]
    assert "WITT [WITT, Yang et al. 2023] (published)" in legend_texts
    # an MS-SSIM panel gets the dB curves converted
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ms = draw_references(ax, _panel_references(refs, _table(), "awgn", "ms_ssim", "snr_db"), "ms_ssim")
    plt.close(fig)
    assert ms["WITT [WITT, Yang et al. 2023] (published)"].get_ydata()[0] == pytest.approx(1 - 10 ** (-13.48 / 10))
    # another channel's panel, dataset or ratio: nothing
    assert not _panel_references(refs, _table("rayleigh_block"), "rayleigh_block", "psnr", "snr_db")
    assert not _panel_references(refs, _table(dataset="builtin"), "awgn", "psnr", "snr_db")
    assert not _panel_references(refs, _table(ratio=1 / 6), "awgn", "psnr", "snr_db")
    assert len(_panel_references(refs, _table("rayleigh_fast"), "rayleigh_fast", "psnr", "snr_db")) == 3


def test_plot_results_auto_and_ratio_axis(tmp_path):
    from semcom.report.figures import plot_metric

    df = pd.concat([_table(ratio=r, snrs=(10.0,)) for r in (1 / 48, 1 / 24, 1 / 12)], ignore_index=True)
    fig = plot_metric(df, "psnr", "ratio", references=select("auto", ["kodak"]))
    names = {k for k in _labels(fig) if "(published)" in k}
    assert "WITT [WITT, Yang et al. 2023] (published)" in names and "NTSCC [NTSCC, Dai et al. 2022] (published)" in names
    assert "BPG + capacity [WITT, Yang et al. 2023] (published)" in names


def test_plot_cli_reference_option(tmp_path, capsys, caplog):
    from semcom.plot import main

    table = tmp_path / "results.parquet"
    _table().to_parquet(table)
    assert main([str(table), "--out", str(tmp_path / "a"), "--metrics", "psnr", "--reference", "witt_yang2023/witt_awgn_r1_16_psnr",
                 "witt_yang2023/witt_awgn_snr10_psnr"]) == 0
    assert (tmp_path / "a" / "psnr_vs_snr.pdf").is_file()
    assert "witt_yang2023/witt_awgn_snr10_psnr fit no figure" in caplog.text  # named but no panel can show it
    assert main([str(table), "--out", str(tmp_path / "b"), "--reference", "witt_yang2023/nope"]) == 2
    assert "error: unknown published curve 'witt_yang2023/nope'" in capsys.readouterr().err
    assert main([str(table), "--out", str(tmp_path / "c"), "--metrics", "ms_ssim", "--reference", "auto"]) == 0
    assert (tmp_path / "c" / "ms_ssim_vs_snr.png").is_file()


def test_run_config_names_references(tmp_path, monkeypatch):
    """plot.references in the config: checked by validate, drawn by the run's figures and by a redraw."""
    from semcom import plot
    from semcom.runner.config import compose
    from semcom.runner.settings import job_settings as validate

    cfg = compose(["plot.references=[witt_yang2023,auto]"])
    assert validate(cfg).plot["references"] == ["witt_yang2023", "auto"]
    cfg.plot.references = []
    assert validate(cfg).plot["references"] == []
    cfg.plot.references = ["witt2023"]
    with pytest.raises(SemcomError, match="unknown published curve 'witt2023'"):
        validate(cfg)
    # a redraw without --reference takes the run's plot.references from the table's stored config
    seen = []
    monkeypatch.setattr(plot, "plot_results", lambda df, out, metrics=None, references=None, **opts: seen.append(references) or [])
    table = tmp_path / "results.parquet"
    _table(config={"plot": {"references": ["witt_yang2023"]}}).to_parquet(table)
    assert plot.main([str(table)]) == 0 and seen[-1] == ["witt_yang2023"]
    assert plot.main([str(table), "--reference", "none"]) == 0 and seen[-1] == ["none"]


def test_write_outputs_passes_references(tmp_path):
    from semcom.report.outputs import write_outputs

    written = write_outputs(_table().drop(columns="ms_ssim"), tmp_path, plot_options={"references": ["witt_yang2023"]})
    assert (tmp_path / "figures" / "psnr_vs_snr.png").is_file() and "results" in written


def test_published_cli(capsys):
    assert published_main([]) == 0
    out = capsys.readouterr().out
    assert "witt_yang2023/witt_awgn_r1_16_psnr" in out and "compressai_begaint2020/bpg_psnr" in out and "arXiv:2211.00937" in out
    assert published_main(["list", "--channel", "rayleigh_fast", "--x", "ratio"]) == 0
    out = capsys.readouterr().out
    assert "witt_rayleigh_snr3_psnr" in out and "awgn_r1_16" not in out
    assert published_main(["show", "ntscc_dai2022/ntscc_awgn_r1_16_psnr"]) == 0
    assert "(1, 29.03)" in capsys.readouterr().out
    assert published_main(["show", "nope"]) == 2
    assert "error: unknown published curve 'nope'" in capsys.readouterr().err


def test_validation_scripts_read_the_library():
    """codecs_kodak compares with the same CompressAI points as before the library; evaluate prints WITT's figure values."""
    from semcom.jscc.evaluate import SNR_POINTS, published_psnr
    from semcom.tools.codecs_kodak import PUBLISHED

    assert PUBLISHED == {"bpg": [(0.161, 28.68), (0.352, 31.59), (0.685, 34.86)], "jpeg": [(0.508, 29.04), (1.037, 32.79)],
                         "webp": [(0.513, 31.44)], "jpeg2000": [(0.342, 29.70)]}
    pub = published_psnr()
    assert pub == {"DeepJSCC": (28.15, 29.48, 30.44, 31.52, 32.08), "WITT": (29.66, 31.30, 32.62, 33.60, 34.29)}
    # the values the module held before (read by eye to +-0.2 dB) agree within that
    before = {"DeepJSCC": (28.2, 29.5, 30.5, 31.5, 32.1), "WITT": (29.7, 31.3, 32.6, 33.6, 34.3)}
    for label, vals in before.items():
        assert all(abs(a - b) <= 0.1 for a, b in zip(pub[label], vals)) and len(vals) == len(SNR_POINTS)


def test_cross_checks_between_sources():
    """Numbers two figures or two sources share agree (BPG at capacity: bits = rho 3HW log2(1 + SNR),
    so bpp = 3 rho log2(1 + SNR) links every BPG + capacity curve to a BPG rate-distortion curve)."""
    import numpy as np

    def bpg_curve(name, snr_db=None, ratio=None):  # (bpp, PSNR) of a BPG + capacity curve
        c = load_curve(name)
        if c.x == "ratio":
            return np.array([(3 * r * np.log2(1 + 10 ** (c.snr_db / 10)), y) for r, y in c.points])
        return np.array([(3 * c.ratio * np.log2(1 + 10 ** (s / 10)), y) for s, y in c.points])

    eps = bpg_curve("witt_yang2023/bpg_capacity_awgn_snr10_psnr")  # exact (vector figure)
    png = bpg_curve("witt_yang2023/bpg_capacity_awgn_r1_16_psnr")  # read from a raster figure, +-0.05 dB
    for bpp, psnr in png:
        assert abs(np.interp(bpp, eps[:, 0], eps[:, 1]) - psnr) < 0.1
    # the PNG's SNRs are those of the exact MS-SSIM figure (the same BPG qualities at capacity)
    ms_x = [x for x, _ in load_curve("witt_yang2023/bpg_capacity_awgn_r1_16_ms_ssim").points]
    assert all(min(abs(x - m) for m in ms_x) < 0.05 for x, _ in load_curve("witt_yang2023/bpg_capacity_awgn_r1_16_psnr").points)
    # WITT's BPG points lie 0.1 .. 0.3 dB above CompressAI's BPG curve at the same rate (other BPG settings)
    bpg = np.array(load_curve("compressai_begaint2020/bpg_psnr").points)
    gaps = [psnr - np.interp(bpp, bpg[:, 0], bpg[:, 1]) for bpp, psnr in eps if bpg[0, 0] <= bpp <= bpg[-1, 0]]
    assert len(gaps) > 10 and 0 < min(gaps) and max(gaps) < 0.3
    # at 10 dB the BPG + LDPC points need 1.297 x the capacity ratio at every BPG quality: one MCS,
    # 2.667 bits per channel use (16-QAM, rate 2/3) against log2(11) = 3.46
    cap = {y: x for x, y in load_curve("witt_yang2023/bpg_capacity_awgn_snr10_psnr").points}
    ldpc = load_curve("witt_yang2023/bpg_ldpc_awgn_snr10_psnr").points
    assert all(abs(x / cap[y] - np.log2(11) / (4 * 2 / 3)) < 0.01 for x, y in ldpc)


def test_docs_list_every_curve():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "published_curves.md").read_text()
    assert all(f"`{c.name}`" in doc for c in list_curves())
