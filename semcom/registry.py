"""One registry mechanism for every component kind: built-in names, plugins, ``_target_`` nodes.

Wherever semcom takes a component, it takes it three ways:

1. **a name**: a built-in (``jpeg``, ``awgn``, ``psnr``, ``deepjscc``, ...) or one that an installed
   package registers through the entry-point group ``semcom.<kind>s``, e.g. in its
   ``pyproject.toml``::

       [project.entry-points."semcom.metrics"]
       mymetric = "mypkg.metrics:MyMetric"

2. **a Hydra** ``_target_`` **node** naming any importable class or factory with its keyword
   arguments (Hydra's own convention, :func:`hydra.utils.instantiate`)::

       {_target_: mypkg.metrics.MyMetric, width: 8}

3. **a node with the kind's selecting key** and keyword arguments: ``{name: rician, k_db: 3}``
   for a channel, ``{kind: separate, codec: jpeg, ...}`` for a pipeline.

Kinds (entry-point group, base class the component must derive from):

==========  ======================  ==============================================
pipeline    ``semcom.pipelines``    :class:`semcom.pipelines.base.Pipeline` protocol
model       ``semcom.models``       :class:`semcom.jscc.base.JSCCModel`
codec       ``semcom.codecs``       :class:`semcom.codecs.base.SourceCodec`
channel     ``semcom.channels``     :class:`semcom.channels.base.Channel`
metric      ``semcom.metrics``      :class:`semcom.metrics.base.Metric`
dataset     ``semcom.datasets``     a callable returning :class:`semcom.datasets.Dataset`
==========  ======================  ==============================================

The registries hold import paths, not objects: nothing is imported until a component is used, so
this module sits below every package it names. ``python -m semcom list`` prints every name with
where it comes from. A component that breaks its contract (not importable, wrong base class,
bad keyword arguments) is refused with one line naming the class and what is wrong.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from semcom.errors import SemcomError

log = logging.getLogger(__name__)

TARGET = "_target_"


@dataclass(frozen=True)
class Entry:
    """One registered name: ``target`` (dotted import path) called with ``params`` first."""

    kind: str
    name: str
    target: str
    source: str = "semcom"
    params: Mapping[str, Any] = field(default_factory=dict)


def import_object(path: str, kind: str = "component") -> Any:
    """The object at a dotted path (``pkg.module.Attr`` or ``pkg.module:Attr``); SemcomError if absent."""
    if not isinstance(path, str) or not path.strip():
        raise SemcomError(f"{kind} _target_={path!r} is not an import path: give e.g. _target_=mypkg.module.MyClass")
    path = path.strip().replace(":", ".")
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and not module_name.startswith(exc.name) and not exc.name.startswith(module_name):
                raise SemcomError(f"{kind} {path}: importing {module_name} failed: {exc}") from None
            continue
        except Exception as exc:  # noqa: BLE001 - the user's module raised while importing
            raise SemcomError(f"{kind} {path}: importing {module_name} failed ({type(exc).__name__}: {exc})") from None
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            raise SemcomError(f"{kind} {path}: {module_name} has no attribute {'.'.join(parts[cut:])!r}") from None
        return obj
    raise SemcomError(f"{kind} {path}: no module {parts[0]!r} is installed: pip install the package that provides it, "
                      "or check the spelling")


def call_with(factory: Callable, params: Mapping[str, Any], context: Mapping[str, Any], what: str) -> Any:
    """``factory(**params, **context)``, passing only the context keywords the factory accepts.

    ``context`` holds what semcom supplies (a pipeline's ``ratio``, ``fallback``, ``device``, ...);
    ``params`` are the user's keyword arguments and must all be accepted.
    """
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        context = {k: v for k, v in context.items() if takes_any or k in sig.parameters}
    clash = sorted(set(params) & set(context))
    if clash:
        raise SemcomError(f"{what}: {', '.join(clash)} is set by semcom, not in the component's config: remove it")
    try:
        return factory(**dict(params), **context)
    except SemcomError:
        raise
    except TypeError as exc:
        raise SemcomError(f"{what}: bad keyword arguments ({exc})") from None


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a class or function (of an instance: of its class)."""
    cls = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class Registry:
    """The names of one component kind (see the module docstring).

    Args:
        kind: ``pipeline``, ``model``, ``codec``, ``channel``, ``metric`` or ``dataset``.
        select: the key of a config node that names the component (``name``; ``kind`` for pipelines).
        base: dotted path of the base class every built component must be an instance of
            (None: the component is checked by ``check``).
        builtins: ``{name: target}`` or ``{name: (target, params)}``.
        check: optional ``check(obj) -> problem or None`` for kinds without a base class.
    """

    def __init__(self, kind: str, select: str, base: str | None, builtins: Mapping[str, str | tuple[str, dict]],
                 check: Callable[[Any], str | None] | None = None):
        self.kind = kind
        self.select = select
        self.base = base
        self.group = f"semcom.{kind}s"
        self._check = check
        self._builtin = {}
        for name, spec in builtins.items():
            target, params = (spec, {}) if isinstance(spec, str) else spec
            self._builtin[name] = Entry(kind, name, target, "semcom", dict(params))
        self._added: dict[str, Entry] = {}
        self._plugins: dict[str, Entry] | None = None

    # ---------------------------------------------------------------- names
    def register(self, name: str, target: str | Callable, params: Mapping | None = None, source: str = "python") -> None:
        """Add a name at run time (``target``: an import path, or the class itself)."""
        if not isinstance(target, str):
            target = qualified_name(target)
        if name in self._builtin:
            raise SemcomError(f"{self.kind} name {name!r} is a built-in: register yours under another name")
        self._added[name] = Entry(self.kind, name, target, source, dict(params or {}))

    def plugins(self) -> dict[str, Entry]:
        """Names registered by installed packages (entry-point group ``semcom.<kind>s``)."""
        if self._plugins is None:
            from importlib.metadata import entry_points

            found = {}
            for ep in entry_points(group=self.group):
                dist = getattr(ep, "dist", None)
                source = f"{dist.name} {dist.version}" if dist is not None else "entry point"
                if ep.name in self._builtin:
                    log.warning("%s %r from %s is ignored: the name is a semcom built-in", self.kind, ep.name, source)
                    continue
                found[ep.name] = Entry(self.kind, ep.name, ep.value.replace(":", "."), source)
            self._plugins = found
        return self._plugins

    def entries(self) -> dict[str, Entry]:
        """Every name: built-ins, then plugins, then names registered at run time."""
        return {**self._builtin, **self.plugins(), **self._added}

    def names(self) -> list[str]:
        return sorted(self.entries())

    def entry(self, name: str) -> Entry:
        entries = self.entries()
        if name not in entries:
            raise SemcomError(f"unknown {self.kind} {name!r}: choose one of {', '.join(sorted(entries))}, "
                              f"or give an importable class as {{_target_: mypkg.MyClass}} (python -m semcom list {self.kind})")
        return entries[name]

    def is_builtin(self, name: str) -> bool:
        return name in self._builtin

    # ---------------------------------------------------------------- specs
    def resolve(self, spec: str | Mapping | None, default: str | None = None) -> tuple[str, Callable, dict]:
        """(target path, factory, keyword arguments) of a name or config node."""
        if spec is None:
            spec = default
        if isinstance(spec, str):
            entry = self.entry(spec)
            return entry.target, import_object(entry.target, self.kind), dict(entry.params)
        if not isinstance(spec, Mapping):
            raise SemcomError(f"{self.kind} {spec!r} is neither a name nor a config node: give a name "
                              f"({', '.join(self.names())}) or {{_target_: mypkg.MyClass, ...}}")
        params = {k: v for k, v in spec.items() if k not in (TARGET, "_recursive_", "_convert_", "_partial_")}
        target = spec.get(TARGET)
        if target is not None:
            if not isinstance(target, str):
                raise SemcomError(f"{self.kind} _target_={target!r} is not an import path: give e.g. _target_=mypkg.module.MyClass")
            if params.get(self.select) is None or self.select == "kind":
                params.pop(self.select, None)  # the selecting key means nothing beside a _target_
            return target, import_object(target, self.kind), params
        name = params.pop(self.select, None)
        if name is None:
            name = default
        if name is None:
            raise SemcomError(f"{self.kind} config {dict(spec)!r} names no {self.kind}: give {self.select}=... or _target_=...")
        entry = self.entry(name)
        return entry.target, import_object(entry.target, self.kind), {**entry.params, **params}

    def build(self, spec: str | Mapping | None, context: Mapping[str, Any] | None = None, default: str | None = None, **params) -> Any:
        """The component for ``spec`` (name or node), ``params`` added to its keyword arguments,
        semcom's ``context`` keywords passed where the factory accepts them; contract-checked."""
        target, factory, kwargs = self.resolve(spec, default)
        kwargs.update(params)
        obj = call_with(factory, kwargs, dict(context or {}), f"{self.kind} {target}")
        self.check(obj, target)
        return obj

    def check(self, obj: Any, target: str | None = None) -> None:
        """Raise SemcomError when ``obj`` breaks the kind's contract (wrong base class, ...)."""
        what = f"{self.kind} {target or qualified_name(obj)}"
        if self.base is not None:
            base = import_object(self.base, self.kind)
            if not isinstance(obj, base):
                raise SemcomError(f"{what} returned a {type(obj).__name__}, not a {self.base}: derive the class from "
                                  f"{self.base} (see the docs, 'Extending semcom')")
        if self._check is not None:
            problem = self._check(obj)
            if problem:
                raise SemcomError(f"{what}: {problem}")

    def identity(self, spec: str | Mapping | None, default: str | None = None) -> dict:
        """What names the component in a row's identity: its import path and keyword arguments."""
        target, _, kwargs = self.resolve(spec, default)
        return {"target": target, "params": kwargs}


def _pipeline_problem(obj) -> str | None:
    for attr in ("transmit", "params"):
        if not callable(getattr(obj, attr, None)):
            return f"has no {attr}() method: derive it from semcom.pipelines.PipelineBase (see 'Extending semcom')"
    if not isinstance(getattr(obj, "name", None), str) or not obj.name:
        return "has no name (a non-empty str attribute naming its result rows)"
    return None


def _dataset_problem(obj) -> str | None:
    # by its attributes (the registry sits below the modules it registers: no import of semcom.datasets)
    if not isinstance(getattr(obj, "name", None), str) or not isinstance(getattr(obj, "items", None), list):
        return f"returned a {type(obj).__name__}, not a semcom.datasets.Dataset (a name and a list of items)"
    return None


PIPELINES = Registry("pipeline", "kind", None, {
    "separate": "semcom.pipelines.separate.SeparateChain",
    "capacity": "semcom.pipelines.capacity_bound.CapacityBound",
    "learned": "semcom.pipelines.learned.LearnedPipeline",
    "transform": "semcom.pipelines.transform.TransformPipeline",
}, check=_pipeline_problem)

MODELS = Registry("model", "name", "semcom.jscc.base.JSCCModel", {
    "deepjscc": "semcom.jscc.deepjscc.DeepJSCC",
    "adjscc": "semcom.jscc.adjscc.ADJSCC",
    "swinjscc": "semcom.jscc.swinjscc.SwinJSCC",
})

CODECS = Registry("codec", "name", "semcom.codecs.base.SourceCodec", {
    "jpeg": "semcom.codecs.jpeg.JPEG",
    "webp": "semcom.codecs.webp.WebP",
    "jpeg2000": "semcom.codecs.jpeg2000.JPEG2000",
    "bpg": "semcom.codecs.bpg.bpg_codec",
    "hevc": "semcom.codecs.hevc.HEVCIntra",
    **{arch: ("semcom.codecs.learned.CompressAICodec", {"architecture": arch})
       for arch in ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "cheng2020-anchor")},
})

CHANNELS = Registry("channel", "name", "semcom.channels.base.Channel", {
    "awgn": "semcom.channels.awgn.AWGN",
    "rayleigh_block": "semcom.channels.rayleigh.RayleighBlock",
    "rayleigh_fast": "semcom.channels.rayleigh.RayleighFast",
    "rician": "semcom.channels.rician.Rician",
    "tdl_ofdm": "semcom.channels.ofdm.TDLOFDM",
})

METRICS = Registry("metric", "name", "semcom.metrics.base.Metric", {
    "psnr": "semcom.metrics.pixel.PSNR",
    "ssim": "semcom.metrics.pixel.SSIM",
    "ms_ssim": "semcom.metrics.pixel.MSSSIM",
    "lpips": "semcom.metrics.lpips.LPIPS",
    "lpips_vgg": ("semcom.metrics.lpips.LPIPS", {"net": "vgg"}),
    "dists": "semcom.metrics.dists.DISTS",
    "fid": "semcom.metrics.distribution.FID",
    "kid": "semcom.metrics.distribution.KID",
    "is": "semcom.metrics.distribution.InceptionScore",
    "vitscore": "semcom.metrics.vitscore.ViTScore",
    "clip": "semcom.metrics.clip.CLIPSimilarity",
    "sess": "semcom.metrics.sess.SeSS",
    "sess_lite": "semcom.metrics.sess.SeSSLite",
    "detection": "semcom.metrics.detection.DetectionAgreement",
})

DATASETS = Registry("dataset", "name", None, {
    "builtin": "semcom.datasets.builtin",
    "kodak": "semcom.datasets.kodak",
    "folder": "semcom.datasets.folder",
}, check=_dataset_problem)

REGISTRIES: dict[str, Registry] = {r.kind: r for r in (PIPELINES, MODELS, CODECS, CHANNELS, METRICS, DATASETS)}


def registry(kind: str) -> Registry:
    """The registry of ``kind`` (singular or plural)."""
    key = kind[:-1] if kind.endswith("s") and kind[:-1] in REGISTRIES else kind
    if key not in REGISTRIES:
        raise SemcomError(f"unknown component kind {kind!r}: choose one of {', '.join(REGISTRIES)}")
    return REGISTRIES[key]


def listing(kinds: list[str] | None = None) -> list[Entry]:
    """Every registered name of ``kinds`` (default: all), built-ins first."""
    out = []
    for kind in kinds or list(REGISTRIES):
        out += sorted(registry(kind).entries().values(), key=lambda e: (e.source != "semcom", e.name))
    return out
