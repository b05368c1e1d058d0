"""Figures from result tables, sized for two-column papers.

Command line::

    python -m semcom.plot <results.parquet | run dir | multirun dir> [--out DIR] [--metrics psnr ssim]
                          [--reference auto | NAME ... | none]
    python -m semcom.plot grid <run dir | multirun dir> --image kodim23 [--snr 1 7 13] [--channel awgn]
                          [--ratio 1/16] [--pipelines a b] [--out DIR]

Curves (:func:`plot_results`): for every metric, ``<metric>_vs_snr`` (when the table has several
SNR points; one file per ratio, suffixed ``_rho<ratio>``, when it has several ratios) and
``<metric>_vs_ratio`` (when it has several ratios; one file per SNR, suffixed ``_snr<snr>dB``,
when it has several SNRs). One panel per channel; one line per pipeline, the mean over images with
a band of the 95 % Student-t confidence interval; capacity bounds dashed with open markers.

Style: every pipeline has the same colour and marker in every figure, whatever else the figure
holds (:func:`pipeline_style`): the colour is fixed by the pipeline's codec family (the name
before the first ``_``: ``jpeg_ldpc`` and ``jpeg_capacity`` share JPEG's colour; the table
:data:`FAMILY_COLOURS` for known families, a stable hash into :data:`SPARE_COLOURS` for others),
the marker by the family too, a capacity bound is dashed with open markers, and any other variant
of a family gets a marker and dash pattern hashed from its full name. Colours are the Okabe-Ito
colour-blind-safe set.

Sizes: 3.5 in wide (one column) for a single panel, 7.16 in (two columns) for several; 8 pt
text. Every figure is written as vector PDF (fonts embedded as TrueType, Type 42) and 300 dpi PNG,
each atomically.

Published reference curves (:mod:`semcom.published`): ``references`` (the ``--reference`` option,
the ``plot.references`` config key) names curves or sources, or ``auto``; each panel overlays those
of its dataset, channel, ratio (or SNR) and metric, in grey or black, thin and dotted, with hollow
markers, the legend label ending in "(published)" (:func:`draw_references`).

Reconstruction grid (:func:`plot_reconstruction_grid`): from PNGs saved with
``save_reconstructions`` (see :mod:`semcom.store.reconstructions`): the reference, then one row per
pipeline and one column per SNR, each tile labelled with its PSNR (or "lost").
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from semcom.errors import SemcomError  # noqa: E402
from semcom.report.outputs import load_results  # noqa: E402
from semcom.report.summary import metric_columns, t_half_width  # noqa: E402
from semcom.store.parts import atomic_write  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
log = logging.getLogger(__name__)

#: Figure widths, inches: one column and two columns of an IEEE-style two-column paper.
SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.16
PANEL_HEIGHT_IN = 2.2

RC = {
    "pdf.fonttype": 42,  # TrueType (Type 42) embedded, not Type 3
    "ps.fonttype": 42,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "savefig.dpi": 300,
}

# Okabe & Ito (2008) colour-blind-safe colours.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
#: Colour and marker of known codec / model families (the pipeline name before its first ``_``).
FAMILY_COLOURS = {
    "jpeg": (OKABE_ITO["blue"], "o"),
    "jpeg2000": (OKABE_ITO["sky_blue"], "s"),
    "bpg": (OKABE_ITO["vermillion"], "D"),
    "hevc": (OKABE_ITO["orange"], "v"),
    "webp": (OKABE_ITO["yellow"], "^"),
    "deepjscc": (OKABE_ITO["green"], "P"),
    "adjscc": (OKABE_ITO["purple"], "X"),
    "witt": ("#8C564B", "h"),
    "swinjscc": (OKABE_ITO["black"], "*"),
    "ntscc": ("#7F7F7F", "p"),
}
#: Colours for families not in :data:`FAMILY_COLOURS`, chosen by a stable hash of the family.
SPARE_COLOURS = ("#332288", "#117733", "#44AA99", "#882255", "#AA4499", "#999933", "#661100", "#6699CC", "#888888")
MARKERS = ("o", "s", "D", "^", "v", "<", ">", "p", "h", "X", "P", "*")
DASHES = ((0, (3, 1, 1, 1)), (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)), (0, (4, 2)))
LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "ms_ssim": "MS-SSIM", "lpips": "LPIPS (alex)", "lpips_vgg": "LPIPS (vgg)",
          "dists": "DISTS", "fid": "FID (biased at small n)", "kid": "KID", "is": "Inception Score",
          "snr_db": "SNR (dB)", "ratio": r"bandwidth ratio $\rho$"}


def _hash(text: str) -> int:
    return zlib.crc32(text.encode())


def family(pipeline: str) -> str:
    """Codec / model family of a pipeline name: ``jpeg_ldpc`` -> ``jpeg``."""
    return str(pipeline).split("_", 1)[0].split("@", 1)[0].lower()


def is_bound(pipeline: str) -> bool:
    """A capacity-bound curve (an ideal code, not a real chain)."""
    return "capacity" in str(pipeline).lower()


def pipeline_style(pipeline: str, bound: bool | None = None) -> dict:
    """Matplotlib line style of a pipeline, a function of its name only (stable across figures)."""
    fam = family(pipeline)
    if fam in FAMILY_COLOURS:
        colour, marker = FAMILY_COLOURS[fam]
    else:
        colour = SPARE_COLOURS[_hash(fam) % len(SPARE_COLOURS)]
        marker = MARKERS[_hash(fam) % len(MARKERS)]
    bound = is_bound(pipeline) if bound is None else bound
    base_names = {fam, f"{fam}_ldpc"}
    linestyle = "-"
    if bound:
        linestyle = "--"
    elif pipeline.lower() not in base_names:
        h = _hash(pipeline.lower())
        marker = MARKERS[h % len(MARKERS)]
        linestyle = DASHES[h % len(DASHES)]
    return {"color": colour, "marker": marker, "linestyle": linestyle, "markerfacecolor": "white" if bound else colour}


#: Published reference curves: greys (by source) and hollow markers (by method), thin dotted lines.
REFERENCE_GREYS = ("#000000", "#5A5A5A", "#9A9A9A")
REFERENCE_SOURCE_GREYS = {"witt_yang2023": "#000000", "ntscc_dai2022": "#5A5A5A", "compressai_begaint2020": "#9A9A9A"}
REFERENCE_MARKERS = {"WITT": "s", "DeepJSCC": "o", "NTSCC": "D", "SwinJSCC": "*", "ADJSCC": "X", "BPG + LDPC": "v",
                     "BPG + capacity": "^"}


def reference_style(curve) -> dict:
    """Matplotlib style of a published curve: a function of its source and method only."""
    marker = REFERENCE_MARKERS.get(curve.method, MARKERS[_hash(curve.method) % len(MARKERS)])
    bound = "capacity" in curve.method.lower()
    colour = REFERENCE_SOURCE_GREYS.get(curve.source, REFERENCE_GREYS[_hash(curve.source) % len(REFERENCE_GREYS)])
    return {"color": colour, "marker": marker, "markerfacecolor": "none",
            "linestyle": (0, (4, 1.5)) if bound else (0, (1, 1)), "linewidth": 0.8, "markersize": 3.2, "markeredgewidth": 0.7}


def draw_references(ax, curves, metric: str) -> dict:
    """Overlay published curves (:class:`semcom.published.ReferenceCurve`) on a panel.

    The caller picks the curves of the panel (:meth:`ReferenceCurve.matches`); each is drawn in
    :func:`reference_style`, its y converted to ``metric`` where needed (MS-SSIM in dB), labelled
    ``<label> [<source>] (published)``. Returns {label: line} for the legend.
    """
    handles = {}
    for c in curves:
        xs, ys = zip(*c.values(metric))
        (line,) = ax.plot(xs, ys, label=c.legend_label, gid=c.name, zorder=1.5, **reference_style(c))
        handles.setdefault(c.legend_label, line)
    return handles


def _panel_references(references, sub: pd.DataFrame, channel: str, metric: str, x: str) -> list:
    """The curves of ``references`` that fit a panel: its datasets, channel, metric, x axis, and
    the one ratio (x = SNR) or SNR (x = ratio) the panel's table holds."""
    if not references:
        return []
    datasets = sorted(sub["dataset"].astype(str).unique()) if "dataset" in sub.columns else None
    other = "ratio" if x == "snr_db" else "snr_db"
    fixed = sub[other].astype(float).unique() if other in sub.columns else []
    if len(fixed) != 1:
        return []
    at = {other: float(fixed[0])}
    return [c for c in references if c.matches(dataset=datasets, channel=channel, metric=metric, x=x, **at)]


def references_in_table(df: pd.DataFrame) -> list[str]:
    """The ``plot.references`` the table's rows were run with (their stored configs), in order."""
    from semcom.published import parse_spec

    names: list[str] = []
    if "config" not in df.columns:
        return names
    for text in df["config"].dropna().unique():
        try:
            refs = (json.loads(text).get("plot") or {}).get("references")
        except (ValueError, AttributeError):
            continue
        try:
            names += [n for n in parse_spec(refs) if n not in names]
        except SemcomError:
            continue
    return names


def _bounds_from_config(df: pd.DataFrame) -> dict[str, bool]:
    """Pipeline name -> whether its config says ``kind: capacity`` (or its name says capacity)."""
    out = {}
    for name, g in df.groupby("pipeline"):
        kind = None
        if "config" in g.columns and isinstance(g["config"].iloc[0], str):
            try:
                kind = json.loads(g["config"].iloc[0]).get("pipeline", {}).get("kind")
            except ValueError:
                kind = None
        out[name] = kind == "capacity" or is_bound(name)
    return out


def ratio_label(r: float) -> str:
    """``0.0625`` -> ``1/16``; ratios that are not 1/k keep a decimal form."""
    frac = Fraction(float(r)).limit_denominator(1000)
    if abs(float(frac) - r) < 1e-9 and frac.numerator == 1:
        return f"1/{frac.denominator}"
    return f"{r:.4g}"


def _figure(n_panels: int):
    ncols = min(n_panels, 3)
    nrows = math.ceil(n_panels / ncols)
    width = SINGLE_COLUMN_IN if n_panels == 1 else DOUBLE_COLUMN_IN
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, PANEL_HEIGHT_IN * nrows + 0.35), squeeze=False, sharey=True,
                                 layout="constrained")
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def _curve_stats(g: pd.DataFrame, x: str, metric: str) -> pd.DataFrame:
    stats = g.groupby(x)[metric].agg(["mean", "std", "count"]).reset_index().sort_values(x)
    stats["half"] = np.nan_to_num(t_half_width(stats["std"], stats["count"]), nan=0.0)
    return stats


def plot_metric(df: pd.DataFrame, metric: str, x: str = "snr_db", title: str | None = None, references=None):
    """One figure: ``metric`` against ``x`` (``snr_db`` or ``ratio``), a panel per channel.

    ``df`` must hold one value of the other axis (one ratio for ``x=snr_db``). Returns the
    matplotlib Figure (lines are labelled with the pipeline names; ``title`` is appended to
    each panel's channel name). ``references``: published curves (:mod:`semcom.published`) to
    overlay where they fit a panel (:func:`draw_references`).
    """
    if x not in ("snr_db", "ratio"):
        raise SemcomError(f"x={x!r}: choose snr_db or ratio")
    channels = sorted(df["channel"].unique())
    bounds = _bounds_from_config(df)
    fig, axes = _figure(len(channels))
    with plt.rc_context(RC):
        handles = {}
        for ax, ch in zip(axes, channels):
            sub = df[df["channel"] == ch]
            for name in sorted(sub["pipeline"].unique(), key=lambda n: (bounds.get(n, False), n)):
                g = sub[sub["pipeline"] == name]
                if g[metric].notna().sum() == 0:
                    continue
                stats = _curve_stats(g, x, metric)
                st = pipeline_style(name, bounds.get(name))
                (line,) = ax.plot(stats[x], stats["mean"], label=name, **st)
                ax.fill_between(stats[x], stats["mean"] - stats["half"], stats["mean"] + stats["half"], color=st["color"], alpha=0.18, lw=0)
                handles.setdefault(name, line)
            for label, line in draw_references(ax, _panel_references(references, sub, ch, metric, x), metric).items():
                handles.setdefault(label, line)
            ax.set_title(ch if not title else f"{ch}, {title}")
            ax.set_xlabel(LABELS[x])
            ax.grid(True, lw=0.3, alpha=0.5)
            if x == "ratio":
                ratios = sorted(sub["ratio"].unique())
                ax.set_xscale("log", base=2)
                ax.set_xticks(ratios, [ratio_label(r) for r in ratios])
                ax.minorticks_off()
        axes[0].set_ylabel(LABELS.get(metric, metric))
        if handles:
            fit_legend(fig, list(handles.values()), list(handles.keys()), max_ncol=3 if len(axes) == 1 else 5)
    return fig


def fit_legend(fig, handles: list, labels: list[str], max_ncol: int):
    """A figure legend above the panels with as many columns (at most ``max_ncol``) as fit inside
    the figure's width, measured with the renderer: long pipeline names (``*_abstraction``) wrap
    into more rows instead of running off the page."""
    renderer = fig.canvas.get_renderer()
    for ncol in range(min(max_ncol, len(handles)), 0, -1):
        legend = fig.legend(handles, labels, loc="outside upper center", ncol=ncol, frameon=False)
        if ncol == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width * 0.98:
            return legend
        legend.remove()


def save_figure(fig, path_stem: str | Path) -> list[Path]:
    """Write ``<stem>.pdf`` (vector, Type 42 fonts) and ``<stem>.png``, atomically; close ``fig``."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with plt.rc_context(RC):
        for ext in ("pdf", "png"):
            path = stem.with_name(f"{stem.name}.{ext}")
            atomic_write(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext))
            written.append(path)
    plt.close(fig)
    return written


def _snr_tag(s: float) -> str:
    return f"{s:g}".replace("-", "m")


def figure_plan(df: pd.DataFrame, metrics: list[str] | None = None) -> list[dict]:
    """The curve figures :func:`plot_results` draws for a table, without drawing them.

    One dict per figure: ``name`` (file stem), ``metric``, ``x`` (``snr_db`` or ``ratio``), the
    fixed value of the other axis (``ratio`` or ``snr_db``) and the panel ``title`` suffix.
    """
    if not len(df):
        raise SemcomError("the results table is empty: nothing to plot")
    available = metric_columns(df)
    metrics = metrics or available
    unknown = [m for m in metrics if m not in df.columns]
    if unknown:
        raise SemcomError(f"metric {', '.join(unknown)} is not in the results: choose from {', '.join(available)}")
    ratios = sorted(df["ratio"].astype(float).round(9).unique())
    snrs = sorted(df["snr_db"].astype(float).unique())
    plan = []
    for metric in metrics:
        if df[metric].notna().sum() == 0:
            continue
        if len(snrs) > 1 or len(ratios) == 1:
            for r in ratios:
                name = f"{metric}_vs_snr" if len(ratios) == 1 else f"{metric}_vs_snr_rho{r:.6g}"
                title = None if len(ratios) == 1 else rf"$\rho$ = {ratio_label(r)}"
                plan.append({"name": name, "metric": metric, "x": "snr_db", "ratio": r, "title": title})
        if len(ratios) > 1:
            for snr in snrs:
                name = f"{metric}_vs_ratio" if len(snrs) == 1 else f"{metric}_vs_ratio_snr{_snr_tag(snr)}dB"
                title = None if len(snrs) == 1 else f"SNR = {snr:g} dB"
                plan.append({"name": name, "metric": metric, "x": "ratio", "snr_db": snr, "title": title})
    return plan


def plot_results(df: pd.DataFrame, out_dir: str | Path, metrics: list[str] | None = None, references=None) -> list[Path]:
    """Write every curve figure of a table into ``out_dir`` (see :func:`figure_plan`); return the paths.

    ``references``: published curves to overlay (:func:`semcom.published.select`: names, source
    keys, ``auto`` for every curve of the table's datasets; None for none). A named curve that no
    figure can show is reported with a warning.
    """
    from semcom.published import parse_spec, select

    out_dir = Path(out_dir)
    plan = figure_plan(df, metrics)
    datasets = sorted(df["dataset"].astype(str).unique()) if "dataset" in df.columns else None
    curves = select(references, datasets)
    df = df.copy()
    df["ratio"] = df["ratio"].astype(float).round(9)
    written, shown = [], set()
    for fig in plan:
        sub = df[df["ratio"] == fig["ratio"]] if fig["x"] == "snr_db" else df[df["snr_db"] == fig["snr_db"]]
        figure = plot_metric(sub, fig["metric"], fig["x"], fig["title"], curves)
        shown |= {line.get_gid() for ax in figure.axes for line in ax.get_lines()}
        written += save_figure(figure, out_dir / fig["name"])
    names = parse_spec(references)
    missing = [c.name for c in curves if (c.name in names or c.source in names) and c.name not in shown]
    if missing:
        log.warning("published curve(s) %s fit no figure of this table (dataset, channel, ratio or SNR, metric, x axis must match; "
                    "python -m semcom.published show NAME)", ", ".join(missing))
    return written


def plot_metrics_vs_snr(df: pd.DataFrame, out_dir: str | Path, metrics: list[str] | None = None) -> list[Path]:
    """Former name of :func:`plot_results` (kept for callers of the foundation API)."""
    return plot_results(df, out_dir, metrics)


# --- qualitative figure -------------------------------------------------------------------------


def _pick(values, wanted, what: str, flag: str):
    values = sorted(values)
    if wanted is None:
        if len(values) > 1:
            shown = ", ".join(ratio_label(v) if what == "ratio" else str(v) for v in values)
            raise SemcomError(f"the reconstructions hold several {what}s ({shown}): choose one with {flag}")
        return values[0]
    for v in values:
        if (isinstance(v, float) and abs(v - float(wanted)) < 1e-9) or v == wanted:
            return v
    if what == "image":  # a file name without its extension: kodim23 for kodim23.png
        stems = [v for v in values if str(v).rsplit(".", 1)[0] == str(wanted)]
        if len(stems) == 1:
            return stems[0]
    shown = ", ".join(ratio_label(v) if what == "ratio" else str(v) for v in values)
    raise SemcomError(f"no reconstructions at {what} {wanted}: choose one of {shown} with {flag}")


def plot_reconstruction_grid(
    folder: str | Path,
    image: str | None = None,
    snrs: list[float] | None = None,
    channel: str | None = None,
    ratio: float | None = None,
    pipelines: list[str] | None = None,
    seed: int | None = None,
    metric: str = "psnr",
):
    """The qualitative figure from saved reconstructions under ``folder``.

    Returns ``(figure, choice)``, ``choice`` the dict of the image, channel, ratio, seed and SNRs
    shown (each argument left as None is taken from the saved files when only one value exists).

    Layout: the reference at the top left, then one row per pipeline and one column per SNR
    (``snrs``: default every saved SNR, at most 5), 7.16 in wide; each tile is captioned with
    ``metric`` (or "lost" for a failed transmission).
    """
    from PIL import Image

    from semcom.conventions import parse_ratio
    from semcom.store.reconstructions import scan

    table = scan(folder)
    if not len(table):
        raise SemcomError(f"no saved reconstructions under {folder}: run with save_reconstructions=N (or a list of image names)")
    images = sorted(table["image"].unique())
    image = _pick(images, image, "image", "--image")
    table = table[table["image"] == image]
    ref = table[table["reference"]]
    rec = table[~table["reference"]].copy()
    if not len(ref) or not len(rec):
        raise SemcomError(f"image {image}: the reference or the reconstructions are missing under {folder}")
    channel = _pick(rec["channel"].unique(), channel, "channel", "--channel")
    rec = rec[rec["channel"] == channel]
    ratio = _pick(rec["ratio"].astype(float).unique(), None if ratio is None else parse_ratio(ratio), "ratio", "--ratio")
    rec = rec[(rec["ratio"].astype(float) - ratio).abs() < 1e-9]
    seed = _pick(rec["seed"].astype(int).unique(), seed, "seed", "--seed")
    rec = rec[rec["seed"].astype(int) == seed]
    available = sorted(rec["snr_db"].astype(float).unique())
    if snrs:
        missing = [s for s in snrs if not any(abs(s - a) < 1e-9 for a in available)]
        if missing:
            raise SemcomError(f"no reconstructions at SNR {', '.join(f'{s:g}' for s in missing)} dB: saved SNRs are {', '.join(f'{a:g}' for a in available)}")
        cols = [a for a in available if any(abs(s - a) < 1e-9 for s in snrs)]
    else:
        cols = available[:: max(1, math.ceil(len(available) / 5))]
    names = sorted(rec["pipeline"].unique(), key=lambda n: (is_bound(n), n))
    if pipelines:
        unknown = [p for p in pipelines if p not in names]
        if unknown:
            raise SemcomError(f"no reconstructions of pipeline {', '.join(unknown)}: saved pipelines are {', '.join(names)}")
        names = list(pipelines)

    ref_img = np.asarray(Image.open(ref["path"].iloc[0]))
    h, w = ref_img.shape[:2]
    ncols = len(cols) + 1
    tile_w = DOUBLE_COLUMN_IN / ncols
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(names), ncols, figsize=(DOUBLE_COLUMN_IN, tile_w * h / w * len(names) + 0.45), squeeze=False,
                                 layout="constrained")
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
        axes[0][0].imshow(ref_img)
        axes[0][0].set_title("reference")
        for r, name in enumerate(names):
            axes[r][1].set_ylabel(name)
            for c, snr in enumerate(cols, start=1):
                ax = axes[r][c]
                hit = rec[(rec["pipeline"] == name) & ((rec["snr_db"].astype(float) - snr).abs() < 1e-9)]
                if r == 0:
                    ax.set_title(f"SNR {snr:g} dB")
                if not len(hit):
                    ax.text(0.5, 0.5, "not saved", ha="center", va="center", transform=ax.transAxes)
                    continue
                row = hit.iloc[0]
                ax.imshow(np.asarray(Image.open(row["path"])))
                value = row.get(metric)
                lost = bool(row.get("failed", False))
                caption = "lost" if lost else (f"{value:.2f} dB" if metric == "psnr" and value is not None and np.isfinite(value)
                                              else (f"{metric} {value:.3f}" if value is not None and np.isfinite(value) else ""))
                ax.set_xlabel(caption)
        fig.suptitle(f"{image}, {channel}, $\\rho$ = {ratio_label(ratio)}")
    return fig, {"image": image, "channel": channel, "ratio": ratio, "seed": seed, "snr_db": cols, "pipelines": names}


# --- command line -------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # noqa: D102
        self.exit(2, f"error: {message}: see python -m semcom.plot --help\n")


def _main_grid(argv: list[str]) -> int:
    p = _Parser(prog="python -m semcom.plot grid", description="Grid of saved reconstructions (reference, pipelines x SNRs).")
    p.add_argument("folder", help="run or multirun folder (where save_reconstructions wrote reconstructions/)")
    p.add_argument("--image", help="image name (default: the only one saved)")
    p.add_argument("--snr", type=float, nargs="+", help="SNR columns, dB (default: up to 5 saved SNRs)")
    p.add_argument("--channel", help="channel (default: the only one saved)")
    p.add_argument("--ratio", help="bandwidth ratio, e.g. 1/16 (default: the only one saved)")
    p.add_argument("--seed", type=int, help="seed (default: the only one saved)")
    p.add_argument("--pipelines", nargs="+", help="rows, in this order (default: all saved)")
    p.add_argument("--metric", default="psnr", help="metric in the captions (default psnr)")
    p.add_argument("--out", help="folder for the figure (default: FOLDER/figures)")
    args = p.parse_args(argv)
    folder = Path(args.folder)
    if not folder.is_dir():
        raise SemcomError(f"{folder} is not a folder: give the run or multirun folder that holds reconstructions/")
    fig, choice = plot_reconstruction_grid(folder, args.image, args.snr, args.channel, args.ratio, args.pipelines, args.seed, args.metric)
    out = Path(args.out) if args.out else folder / "figures"
    stem = str(choice["image"]).rsplit(".", 1)[0].replace("/", "-")
    for path in save_figure(fig, out / f"reconstructions_{stem}_{choice['channel']}_rho{choice['ratio']:.6g}"):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] == "grid":
            return _main_grid(argv[1:])
        parser = _Parser(prog="python -m semcom.plot", description="Curve figures from a results table (see also: grid).")
        parser.add_argument("results", help="results.parquet, a run folder or a multirun folder")
        parser.add_argument("--out", help="folder for the figures (default: <results folder>/figures)")
        parser.add_argument("--metrics", nargs="+", help="metrics to plot (default: all metric columns)")
        parser.add_argument("--reference", nargs="+", metavar="NAME",
                            help="published curves to overlay: curve names or source keys (python -m semcom.published), "
                                 "'auto' (every curve that fits a panel), or 'none' (default: the run's plot.references)")
        args = parser.parse_args(argv)
        df = load_results(args.results)
        src = Path(args.results)
        out = Path(args.out) if args.out else (src.parent if src.is_file() else src) / "figures"
        references = args.reference if args.reference is not None else references_in_table(df)
        for p in plot_results(df, out, args.metrics, references):
            print(p)
    except SemcomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
