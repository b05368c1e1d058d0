"""How figures look: sizes for two-column papers, readable names, colours that tell curves apart.

Sizes: 3.5 in wide (one column) for a single panel, 7.16 in (two columns) for several; 8 pt
text. Every figure is written as vector PDF (fonts embedded as TrueType, Type 42) and 300 dpi PNG,
each atomically (:func:`save_figure`).

**Names.** A curve is labelled with its pipeline's display name (``BPG + LDPC (best MCS)``,
``BPG + capacity``, ``DeepJSCC (1/16)``: the ``pipeline_label`` each row records), or a name the
user gives (``plot.names``). Panels are titled by the channel (``Rayleigh block fading``), the x
axis names Es/N0, the y axis the metric with its unit.

**Colours** (Okabe-Ito, colour-blind safe) are a function of the display name alone, so a curve has
the same colour in every figure: the family (the name up to `` + `` or `` (``: ``BPG``,
``DeepJSCC``) picks a hue, and the curves of one family get distinct shades of it: a bound
(``bound`` rows: an ideal code) the darkest, dashed, with open markers; the best-MCS envelope
the base shade; any other variant a lighter or darker shade by a stable hash of its name.
Published curves (:mod:`semcom.published`) are grey or black, thin and dotted, with hollow markers.
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from semcom.conventions import ratio_label  # noqa: E402,F401  (figures label ratios as 1/16)
from semcom.store.parts import atomic_write  # noqa: E402

logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter

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
#: Hue and marker of known families (the display name up to " + " or " (", lower case).
FAMILY_STYLE = {
    "jpeg": (OKABE_ITO["blue"], "o"),
    "jpeg 2000": (OKABE_ITO["sky_blue"], "s"),
    "bpg": (OKABE_ITO["vermillion"], "D"),
    "hevc": (OKABE_ITO["orange"], "v"),
    "webp": ("#B8A800", "^"),
    "deepjscc": (OKABE_ITO["green"], "P"),
    "adjscc": (OKABE_ITO["purple"], "X"),
    "witt": ("#8C564B", "h"),
    "swin jscc": ("#333333", "*"),
    "swinjscc": ("#333333", "*"),
    "ntscc": ("#7F7F7F", "p"),
}
#: Hues for families not in :data:`FAMILY_STYLE`, chosen by a stable hash of the family.
SPARE_COLOURS = ("#332288", "#117733", "#44AA99", "#882255", "#AA4499", "#999933", "#661100", "#6699CC")
MARKERS = ("o", "s", "D", "^", "v", "<", ">", "p", "h", "X", "P", "*")
#: Shades of a hue: 0 the hue itself; negative mixes with black, positive with white.
SHADES = (0.0, -0.45, 0.4, -0.25, 0.6)
DASHES = ((0, (3, 1, 1, 1)), (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)), (0, (4, 2)))

CHANNEL_TITLES = {"awgn": "AWGN", "rayleigh_block": "Rayleigh block fading", "rayleigh_fast": "Rayleigh fast fading",
                  "rician": "Rician fading", "tdl_ofdm": "TDL multipath, OFDM"}
X_LABELS = {"snr_db": r"SNR $E_s/N_0$ (dB)", "ratio": r"bandwidth ratio $\rho$"}


def _hash(text: str) -> int:
    return zlib.crc32(text.encode())


def channel_title(label: str) -> str:
    """``rician[k_db=3]`` -> ``Rician fading (k_db=3)``; unknown families keep their name."""
    m = re.match(r"^([^\[]+)(?:\[(.*)\])?$", str(label))
    family, settings = (m.group(1), m.group(2)) if m else (str(label), None)
    title = CHANNEL_TITLES.get(family, family)
    return f"{title} ({settings.replace(',', ', ')})" if settings else title


def family(label: str) -> str:
    """The family of a display name: ``BPG + LDPC (best MCS)`` -> ``bpg``; ``DeepJSCC (1/16)`` -> ``deepjscc``."""
    return re.split(r" \+ | \(|@|_", str(label), maxsplit=1)[0].strip().lower()


def _shade(colour: str, amount: float) -> str:
    rgb = mcolors.to_rgb(colour)
    target = (0.0, 0.0, 0.0) if amount < 0 else (1.0, 1.0, 1.0)
    a = abs(amount)
    return mcolors.to_hex(tuple((1 - a) * c + a * t for c, t in zip(rgb, target)))


def curve_style(label: str, bound: bool = False) -> dict:
    """Matplotlib style of a curve, a function of its display name and boundness only."""
    fam = family(label)
    if fam in FAMILY_STYLE:
        hue, marker = FAMILY_STYLE[fam]
    else:
        hue, marker = SPARE_COLOURS[_hash(fam) % len(SPARE_COLOURS)], MARKERS[_hash(fam) % len(MARKERS)]
    if bound:
        return {"color": _shade(hue, SHADES[1]), "marker": marker, "linestyle": "--", "markerfacecolor": "white"}
    low = label.lower()
    plain = low == fam or "best mcs" in low or low.startswith(f"{fam} (") or low in (f"{fam}_ldpc", f"{fam}_ldpc_best")
    if plain:
        return {"color": hue, "marker": marker, "linestyle": "-", "markerfacecolor": hue}
    h = _hash(label)
    colour = _shade(hue, SHADES[2 + h % (len(SHADES) - 2)])
    return {"color": colour, "marker": MARKERS[h % len(MARKERS)], "linestyle": DASHES[h % len(DASHES)], "markerfacecolor": colour}


def new_figure(n_panels: int):
    """A figure of ``n_panels`` panels sharing y, one column wide for one panel, else two."""
    ncols = min(n_panels, 3)
    nrows = -(-n_panels // ncols)
    width = SINGLE_COLUMN_IN if n_panels == 1 else DOUBLE_COLUMN_IN
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, PANEL_HEIGHT_IN * nrows + 0.55), squeeze=False, sharey=True,
                                 layout="constrained")
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def fit_legend(fig, handles: list, labels: list[str], max_ncol: int):
    """A figure legend above the panels with as many columns (at most ``max_ncol``) as fit inside
    the figure's width, measured with the renderer: long names wrap into more rows instead of
    running off the page."""
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
