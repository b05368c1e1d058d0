"""Curve figures from result tables: a metric against SNR (or bandwidth ratio), a panel per channel.

:func:`plot_results` writes, for every metric, ``<metric>_vs_snr`` (one file per ratio, suffixed
``_rho<ratio>``, when the table has several) and ``<metric>_vs_ratio`` (when it has several
ratios; one file per SNR, suffixed ``_snr<snr>dB``, when it has several SNRs). Each curve is the
mean over images of a pipeline (realizations of an image averaged first) with a band of the
interval :func:`semcom.report.summary.point_stats` computes, the same one the summary reports:

* ``ci=auto`` (default): the 95 % Student-t interval over images, from 5 images on; with fewer,
  no band, and the caption says so (at n = 2 a t interval is +-12.7 standard errors wide);
* ``ci=t``, ``ci=bootstrap`` (percentile bootstrap over images), ``ci=none``.

Bands never leave a metric's range (PSNR >= 0, SSIM in [-1, 1], LPIPS >= 0: each metric's
declaration). The y axis follows the means, not the bands; ``ylim`` fixes it per metric.

Options (the ``plot`` section of the config; ``python -m semcom.plot`` flags): ``names``
(pipeline name -> display name), ``pipelines`` and ``channels`` (which to draw, in this order),
``ylim`` (metric -> [low, high]), ``ci``, ``references`` (published curves, :mod:`semcom.published`).
A caption line under the panels names the dataset, the number of images, the ratio (or SNR), the
realizations per image and what the band is. Names, colours and sizes: :mod:`semcom.report.style`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from semcom.conventions import ratio_label  # noqa: E402
from semcom.errors import SemcomError  # noqa: E402
from semcom.report.style import (  # noqa: E402
    MARKERS, RC, X_LABELS, _hash, channel_title, curve_style, fit_legend, new_figure, save_figure,
)
from semcom.report.summary import CI_METHODS, MIN_N_BAND, declaration_of, metric_columns, metric_names, point_stats  # noqa: E402

log = logging.getLogger(__name__)


@dataclass
class FigureOptions:
    """What a user may choose about the curve figures (see the module docstring)."""

    ci: str = "auto"
    names: dict = field(default_factory=dict)
    pipelines: list | None = None
    channels: list | None = None
    ylim: dict = field(default_factory=dict)
    references: list | None = None

    def __post_init__(self):
        if self.ci not in CI_METHODS:
            raise SemcomError(f"plot.ci={self.ci!r} is unknown: choose one of {', '.join(CI_METHODS)}")
        for metric, lim in (self.ylim or {}).items():
            if not isinstance(lim, (list, tuple)) or len(lim) != 2 or not all(isinstance(v, (int, float)) for v in lim) or lim[0] >= lim[1]:
                raise SemcomError(f"plot.ylim.{metric}={lim!r} must be [low, high] with low < high, e.g. plot.ylim.psnr=[20,40]")


# ---- names -------------------------------------------------------------------------------------


def curve_labels(df: pd.DataFrame, names: dict | None = None) -> dict[str, str]:
    """Pipeline name -> legend label: the user's name, else the rows' ``pipeline_label``, else
    the pipeline name; two pipelines with one label get their names appended."""
    names = names or {}
    labels = {}
    for name in df["pipeline"].unique():
        g = df[df["pipeline"] == name]
        stored = g["pipeline_label"].dropna().iloc[-1] if "pipeline_label" in g.columns and g["pipeline_label"].notna().any() else name
        labels[name] = str(names.get(name, stored))
    counts = pd.Series(list(labels.values())).value_counts()
    return {k: (f"{v} [{k}]" if counts[v] > 1 and k not in names else v) for k, v in labels.items()}


def is_bound(df: pd.DataFrame, name: str) -> bool:
    """A pipeline's rows say it is an ideal bound (``bound``; older tables: ``kind: capacity``)."""
    g = df[df["pipeline"] == name]
    if "bound" in g.columns and g["bound"].notna().any():
        return bool(g["bound"].dropna().iloc[-1])
    if "config" in g.columns and isinstance(g["config"].iloc[0], str):
        try:
            return json.loads(g["config"].iloc[0]).get("pipeline", {}).get("kind") == "capacity"
        except (ValueError, AttributeError):
            return False
    return False


def axis_label(df: pd.DataFrame, metric: str) -> str:
    """``PSNR (dB)``, ``LPIPS (alex), lower is better``: the metric's declared label and unit."""
    d = declaration_of(df, metric)
    label = d.get("label") or metric
    if d.get("unit"):
        label = f"{label} ({d['unit']})"
    if d and not d.get("higher_is_better", True):
        label += ", lower is better"
    return label


def dataset_title(name: str, n: int) -> str:
    """``24 Kodak images``, ``5 built-in images``, ``imgs (12 images)``."""
    if name in ("kodak", "builtin"):
        return f"{n} {'Kodak' if name == 'kodak' else 'built-in'} image{'s' if n != 1 else ''}"
    return f"{str(name).removeprefix('folder:')} ({n} image{'s' if n != 1 else ''})"


def caption(df: pd.DataFrame, x: str, method: str, small_n: bool) -> str:
    """The line under the panels: dataset, images, ratio or SNR, realizations, what the band is."""
    parts = []
    set_metric = "image" not in df.columns  # a points table (FID, KID, IS): one score per point
    for ds, g in df.groupby("dataset"):
        counts = [c for c in g.columns if c.endswith("_n")] if set_metric else []
        n = int(g[counts].max().max()) if counts else int(g["image"].nunique()) if not set_metric else 0
        parts.append(dataset_title(ds, n))
    other = "ratio" if x == "snr_db" else "snr_db"
    values = sorted(df[other].astype(float).unique())
    if len(values) == 1:
        parts.append(rf"$\rho$ = {ratio_label(values[0])}" if other == "ratio" else f"SNR = {values[0]:g} dB")
    if "realization" in df.columns and df["realization"].nunique() > 1:
        parts.append(f"{df['realization'].nunique()} channel realizations per image")
    if set_metric:
        parts.append("one score per point over all its images (a set metric)")
    elif method == "none":
        parts.append("no confidence band")
    elif small_n:
        parts.append(f"no band below {MIN_N_BAND} images (plot.ci=t draws one)")
    else:
        parts.append("band: 95 % " + ("bootstrap" if method == "bootstrap" else "t") + " interval over images")
    return "; ".join(parts)


# ---- drawing ------------------------------------------------------------------------------------


def _draw_curve(ax, stats: pd.DataFrame, x: str, label: str, style: dict):
    (line,) = ax.plot(stats[x], stats["mean"], label=label, **style)
    band = stats[np.isfinite(stats["lo"]) & np.isfinite(stats["hi"])]
    if len(band):
        ax.fill_between(band[x], band["lo"], band["hi"], color=style["color"], alpha=0.16, lw=0)
    return line


def _ylim(ax_values: list[np.ndarray], metric: str, df: pd.DataFrame, options: FigureOptions):
    if metric in (options.ylim or {}):
        return tuple(options.ylim[metric])
    v = np.concatenate([a[np.isfinite(a)] for a in ax_values]) if ax_values else np.array([])
    if not len(v):
        return None
    lo, hi = float(v.min()), float(v.max())
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi) * 0.05, 0.05)
    rmin, rmax = declaration_of(df, metric).get("range", (-np.inf, np.inf))
    return max(lo - pad, rmin), min(hi + pad, rmax)


def _panel_references(references, sub: pd.DataFrame, channel: str, metric: str, x: str) -> list:
    """The published curves that fit a panel: its datasets, channel, metric, x axis, and the one
    ratio (x = SNR) or SNR (x = ratio) the panel's table holds."""
    if not references:
        return []
    datasets = sorted(sub["dataset"].astype(str).unique()) if "dataset" in sub.columns else None
    other = "ratio" if x == "snr_db" else "snr_db"
    fixed = sub[other].astype(float).unique() if other in sub.columns else []
    if len(fixed) != 1:
        return []
    return [c for c in references if c.matches(dataset=datasets, channel=channel, metric=metric, x=x, **{other: float(fixed[0])})]


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
    """Overlay published curves (:class:`semcom.published.ReferenceCurve`) on a panel, labelled
    ``<label> [<source>] (published)``; returns {label: line} for the legend."""
    handles = {}
    for c in curves:
        xs, ys = zip(*c.values(metric))
        (line,) = ax.plot(xs, ys, label=c.legend_label, gid=c.name, zorder=1.5, **reference_style(c))
        handles.setdefault(c.legend_label, line)
    return handles


def _order(df: pd.DataFrame, options: FigureOptions, labels: dict) -> list[str]:
    names = list(df["pipeline"].unique())
    if options.pipelines:
        unknown = [p for p in options.pipelines if p not in names]
        if unknown:
            raise SemcomError(f"plot.pipelines names {', '.join(unknown)}, which the table does not hold: choose from {', '.join(sorted(names))}")
        return list(options.pipelines)
    return sorted(names, key=lambda n: (is_bound(df, n), labels[n].lower()))


def plot_metric(df: pd.DataFrame, metric: str, x: str = "snr_db", title: str | None = None, references=None,
                options: FigureOptions | None = None):
    """One figure: ``metric`` against ``x`` (``snr_db`` or ``ratio``), a panel per channel.

    ``df`` must hold one value of the other axis (one ratio for ``x=snr_db``). Returns the
    matplotlib Figure. ``references``: published curves to overlay where they fit a panel.
    """
    if x not in ("snr_db", "ratio"):
        raise SemcomError(f"x={x!r}: choose snr_db or ratio")
    options = options or FigureOptions()
    channels = list(options.channels) if options.channels else sorted(df["channel"].unique())
    missing = [c for c in channels if c not in set(df["channel"])]
    if missing:
        raise SemcomError(f"plot.channels names {', '.join(missing)}, which the table does not hold: choose from {', '.join(sorted(df['channel'].unique()))}")
    labels = curve_labels(df, options.names)
    order = _order(df, options, labels)
    fig, axes = new_figure(len(channels))
    small_n, values = False, []
    with plt.rc_context(RC):
        handles = {}
        for ax, ch in zip(axes, channels):
            sub = df[df["channel"] == ch]
            for name in order:
                g = sub[sub["pipeline"] == name]
                if not len(g) or g[metric].notna().sum() == 0:
                    continue
                stats = point_stats(g, [x], metric, options.ci).sort_values(x)
                small_n |= options.ci == "auto" and bool((stats["n"] < MIN_N_BAND).any())
                values.append(stats["mean"].to_numpy(dtype=float))
                handles.setdefault(labels[name], _draw_curve(ax, stats, x, labels[name], curve_style(labels[name], is_bound(df, name))))
            for label, line in draw_references(ax, _panel_references(references, sub, ch, metric, x), metric).items():
                handles.setdefault(label, line)
                values.append(np.asarray(line.get_ydata(), dtype=float))
            ax.set_title(channel_title(ch) if not title else f"{channel_title(ch)}, {title}")
            ax.set_xlabel(X_LABELS[x])
            ax.grid(True, lw=0.3, alpha=0.5)
            if x == "snr_db":
                snrs = sorted(sub["snr_db"].astype(float).unique())
                if 1 < len(snrs) <= 12:  # ticks at the SNR points that were run
                    ax.set_xticks(snrs, [f"{v:g}".replace("-", "\u2212") for v in snrs])
            if x == "ratio":
                ratios = sorted(sub["ratio"].unique())
                ax.set_xscale("log", base=2)
                ax.set_xticks(ratios, [ratio_label(r) for r in ratios])
                ax.minorticks_off()
        lim = _ylim(values, metric, df, options)
        if lim:
            axes[0].set_ylim(*lim)
        axes[0].set_ylabel(axis_label(df, metric))
        if handles:
            fit_legend(fig, list(handles.values()), list(handles.keys()), max_ncol=3 if len(axes) == 1 else 5)
        text = wrap_caption(caption(df[df["channel"].isin(channels)], x, options.ci, small_n), fig.get_figwidth())
        fig.supxlabel(text, fontsize=6.5, color="0.3")
    return fig


def wrap_caption(text: str, width_in: float) -> str:
    """``text`` broken at its ``; `` separators into lines that fit a figure ``width_in`` inches wide
    (6.5 pt text: about 19 characters per inch)."""
    limit = max(30, int(width_in * 19))
    lines, line = [], ""
    for part in text.split("; "):
        candidate = f"{line}; {part}" if line else part
        if line and len(candidate) > limit:
            lines.append(line + ";")
            line = part
        else:
            line = candidate
    return "\n".join([*lines, line])


def _snr_tag(s: float) -> str:
    return f"{s:g}".replace("-", "m")


def figure_plan(df: pd.DataFrame, metrics: list[str] | None = None) -> list[dict]:
    """The curve figures :func:`plot_results` draws for a table, without drawing them.

    ``metrics``: columns to draw (default: each metric's main column, e.g. ``vitscore`` but not its
    companions ``vitscore_p`` / ``vitscore_r``, which can be named). One dict per figure: ``name`` (file stem), ``metric``, ``x`` (``snr_db`` or ``ratio``), the
    fixed value of the other axis (``ratio`` or ``snr_db``) and the panel ``title`` suffix.
    """
    if not len(df):
        raise SemcomError("the results table is empty: nothing to plot")
    available = metric_columns(df)
    metrics = metrics or metric_names(df)  # by default each metric's main column; companions (vitscore_p) when named
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


def plot_results(df: pd.DataFrame, out_dir: str | Path, metrics: list[str] | None = None, references=None, **options) -> list[Path]:
    """Write every curve figure of a table into ``out_dir`` (see :func:`figure_plan`); return the paths.

    ``references``: published curves to overlay (:func:`semcom.published.select`: names, source
    keys, ``auto`` for every curve of the table's datasets; None for none); a named curve that no
    figure can show is reported with a warning. ``options``: :class:`FigureOptions` fields.
    """
    from semcom.published import parse_spec, select

    opts = FigureOptions(**options)
    out_dir = Path(out_dir)
    if opts.pipelines:
        df = df[df["pipeline"].isin(opts.pipelines)]
    if opts.channels:
        df = df[df["channel"].isin(opts.channels)]
    plan = figure_plan(df, metrics)
    datasets = sorted(df["dataset"].astype(str).unique()) if "dataset" in df.columns else None
    curves = select(references, datasets)
    df = df.copy()
    df["ratio"] = df["ratio"].astype(float).round(9)
    written, shown = [], set()
    for fig in plan:
        sub = df[df["ratio"] == fig["ratio"]] if fig["x"] == "snr_db" else df[df["snr_db"] == fig["snr_db"]]
        figure = plot_metric(sub, fig["metric"], fig["x"], fig["title"], curves, opts)
        shown |= {line.get_gid() for ax in figure.axes for line in ax.get_lines()}
        written += save_figure(figure, out_dir / fig["name"])
    names = parse_spec(references)
    missing = [c.name for c in curves if (c.name in names or c.source in names) and c.name not in shown]
    if missing:
        log.warning("published curve(s) %s fit no figure of this table (dataset, channel, ratio or SNR, metric, x axis must match; "
                    "python -m semcom.published show NAME)", ", ".join(missing))
    return written


def references_in_table(df: pd.DataFrame) -> list[str]:
    """The ``plot.references`` the table's rows were run with (their stored configs), in order."""
    from semcom.published import parse_spec

    names: list[str] = []
    if "config" not in df.columns:
        return names
    for text in df["config"].dropna().unique():
        try:
            refs = (json.loads(text).get("plot") or {}).get("references")
            names += [n for n in parse_spec(refs) if n not in names]
        except (ValueError, AttributeError, SemcomError):
            continue
    return names
