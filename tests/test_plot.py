"""Paper figures: fixed style per pipeline, t-interval bands, sizes, embedded fonts, vs-ratio figures."""

from __future__ import annotations

import re

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from semcom.errors import SemcomError
from semcom.plot import (DOUBLE_COLUMN_IN, FAMILY_COLOURS, SINGLE_COLUMN_IN, figure_plan, main, pipeline_style, plot_metric,
                         plot_results, ratio_label, save_figure)

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
    assert pipeline_style("jpeg_ldpc") == pipeline_style("jpeg_ldpc")
    assert pipeline_style("jpeg_ldpc")["color"] == FAMILY_COLOURS["jpeg"][0] == pipeline_style("jpeg_capacity")["color"]
    assert pipeline_style("jpeg_capacity")["linestyle"] == "--" and pipeline_style("jpeg_ldpc")["linestyle"] == "-"
    assert pipeline_style("jpeg_capacity")["markerfacecolor"] == "white"
    assert pipeline_style("bpg_ldpc")["color"] != pipeline_style("jpeg_ldpc")["color"]
    # a variant of a family keeps the colour but gets its own marker / dashes; unknown families are stable
    assert pipeline_style("jpeg_ldpc_16qam")["color"] == FAMILY_COLOURS["jpeg"][0]
    assert pipeline_style("jpeg_ldpc_16qam")["linestyle"] != "-"
    assert pipeline_style("mynewmodel") == pipeline_style("mynewmodel")


def test_same_colours_and_markers_when_a_figure_has_fewer_pipelines():
    full = _lines(plot_metric(_table(["jpeg_ldpc", "bpg_ldpc", "deepjscc", "jpeg_capacity"]), "psnr"))
    alone = _lines(plot_metric(_table(["deepjscc"]), "psnr"))
    for attr in ("get_color", "get_marker", "get_linestyle"):
        assert getattr(full["deepjscc"], attr)() == getattr(alone["deepjscc"], attr)()
    assert mcolors.to_hex(full["jpeg_ldpc"].get_color()).upper() == FAMILY_COLOURS["jpeg"][0]
    assert full["jpeg_capacity"].get_linestyle() == "--"


def test_band_is_the_t_interval_and_panels_per_channel():
    fig = plot_metric(_table(["jpeg_ldpc"], channels=("awgn", "rayleigh_block")), "psnr")
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["awgn", "rayleigh_block"]
    band = fig.axes[0].collections[0].get_paths()[0].vertices
    # at SNR 1 dB: values 11.625, 21.625, 31.625 -> mean 21.625, half-width t * 10 / sqrt(3)
    ys = band[np.isclose(band[:, 0], 1.0), 1]
    half = T975_DOF2 * 10 / np.sqrt(3)
    assert ys.min() == pytest.approx(21.625 - half) and ys.max() == pytest.approx(21.625 + half)


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
    _table(["jpeg_ldpc"]).to_parquet(table)
    assert main([str(table), "--metrics", "psnr"]) == 0
    assert (tmp_path / "figures" / "psnr_vs_snr.pdf").is_file()
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
