"""Paper figures: style per display name, honest bands, names, filters, sizes, embedded fonts, vs-ratio figures."""

from __future__ import annotations

import re

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from semcom.errors import SemcomError
from semcom.conventions import ratio_label
from semcom.plot import main
from semcom.report.figures import FigureOptions, figure_plan, plot_metric, plot_results
from semcom.report.style import DOUBLE_COLUMN_IN, FAMILY_STYLE, SINGLE_COLUMN_IN, curve_style, save_figure

T975_DOF2 = (2 * 0.975 - 1) / np.sqrt(2 * 0.975 * 0.025)  # closed form for 2 degrees of freedom


def _table(pipelines, channels=("awgn",), snrs=(1.0, 7.0), ratios=(0.0625,), values=(10.0, 20.0, 30.0)):
    rows = []
    for p in pipelines:
        for ch in channels:
            for s in snrs:
                for r in ratios:
                    for j, v in enumerate(values):
                        rows.append({"dataset": "d", "image": f"i{j}", "pipeline": p, "checkpoint": "", "channel": ch, "snr_db": s,
                                     "ratio": r, "seed": 0, "failed": False, "psnr": v + s + 10 * r})
    return pd.DataFrame(rows)


def _lines(fig):
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


def test_style_is_a_function_of_the_name_only():
    bpg = FAMILY_STYLE["bpg"][0]
    assert curve_style("BPG + LDPC (best MCS)") == curve_style("BPG + LDPC (best MCS)")
    assert curve_style("BPG + LDPC (best MCS)")["color"] == bpg and curve_style("BPG + LDPC (best MCS)")["linestyle"] == "-"
    bound = curve_style("BPG + capacity", bound=True)
    assert bound["linestyle"] == "--" and bound["markerfacecolor"] == "white"
    assert bound["color"] != bpg  # distinct colours within a family
    assert curve_style("BPG + LDPC (QPSK 1/2)")["color"] not in (bpg, bound["color"])
    assert curve_style("JPEG + LDPC (best MCS)")["color"] != bpg and curve_style("DeepJSCC (1/16)")["color"] == FAMILY_STYLE["deepjscc"][0]
    assert curve_style("mynewmodel") == curve_style("mynewmodel")


def test_same_colours_and_markers_when_a_figure_has_fewer_pipelines():
    full = _lines(plot_metric(_table(["jpeg_ldpc", "bpg_ldpc", "deepjscc", "jpeg_capacity"]), "psnr"))
    alone = _lines(plot_metric(_table(["deepjscc"]), "psnr"))
    for attr in ("get_color", "get_marker", "get_linestyle"):
        assert getattr(full["deepjscc"], attr)() == getattr(alone["deepjscc"], attr)()
    assert mcolors.to_hex(full["jpeg_ldpc"].get_color()).upper() == FAMILY_STYLE["jpeg"][0]


def test_labels_titles_bounds_and_axes_come_from_the_rows():
    df = _table(["bpg_ldpc_best", "bpg_capacity", "deepjscc"], channels=("awgn", "rayleigh_block"))
    labels = {"bpg_ldpc_best": "BPG + LDPC (best MCS)", "bpg_capacity": "BPG + capacity", "deepjscc": "DeepJSCC (1/16)"}
    df["pipeline_label"] = df.pipeline.map(labels)
    df["bound"] = df.pipeline == "bpg_capacity"
    fig = plot_metric(df, "psnr")
    lines = _lines(fig)
    assert set(lines) == set(labels.values()) and lines["BPG + capacity"].get_linestyle() == "--"
    assert lines["BPG + capacity"].get_color() != lines["BPG + LDPC (best MCS)"].get_color()
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["AWGN", "Rayleigh block fading"]
    assert fig.axes[0].get_xlabel() == r"SNR $E_s/N_0$ (dB)" and fig.axes[0].get_ylabel() == "PSNR (dB)"
    renamed = _lines(plot_metric(df, "psnr", options=FigureOptions(names={"deepjscc": "Ours"}, pipelines=["deepjscc", "bpg_capacity"])))
    assert set(renamed) == {"Ours", "BPG + capacity"}


def test_bands_t_interval_auto_below_five_images_and_range():
    fig = plot_metric(_table(["jpeg_ldpc"], channels=("awgn", "rayleigh_block")), "psnr", options=FigureOptions(ci="t"))
    band = fig.axes[0].collections[0].get_paths()[0].vertices
    # at SNR 7 dB: values 17.625, 27.625, 37.625 -> mean 27.625, half-width t * 10 / sqrt(3) = 24.8;
    # at 1 dB (mean 21.625) the interval's low end, -3.2 dB, is clipped to PSNR's 0 dB
    half = T975_DOF2 * 10 / np.sqrt(3)
    ys = band[np.isclose(band[:, 0], 7.0), 1]
    assert ys.min() == pytest.approx(27.625 - half) and ys.max() == pytest.approx(27.625 + half)
    ys = band[np.isclose(band[:, 0], 1.0), 1]
    assert ys.min() == 0.0 and ys.max() == pytest.approx(21.625 + half)
    auto = plot_metric(_table(["jpeg_ldpc"]), "psnr")  # 3 images: no band by default, and the caption says so
    assert not auto.axes[0].collections and "no band below 5 images" in auto._supxlabel.get_text()
    low = plot_metric(_table(["jpeg_ldpc"], values=(0.5, 3.0, 60.0)), "psnr", options=FigureOptions(ci="t"))
    band = low.axes[0].collections[0].get_paths()[0].vertices
    assert band[:, 1].min() >= 0.0  # a PSNR band never goes below 0 dB
    boot = plot_metric(_table(["jpeg_ldpc"], values=tuple(float(v) for v in range(10, 80, 10))), "psnr", options=FigureOptions(ci="bootstrap"))
    assert boot.axes[0].collections and "bootstrap" in boot._supxlabel.get_text()
    with pytest.raises(SemcomError, match="plot.ci='wide' is unknown"):
        FigureOptions(ci="wide")


def _pdf_size_in(path):
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", path.read_bytes())
    return float(box.group(1)) / 72, float(box.group(2)) / 72


def test_files_sizes_fonts(tmp_path):
    one = plot_results(_table(["jpeg_ldpc", "jpeg_capacity"]), tmp_path / "one")
    assert sorted(p.name for p in one) == ["psnr_vs_snr.pdf", "psnr_vs_snr.png"]
    pdf1 = tmp_path / "one" / "psnr_vs_snr.pdf"
    pdf2, _ = save_figure(plot_metric(_table(["jpeg_ldpc"], channels=("awgn", "rayleigh_block")), "psnr"), tmp_path / "two")
    assert _pdf_size_in(pdf1)[0] == pytest.approx(SINGLE_COLUMN_IN, abs=0.01)
    assert _pdf_size_in(pdf2)[0] == pytest.approx(DOUBLE_COLUMN_IN, abs=0.01)
    data = pdf1.read_bytes()
    assert b"/FontFile2" in data and b"/Type3" not in data  # TrueType (Type 42) embedded, no Type 3 fonts
    from PIL import Image

    with Image.open(tmp_path / "one" / "psnr_vs_snr.png") as im:
        assert im.size[0] == round(SINGLE_COLUMN_IN * 300)


def test_which_figures_a_table_gets():
    one_snr = figure_plan(_table(["jpeg_ldpc"], snrs=(10.0,), ratios=(1 / 16, 1 / 8, 1 / 4)))
    assert [(f["name"], f["x"]) for f in one_snr] == [("psnr_vs_ratio", "ratio")]  # one SNR: no vs-SNR figure
    grid = figure_plan(_table(["jpeg_ldpc"], snrs=(1.0, 10.0), ratios=(1 / 16, 1 / 8)))
    assert {f["name"] for f in grid} == {"psnr_vs_ratio_snr1dB", "psnr_vs_ratio_snr10dB", "psnr_vs_snr_rho0.0625", "psnr_vs_snr_rho0.125"}
    assert [f["name"] for f in figure_plan(_table(["jpeg_ldpc"]))] == ["psnr_vs_snr"]


def test_vs_ratio_axis():
    fig = plot_metric(_table(["jpeg_ldpc"], snrs=(10.0,), ratios=(1 / 16, 1 / 8, 1 / 4)), "psnr", x="ratio")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1/16", "1/8", "1/4"]
    assert ratio_label(0.1) == "1/10" and ratio_label(0.3) == "0.3"


def test_plot_cli(tmp_path, capsys):
    table = tmp_path / "results.parquet"
    _table(["jpeg_ldpc", "deepjscc"]).to_parquet(table)
    assert main([str(table), "--metrics", "psnr"]) == 0
    assert (tmp_path / "figures" / "psnr_vs_snr.pdf").is_file()
    assert main([str(table), "--out", str(tmp_path / "o"), "--ci", "t", "--names", "deepjscc=Ours", "--pipelines", "deepjscc",
                 "--ylim", "psnr=5,60"]) == 0
    assert (tmp_path / "o" / "psnr_vs_snr.png").is_file()
    assert main([str(table), "--ylim", "psnr=60"]) == 2
    assert "LOW,HIGH" in capsys.readouterr().err
    assert main([str(table), "--metrics", "lpips"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: metric lpips is not in the results")
    with pytest.raises(SemcomError, match="empty"):
        plot_results(_table([]).iloc[:0], tmp_path)


def test_legend_of_long_pipeline_names_stays_inside_the_figure():
    """Four fast-mode pipelines on one single-column panel: the legend wraps into more rows
    rather than running off the page (it did: three columns of *_abstraction names are wider
    than 3.5 in); short names keep three columns."""
    long = ["bpg_ldpc_best_abstraction", "jpeg_ldpc_best_abstraction", "bpg_capacity", "deepjscc"]
    fig = plot_metric(_table(long), "psnr")
    fig.canvas.draw()
    (legend,) = fig.legends
    box, page = legend.get_window_extent(), fig.bbox
    assert box.x0 >= page.x0 and box.x1 <= page.x1 and 1 <= legend._ncols < 3
    assert fig.get_size_inches()[0] == pytest.approx(SINGLE_COLUMN_IN)
    short = plot_metric(_table(["bpg_ldpc", "jpeg_ldpc", "deepjscc", "bpg_capacity"]), "psnr")
    assert short.legends[0]._ncols == 3


def test_set_metric_points_figure_names_curves_and_says_one_score_per_point(tmp_path):
    """FID / KID / IS rows have no image column: the figure counts images from ``fid_n``, takes the
    display names from the per-image table, and its caption says there is one score per point."""
    from semcom.report.outputs import with_labels, write_outputs

    df = _table(["deepjscc", "bpg_capacity"])
    df["pipeline_label"] = df["pipeline"].map({"deepjscc": "DeepJSCC (1/16)", "bpg_capacity": "BPG + capacity"})
    df["bound"] = df["pipeline"] == "bpg_capacity"
    points = (df.groupby(["dataset", "pipeline", "channel", "ratio", "seed", "snr_db"], as_index=False)["psnr"].mean()
              .rename(columns={"psnr": "fid"}))
    points["fid_n"] = 3
    written = write_outputs(df, tmp_path, points=points)
    assert "fid_vs_snr.png" in written and "psnr_vs_snr.png" in written
    fig = plot_metric(with_labels(points, df), "fid", "snr_db")
    assert set(_lines(fig)) >= {"DeepJSCC (1/16)", "BPG + capacity"}
    assert _lines(fig)["BPG + capacity"].get_linestyle() == "--"  # drawn as a bound, as in the per-image figures
    caption = fig._supxlabel.get_text()
    assert "(3 images)" in caption and "one score per point" in caption
