"""Which metrics separate semantic-preserving from semantic-changing transformations.

Input: result rows of ``pipeline=transform`` jobs (columns ``transform``, ``family``,
``strength`` and one column per metric). Rows at strength 0 (the identity) are left out.

AUC of a metric = P(a preserving pair scores as more similar than a changing pair), over every
(preserving row, changing row) combination, ties counted 1/2 (the Mann-Whitney U statistic over
n_p n_c); scores are oriented so that "more similar" is the metric's better direction
(``higher_is_better`` of the registered metric; LPIPS and DISTS are negated). 1 = the metric
always rates the preserving transformations closer to the reference, 0.5 = chance, < 0.5 = it
rates the changing ones closer. ``auc@s`` restricts both families to strength s.
The 95 % interval is a percentile bootstrap over images (rows of an image resampled together).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from semcom.errors import SemcomError
from semcom.report.summary import higher_is_better, metric_columns

FAMILY_COLOURS = {"preserving": "#0072B2", "changing": "#D55E00"}  # Okabe-Ito blue / vermillion


def auc(preserving: np.ndarray, changing: np.ndarray) -> float:
    """P(preserving > changing) + 1/2 P(tie) over all pairs; NaN when a side is empty."""
    p = np.asarray(preserving, float)
    c = np.asarray(changing, float)
    p, c = p[np.isfinite(p)], c[np.isfinite(c)]
    if not len(p) or not len(c):
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([p, c]))
    u = ranks[: len(p)].sum() - len(p) * (len(p) + 1) / 2
    return float(u / (len(p) * len(c)))


def _bootstrap_auc(v: pd.Series, fam: pd.Series, image: np.ndarray, counts: np.ndarray | None) -> tuple[float, float]:
    """95 % percentile interval of the AUC when whole images are resampled (``counts``: (B, images)
    multinomial draws; a row's weight is its image's count)."""
    ok = np.isfinite(v.to_numpy())
    p = ok & (fam == "preserving").to_numpy()
    c = ok & (fam == "changing").to_numpy()
    if counts is None or not p.any() or not c.any():
        return float("nan"), float("nan")
    vp, vc = v.to_numpy()[p], v.to_numpy()[c]
    wins = (vp[:, None] > vc[None, :]) + 0.5 * (vp[:, None] == vc[None, :])  # (n_p, n_c)
    wp, wc = counts[:, image[p]], counts[:, image[c]]  # (B, n_p), (B, n_c)
    denom = wp.sum(1) * wc.sum(1)
    good = denom > 0
    boot = ((wp @ wins) * wc).sum(1)[good] / denom[good]
    return (float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))) if len(boot) else (float("nan"), float("nan"))


def _transform_rows(df: pd.DataFrame) -> pd.DataFrame:
    need = {"transform", "family", "strength"}
    if not need <= set(df.columns):
        raise SemcomError(f"the results have no {', '.join(sorted(need - set(df.columns)))} column: give the folder of a pipeline=transform run (sweep=transform)")
    return df[df["transform"].notna()].copy()


def separation_metrics(df: pd.DataFrame) -> list[str]:
    return [m for m in metric_columns(df) if df[m].notna().any()]


def separation_table(df: pd.DataFrame, metrics: list[str] | None = None, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per metric: ``auc``, ``auc_lo``/``auc_hi`` (95 % bootstrap over images),
    ``auc@<s>`` per strength, ``n_preserving``, ``n_changing`` (rows at strength > 0)."""
    df = _transform_rows(df)
    df = df[df["strength"].astype(float) > 0]
    metrics = metrics or separation_metrics(df)
    if not len(df) or set(df["family"]) != {"preserving", "changing"}:
        raise SemcomError("separation needs rows of both families (a preserving and a changing transform) at strength > 0")
    rng = np.random.default_rng(seed)
    images = np.array(sorted(df["image"].unique()))
    image_index = pd.Series(np.arange(len(images)), index=images)
    # bootstrap over images: multinomial counts per image (the same draws for every metric)
    counts = rng.multinomial(len(images), np.full(len(images), 1.0 / len(images)), size=n_boot).astype(float) if n_boot else None
    strengths = sorted(df["strength"].astype(float).unique())
    rows = []
    for m in metrics:
        sign = 1.0 if higher_is_better(df, m) else -1.0
        v = df[m].astype(float) * sign
        fam = df["family"]
        row = {"metric": m, "auc": auc(v[fam == "preserving"], v[fam == "changing"])}
        row["auc_lo"], row["auc_hi"] = _bootstrap_auc(v, fam, image_index.loc[df["image"]].to_numpy(), counts)
        for s in strengths:
            at = df["strength"].astype(float) == s
            row[f"auc@{s:g}"] = auc(v[at & (fam == "preserving")], v[at & (fam == "changing")])
        row["n_preserving"] = int(((fam == "preserving") & v.notna()).sum())
        row["n_changing"] = int(((fam == "changing") & v.notna()).sum())
        rows.append(row)
    return pd.DataFrame(rows).sort_values("auc", ascending=False).reset_index(drop=True)


def plot_separation(df: pd.DataFrame, metric: str):
    """Figure: mean ``metric`` over images against strength, a line per transform, preserving
    in blue and changing in vermillion (strength 0 included where it was run)."""
    import matplotlib.pyplot as plt

    from semcom.report.figures import axis_label
    from semcom.report.style import MARKERS, RC, SINGLE_COLUMN_IN

    df = _transform_rows(df)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(SINGLE_COLUMN_IN, 2.6), layout="constrained")
        for k, (name, g) in enumerate(sorted(df.groupby("transform"), key=lambda t: (t[1]["family"].iloc[0] != "preserving", t[0]))):
            stats = g.groupby(g["strength"].astype(float))[metric].mean().sort_index()
            if stats.notna().sum() == 0:
                continue
            fam = g["family"].iloc[0]
            ax.plot(stats.index, stats.values, color=FAMILY_COLOURS.get(fam, "#888888"), marker=MARKERS[k % len(MARKERS)],
                    linestyle="-" if fam == "preserving" else "--", label=name)
        ax.set_xlabel("transform strength")
        ax.set_ylabel(axis_label(df, metric))
        ax.grid(True, lw=0.3, alpha=0.5)
        ax.legend(ncol=2, fontsize=5.5, frameon=False)
        ax.set_title(f"{metric}: preserving (solid, blue) vs changing (dashed, vermillion)", fontsize=6.5)
    return fig


def write_separation(df: pd.DataFrame, out_dir: str | Path, metrics: list[str] | None = None, plots: bool = True,
                     n_boot: int = 1000) -> dict[str, Path]:
    """``separation.csv`` (the table) and ``figures/separation_<metric>.{pdf,png}`` in ``out_dir``."""
    from semcom.plot import save_figure
    from semcom.report.outputs import write_table

    out_dir = Path(out_dir)
    table = separation_table(df, metrics, n_boot=n_boot)
    written = {"separation": write_table(table, out_dir / "separation.csv")}
    if plots:
        for m in table["metric"]:
            for path in save_figure(plot_separation(df, m), out_dir / "figures" / f"separation_{m}"):
                written[path.name] = path
    return written


def format_table(table: pd.DataFrame) -> str:
    cols = ["metric", "auc", "auc_lo", "auc_hi"] + [c for c in table.columns if c.startswith("auc@")] + ["n_preserving", "n_changing"]
    return table[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}")
