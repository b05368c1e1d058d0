"""Published reference curves: numbers from papers and their repositories, one YAML file per source.

Each file in ``semcom/published/curves/`` holds the curves of one source (a paper, or a project's
published results) and says where every number comes from::

    source:                       # the publication
      key: witt_yang2023          # = the file name without .yaml
      short: WITT, Yang et al. 2023          # for legends
      citation: {authors, title, venue, year, doi and/or arxiv and/or url}
    defaults: {dataset: kodak}    # optional: any curve field shared by the curves below
    curves:
      - name: witt_awgn_r1_16_psnr           # the curve is known as witt_yang2023/witt_awgn_r1_16_psnr
        label: WITT                          # legend text (drawn as "WITT [WITT, Yang et al. 2023] (published)")
        method: WITT                         # the scheme the curve measures
        kind: figure                         # table | figure | repository
        provenance: {repository, commit, path, figure}   # or {table: ...}, {figure: ...}, {url: ...}
        precision: "+-0.05 dB, read from ..."            # how exact, in words
        tolerance: 0.05                      # the same as a number, in the metric's unit (0: exact)
        dataset: kodak
        channel: awgn                        # awgn | rayleigh_fast | rayleigh_block | none (source coding)
        x: snr_db                            # snr_db (Es/N0 per complex symbol, dB) | ratio | bpp
        ratio: 1/16                          # with x: snr_db: rho = complex channel uses / (3HW)
        # snr_db: 10                         # with x: ratio: the SNR of the curve
        metric: psnr                         # psnr | ms_ssim | ms_ssim_db (-10 log10(1 - MS-SSIM)) | ssim | lpips
        points: [[1, 29.66], [4, 31.30]]     # (x, y), x strictly increasing
        notes: "training SNR, model variant, the source's conventions where they differ from semcom's"

Every file is validated when the library is read; a problem ends with a one-line
:class:`~semcom.errors.SemcomError` naming the file, the curve and the fix.

API: :func:`list_curves`, :func:`load_curve`, :func:`curves_for` (filter by dataset, channel,
ratio, SNR, metric, x axis), :func:`select` (names, source keys or ``auto``, as the plot option
and the ``plot.references`` config key take them). ``python -m semcom.published`` lists the curves.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from semcom.errors import SemcomError

#: Folder of the packaged curve files.
CURVES_DIR = Path(__file__).parent / "curves"
KINDS = ("table", "figure", "repository")
CHANNELS = ("awgn", "rayleigh_fast", "rayleigh_block", "none")
X_AXES = ("snr_db", "ratio", "bpp")
METRICS = ("psnr", "ms_ssim", "ms_ssim_db", "ssim", "lpips")
#: Plausible range of each metric's values (a value outside is a typo).
Y_RANGES = {"psnr": (0.0, 100.0), "ms_ssim": (0.0, 1.0), "ms_ssim_db": (0.0, 100.0), "ssim": (-1.0, 1.0), "lpips": (0.0, 2.0)}
X_RANGES = {"snr_db": (-30.0, 60.0), "ratio": (0.0, 1.0), "bpp": (0.0, 48.0)}
#: (stored metric, wanted metric) -> conversion of one value.
CONVERSIONS = {
    ("ms_ssim_db", "ms_ssim"): lambda v: 1.0 - 10.0 ** (-v / 10.0),
    ("ms_ssim", "ms_ssim_db"): lambda v: -10.0 * math.log10(1.0 - v) if v < 1 else math.inf,
}
#: Relative tolerance when matching a curve's bandwidth ratio (papers plot 1/24 as 0.0417).
RATIO_RTOL = 0.005
#: Tolerance when matching a curve's SNR, dB.
SNR_ATOL = 0.05

_SOURCE_KEYS = {"key", "short", "citation"}
_CITATION_KEYS = {"authors", "title", "venue", "year", "doi", "arxiv", "url"}
_CURVE_KEYS = {"name", "label", "method", "kind", "provenance", "precision", "tolerance", "dataset", "channel", "x", "ratio",
               "snr_db", "metric", "points", "notes"}
_PROVENANCE_KEYS = {"repository", "commit", "path", "figure", "table", "url", "page"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


@dataclass(frozen=True)
class Citation:
    """Who published the numbers, and where."""

    authors: str
    title: str
    venue: str
    year: int
    doi: str | None = None
    arxiv: str | None = None
    url: str | None = None

    def text(self) -> str:
        """One line: ``authors, "title", venue, year, doi:..., arXiv:..., url``."""
        parts = [self.authors, f'"{self.title}"', self.venue, str(self.year)]
        if self.doi:
            parts.append(f"doi:{self.doi}")
        if self.arxiv:
            parts.append(f"arXiv:{self.arxiv}")
        if self.url:
            parts.append(self.url)
        return ", ".join(parts)


@dataclass(frozen=True, eq=False)
class ReferenceCurve:
    """One published curve: points (x, y) and where they come from (see the module docstring)."""

    name: str  # "<source>/<curve>"
    label: str
    method: str
    source: str
    source_short: str
    citation: Citation
    kind: str
    provenance: dict
    precision: str
    tolerance: float
    dataset: str
    channel: str
    x: str
    metric: str
    points: tuple
    ratio: float | None = None
    snr_db: float | None = None
    notes: str = ""
    file: Path | None = field(default=None, repr=False)

    @property
    def legend_label(self) -> str:
        """Legend text: ``WITT [WITT, Yang et al. 2023] (published)``."""
        return f"{self.label} [{self.source_short}] (published)"

    @property
    def at(self) -> str:
        """The fixed value of the other axis, in words: ``rho=1/16``, ``10 dB``, or ``-``."""
        if self.x == "snr_db" and self.ratio is not None:
            return f"rho={ratio_text(self.ratio)}"
        if self.x == "ratio" and self.snr_db is not None:
            return f"{self.snr_db:g} dB"
        return "-"

    def can_show_as(self, metric: str) -> bool:
        """Whether the curve's values can be drawn on a ``metric`` axis (its own, or a conversion)."""
        return metric == self.metric or (self.metric, metric) in CONVERSIONS

    def values(self, metric: str | None = None) -> list[tuple[float, float]]:
        """The points, with y converted to ``metric`` (default: the curve's own metric)."""
        metric = metric or self.metric
        if metric == self.metric:
            return [tuple(p) for p in self.points]
        conv = CONVERSIONS.get((self.metric, metric))
        if conv is None:
            raise SemcomError(f"reference {self.name} is in {self.metric}: it cannot be shown as {metric}")
        return [(x, conv(y)) for x, y in self.points]

    def y_at(self, x: float, metric: str | None = None) -> float:
        """The published y at exactly ``x`` (a point of the curve; no interpolation)."""
        for px, py in self.values(metric):
            if math.isclose(px, x, rel_tol=1e-9, abs_tol=1e-9):
                return py
        raise SemcomError(f"reference {self.name} has no point at x={x:g}: its points are at {', '.join(f'{p[0]:g}' for p in self.points)}")

    def matches(self, dataset=None, channel=None, ratio=None, metric=None, x=None, snr_db=None) -> bool:
        """Whether the curve fits a panel; every argument left as None matches anything.

        ``dataset``: a name or a collection of names; ``channel``: semcom's channel name or label
        (``rayleigh_block[coherence=64]`` counts as ``rayleigh_block``); ``metric``: matches the
        curve's metric or one it converts to; ``ratio``/``snr_db``: the curve's fixed ratio / SNR.
        """
        if dataset is not None:
            names = {dataset} if isinstance(dataset, str) else set(dataset)
            if self.dataset not in {str(d).lower() for d in names}:
                return False
        if channel is not None and self.channel != base_channel(channel):
            return False
        if metric is not None and not self.can_show_as(metric):
            return False
        if x is not None and self.x != x:
            return False
        if ratio is not None and (self.ratio is None or not math.isclose(self.ratio, float(ratio), rel_tol=RATIO_RTOL)):
            return False
        if snr_db is not None and (self.snr_db is None or abs(self.snr_db - float(snr_db)) > SNR_ATOL):
            return False
        return True


def base_channel(label: str) -> str:
    """``rayleigh_block[coherence=64]`` -> ``rayleigh_block``."""
    return str(label).split("[", 1)[0].strip().lower()


def ratio_text(r: float) -> str:
    """``0.0625`` -> ``1/16``; other values as decimals."""
    frac = Fraction(float(r)).limit_denominator(1000)
    return f"1/{frac.denominator}" if frac.numerator == 1 and math.isclose(float(frac), r, rel_tol=1e-9) else f"{r:.4g}"


# --- reading and validation ---------------------------------------------------------------------


def _fail(path: Path, where: str, problem: str):
    raise SemcomError(f"{path.name}: {where}{problem}")


def _number(path, where, key, value, lo=None, hi=None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        _fail(path, where, f"{key}={value!r} is not a finite number")
    value = float(value)
    if lo is not None and not lo <= value <= hi:
        _fail(path, where, f"{key}={value:g} is outside [{lo:g}, {hi:g}]")
    return value


def _text(path, where, key, value, required=True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        _fail(path, where, f"{key} must be a non-empty text, got {value!r}")
    return value.strip()


def _parse_ratio(path, where, value) -> float:
    try:
        r = float(Fraction(value.strip())) if isinstance(value, str) else float(value)
    except (ValueError, ZeroDivisionError, TypeError):
        _fail(path, where, f"ratio={value!r} is not a number: write e.g. ratio: 1/16 or 0.0625")
    if isinstance(value, bool) or not 0 < r <= 1:
        _fail(path, where, f"ratio={value!r} must be in (0, 1] (complex channel uses per real pixel value)")
    return r


def load_file(path: str | Path) -> list[ReferenceCurve]:
    """Read and validate one source file; return its curves (SemcomError naming the file on any problem)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SemcomError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SemcomError(f"{path.name}: not valid YAML at {where}{problem}") from None
    if not isinstance(data, dict):
        _fail(path, "", "the file must be a mapping with source: and curves:")
    unknown = set(data) - {"source", "defaults", "curves"}
    if unknown:
        _fail(path, "", f"unknown top-level key {', '.join(sorted(map(str, unknown)))}: allowed are source, defaults, curves")
    source = data.get("source")
    if not isinstance(source, dict):
        _fail(path, "", "source: is missing or not a mapping (key, short, citation)")
    unknown = set(source) - _SOURCE_KEYS
    if unknown or "key" not in source:
        _fail(path, "source: ", f"unknown key {', '.join(sorted(map(str, unknown)))}" if unknown else "key is missing")
    key = source["key"]
    if key != path.stem:
        _fail(path, "source: ", f"key {key!r} must equal the file name without .yaml ({path.stem!r})")
    short = _text(path, "source: ", "short", source.get("short"))
    cit = source.get("citation")
    if not isinstance(cit, dict):
        _fail(path, "source: ", "citation is missing or not a mapping (authors, title, venue, year, doi/arxiv/url)")
    unknown = set(cit) - _CITATION_KEYS
    if unknown:
        _fail(path, "source: citation: ", f"unknown key {', '.join(sorted(map(str, unknown)))}")
    year = cit.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
        _fail(path, "source: citation: ", f"year={year!r} is not a year")
    citation = Citation(
        authors=_text(path, "source: citation: ", "authors", cit.get("authors")),
        title=_text(path, "source: citation: ", "title", cit.get("title")),
        venue=_text(path, "source: citation: ", "venue", cit.get("venue")),
        year=year,
        doi=_text(path, "source: citation: ", "doi", cit.get("doi"), required=False),
        arxiv=_text(path, "source: citation: ", "arxiv", None if cit.get("arxiv") is None else str(cit.get("arxiv")), required=False),
        url=_text(path, "source: citation: ", "url", cit.get("url"), required=False),
    )
    if not (citation.doi or citation.arxiv or citation.url):
        _fail(path, "source: citation: ", "give at least one of doi, arxiv, url")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        _fail(path, "", "defaults: must be a mapping of curve fields")
    unknown = set(defaults) - (_CURVE_KEYS - {"name", "points"})
    if unknown:
        _fail(path, "defaults: ", f"unknown key {', '.join(sorted(map(str, unknown)))}")
    curves = data.get("curves")
    if not isinstance(curves, list) or not curves:
        _fail(path, "", "curves: is missing or empty: give a list of curves")
    out, seen = [], set()
    for i, raw in enumerate(curves, start=1):
        if not isinstance(raw, dict):
            _fail(path, f"curve {i}: ", "is not a mapping")
        out.append(_curve(path, i, {**defaults, **raw}, key, short, citation))
        if out[-1].name in seen:
            _fail(path, f"curve {i}: ", f"name {out[-1].name!r} is used twice in the file")
        seen.add(out[-1].name)
    return out


def _curve(path: Path, i: int, c: dict, source: str, short: str, citation: Citation) -> ReferenceCurve:
    name = c.get("name")
    where = f"curve {i} ({name}): " if isinstance(name, str) else f"curve {i}: "
    unknown = set(c) - _CURVE_KEYS
    if unknown:
        _fail(path, where, f"unknown key {', '.join(sorted(map(str, unknown)))}: allowed are {', '.join(sorted(_CURVE_KEYS))}")
    missing = [k for k in ("name", "label", "kind", "provenance", "precision", "tolerance", "dataset", "channel", "x", "metric", "points")
               if c.get(k) is None]
    if missing:
        _fail(path, where, f"{', '.join(missing)} missing")
    if not isinstance(name, str) or not _NAME.match(name):
        _fail(path, where, f"name {name!r} must be lower case letters, digits and _")
    kind = c["kind"]
    if kind not in KINDS:
        _fail(path, where, f"kind={kind!r}: choose one of {', '.join(KINDS)}")
    prov = c["provenance"]
    if not isinstance(prov, dict) or not prov:
        _fail(path, where, "provenance must be a mapping (repository, commit, path, figure, table, url, page)")
    unknown = set(prov) - _PROVENANCE_KEYS
    if unknown:
        _fail(path, where, f"provenance: unknown key {', '.join(sorted(map(str, unknown)))}: allowed are {', '.join(sorted(_PROVENANCE_KEYS))}")
    for k, v in prov.items():
        _text(path, where, f"provenance.{k}", str(v) if isinstance(v, (int, float)) else v)
    if kind == "repository" and not {"repository", "commit", "path"} <= set(prov):
        _fail(path, where, "kind=repository needs provenance repository, commit and path")
    if kind == "table" and "table" not in prov:
        _fail(path, where, "kind=table needs provenance.table (e.g. 'Table II')")
    if kind == "figure" and not ({"figure", "path"} & set(prov)):
        _fail(path, where, "kind=figure needs provenance.figure (e.g. 'Fig. 5(a)') or the path of the figure file")
    if "commit" in prov and not re.fullmatch(r"[0-9a-f]{7,40}", str(prov["commit"])):
        _fail(path, where, f"provenance.commit={prov['commit']!r} is not a git commit hash")
    precision = _text(path, where, "precision", c["precision"])
    tolerance = _number(path, where, "tolerance", c["tolerance"], 0.0, 10.0)
    dataset = _text(path, where, "dataset", c["dataset"])
    if not _NAME.match(dataset):
        _fail(path, where, f"dataset={dataset!r} must be a lower-case name such as kodak")
    channel, x, metric = c["channel"], c["x"], c["metric"]
    if channel not in CHANNELS:
        _fail(path, where, f"channel={channel!r}: choose one of {', '.join(CHANNELS)}")
    if x not in X_AXES:
        _fail(path, where, f"x={x!r}: choose one of {', '.join(X_AXES)}")
    if metric not in METRICS:
        _fail(path, where, f"metric={metric!r}: choose one of {', '.join(METRICS)}")
    if (x == "bpp") != (channel == "none"):
        _fail(path, where, "x=bpp (source rate) goes with channel=none, and only with it")
    ratio = snr = None
    if x == "snr_db":
        if c.get("ratio") is None:
            _fail(path, where, "x=snr_db needs the curve's bandwidth ratio: ratio: 1/16")
        if c.get("snr_db") is not None:
            _fail(path, where, "x=snr_db: remove snr_db (the SNR is the x axis)")
        ratio = _parse_ratio(path, where, c["ratio"])
    elif x == "ratio":
        if c.get("snr_db") is None:
            _fail(path, where, "x=ratio needs the curve's SNR: snr_db: 10")
        if c.get("ratio") is not None:
            _fail(path, where, "x=ratio: remove ratio (the ratio is the x axis)")
        snr = _number(path, where, "snr_db", c["snr_db"], *X_RANGES["snr_db"])
    elif c.get("ratio") is not None or c.get("snr_db") is not None:
        _fail(path, where, "x=bpp: remove ratio and snr_db (a source-coding curve has no channel)")
    pts = c["points"]
    if not isinstance(pts, list) or not pts:
        _fail(path, where, "points must be a non-empty list of [x, y] pairs")
    points = []
    for j, p in enumerate(pts, start=1):
        if not isinstance(p, (list, tuple)) or len(p) != 2:
            _fail(path, where, f"point {j} ({p!r}) is not an [x, y] pair")
        px = _number(path, where, f"point {j} x", p[0], *X_RANGES[x])
        py = _number(path, where, f"point {j} y", p[1], *Y_RANGES[metric])
        if points and px <= points[-1][0]:
            _fail(path, where, f"point {j}: x={px:g} does not increase (after {points[-1][0]:g}): list the points in order of x, once each")
        points.append((px, py))
    notes = c.get("notes") or ""
    if not isinstance(notes, str):
        _fail(path, where, "notes must be a text")
    return ReferenceCurve(
        name=f"{source}/{name}", label=_text(path, where, "label", c["label"]), method=_text(path, where, "method", c.get("method") or c["label"]),
        source=source, source_short=short, citation=citation, kind=kind, provenance=dict(prov), precision=precision, tolerance=tolerance,
        dataset=dataset, channel=channel, x=x, metric=metric, points=tuple(points), ratio=ratio, snr_db=snr, notes=notes.strip(), file=path,
    )


@lru_cache(maxsize=4)
def _library(folder: str) -> dict[str, ReferenceCurve]:
    curves: dict[str, ReferenceCurve] = {}
    files = sorted(Path(folder).glob("*.yaml"))
    if not files:
        raise SemcomError(f"no curve files (*.yaml) in {folder}: the package data is missing; reinstall semcom")
    for f in files:
        for c in load_file(f):
            curves[c.name] = c
    return curves


def library(folder: str | Path | None = None) -> dict[str, ReferenceCurve]:
    """Every curve of the packaged files (or of ``folder``), by name."""
    return _library(str(folder or CURVES_DIR))


def list_curves() -> list[ReferenceCurve]:
    """Every packaged curve, in file order."""
    return list(library().values())


def sources() -> list[str]:
    """The source keys (one per file)."""
    return sorted({c.source for c in list_curves()})


def load_curve(name: str) -> ReferenceCurve:
    """The curve ``<source>/<curve>`` (SemcomError with the closest names for an unknown one)."""
    lib = library()
    if name in lib:
        return lib[name]
    raise SemcomError(_unknown(name, lib))


def _unknown(name: str, lib: dict) -> str:
    close = difflib.get_close_matches(name, list(lib) + sources(), n=3, cutoff=0.5)
    hint = f": did you mean {', '.join(close)}?" if close else ""
    return f"unknown published curve {name!r}{hint} (python -m semcom.published lists them; a source key such as witt_yang2023 names all its curves)"


def curves_for(dataset=None, channel=None, ratio=None, metric=None, x=None, snr_db=None, source=None) -> list[ReferenceCurve]:
    """The curves matching every given criterion (see :meth:`ReferenceCurve.matches`).

    ``ratio`` may be a number or a fraction such as ``"1/16"``; ``metric="ms_ssim"`` also returns
    curves published as MS-SSIM in dB (drawn converted).
    """
    if isinstance(ratio, str):
        ratio = float(Fraction(ratio.strip()))
    return [c for c in list_curves()
            if (source is None or c.source == source) and c.matches(dataset, channel, ratio, metric, x, snr_db)]


def select(spec, datasets=None) -> list[ReferenceCurve]:
    """The curves a plot option or ``plot.references`` names.

    ``spec``: None, ``[]`` or ``"none"``: none; ``"auto"``: every curve of ``datasets`` (every curve
    when None); otherwise a list of curve names (``witt_yang2023/witt_awgn_r1_16_psnr``) and/or
    source keys (``witt_yang2023``: all its curves), optionally with ``auto``. Which of them a
    figure shows is decided per panel (channel, ratio or SNR, metric, x axis).
    """
    names = parse_spec(spec)
    lib = library()
    out: dict[str, ReferenceCurve] = {}
    for n in names:
        if n == "auto":
            for c in lib.values():
                if datasets is None or c.matches(dataset=datasets):
                    out.setdefault(c.name, c)
        elif n in lib:
            out.setdefault(n, lib[n])
        elif n in sources():
            for c in lib.values():
                if c.source == n:
                    out.setdefault(c.name, c)
        else:
            raise SemcomError(_unknown(n, lib))
    return list(out.values())


def parse_spec(spec) -> list[str]:
    """Normalise a reference option/config value to a list of names (``[]`` for none)."""
    if spec is None:
        return []
    if isinstance(spec, str):
        spec = [s for s in re.split(r"[,\s]+", spec) if s]
    try:
        names = [str(s).strip() for s in spec]
    except TypeError:
        raise SemcomError(f"plot.references={spec!r} is not understood: give a list of curve names or source keys, or auto") from None
    names = [n for n in names if n]
    if names == ["none"]:
        return []
    if "none" in names:
        raise SemcomError("plot.references: 'none' cannot be combined with curve names")
    return names


def check_spec(spec) -> list[str]:
    """Validate a ``plot.references`` value without drawing anything; return the normalised names."""
    names = parse_spec(spec)
    select(names)
    return names
