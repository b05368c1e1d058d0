"""Config composition outside ``@hydra.main`` and the pre-flight check of command-line overrides.

``compose(overrides)`` gives the same job config ``python -m semcom.run`` would see (the packaged
``semcom/conf``, plus any ``config_dirs`` as ``--config-dir`` adds), for Python users
and tests. :func:`register_plugin_configs` adds a config option for every name an installed
package registers (``pipeline=mymodel``, ``channel=mychannel``, ``dataset=mydata``,
``model=mymodel``: :mod:`semcom.registry`), and :func:`expand_targets` lets ``pipeline._target_=X``
alone select the ``custom`` option of its group. ``preflight(argv)`` composes the config of the first job of a command line before Hydra
starts (a sweep's first values: ``hydra.sweeper.params`` of the chosen ``sweep=`` or study config,
overridden by the command line), so that an unknown key, an unknown pipeline or a bad value ends
the command with one line naming the problem and the fix instead of a stack trace.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from semcom.errors import SemcomError

# semcom/conf/hydra/launcher/joblib.yaml takes the place of the joblib plugin's config of the same
# name on purpose (our defaults, documented) and is validated against the plugin's schema; Hydra 1.3
# warns that this automatic matching is deprecated. The matching is what we want: keep it quiet.
warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/joblib' is validated against ConfigStore schema", category=UserWarning)

CONFIG_MODULE = "semcom.conf"
CONFIG_NAME = "config"

_PREFIX = {"ADD": "+", "FORCE_ADD": "++", "DEL": "~"}


#: Config groups that take any importable class through their ``custom`` option, and the package
#: their option files write to.
CUSTOM_GROUPS = {"pipeline": None, "channel": None, "dataset": None, "model": "_global_"}
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def expand_targets(args: list[str]) -> list[str]:
    """Command-line words with ``group=custom`` added where ``group._target_=X`` is given without a
    ``group=`` choice (and ``+group._target_`` written as ``group._target_``)."""
    words = list(args)
    for group in CUSTOM_GROUPS:
        targets = [i for i, w in enumerate(words) if w.lstrip("+").startswith(f"{group}._target_=")]
        chosen = any(w.lstrip("+~").split("=", 1)[0] == group for w in words if "=" in w)
        if targets and not chosen:
            for i in targets:
                words[i] = words[i].lstrip("+")
            words.insert(targets[0], f"{group}=custom")
    return words


_REGISTERED: set[tuple[str, str]] = set()


def register_plugin_configs() -> list[tuple[str, str]]:
    """Store a config option for every plugin name (entry points of installed packages) whose group
    has no option file of that name; return the (group, name) pairs added."""
    from hydra.core.config_store import ConfigStore

    from semcom.registry import registry

    added = []
    for group, package in CUSTOM_GROUPS.items():
        reg = registry(group)
        for name in reg.plugins():
            if (group, name) in _REGISTERED or (CONF_DIR / group / f"{name}.yaml").is_file():
                continue
            node = {"kind": name, "name": name} if group == "pipeline" else {"name": name}
            ConfigStore.instance().store(group=group, name=name, node={"model": node} if package else node, package=package)
            _REGISTERED.add((group, name))
            added.append((group, name))
    return added


def compose(
    overrides: list[str] | tuple[str, ...] = (),
    config_dirs: list[str] | tuple[str, ...] = (),
    config_name: str = CONFIG_NAME,
    return_hydra_config: bool = False,
) -> DictConfig:
    """The composed job config for ``overrides`` (no sweeps), with friendly errors.

    ``config_dirs`` are extra folders on the config search path (what ``--config-dir`` adds).
    """
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    register_plugin_configs()
    overrides = expand_targets(list(overrides))
    if config_dirs:
        dirs = []
        for d in config_dirs:
            path = Path(d).expanduser().resolve()
            if not path.is_dir():
                raise SemcomError(f"--config-dir {d}: no such folder; give a folder of extra configs (the shipped studies need none: experiment=<study>/<form>)")
            dirs.append(f"file://{path}")
        overrides = [f"hydra.searchpath=[{','.join(dirs)}]", *overrides]
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=overrides, return_hydra_config=return_hydra_config)
    except MissingConfigException as exc:
        raise SemcomError(_missing_option(exc)) from None
    except OverrideParseException as exc:
        raise SemcomError(f"cannot parse the override: {_first_line(exc)}; write key=value, e.g. snr_db=[1,4,7]") from None
    except (HydraException, OmegaConfBaseException) as exc:
        raise SemcomError(_unknown_key(exc, overrides)) from None
    finally:
        GlobalHydra.instance().clear()
    return cfg


def first_job_overrides(args: list[str]) -> list[str]:
    """Command-line arguments reduced to the overrides of the first job of a sweep.

    Flags (``-m``, ``--cfg job``, ...) and ``hydra.*`` / ``hydra/*`` overrides (except
    ``hydra.searchpath``) are left out.
    """
    words = _override_words(args)
    try:
        parsed = OverridesParser.create().parse_overrides(words)
    except OverrideParseException as exc:
        raise SemcomError(f"cannot parse the command line: {_first_line(exc)}; overrides look like key=value") from None
    out = []
    for o in parsed:
        key = o.key_or_group
        if key == "hydra.searchpath":  # extra config folders: needed to compose
            out.append(o.input_line)
            continue
        if key == "hydra" or key.startswith("hydra.") or key.startswith("hydra/"):
            continue
        prefix = _PREFIX.get(o.type.name, "")
        if o.is_sweep_override():
            first = next(iter(o.sweep_string_iterator()), None)
            out.append(f"{prefix}{o.get_key_element().lstrip('+~')}={first}")
        else:
            out.append(o.input_line)
    return out


def _flag_values(args: list[str], names: tuple[str, ...]) -> list[str]:
    """Values of a command-line flag given as ``--flag value`` or ``--flag=value``."""
    out = []
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                out.append(args[i + 1])
            elif a.startswith(n + "="):
                out.append(a.split("=", 1)[1])
    return out


def _sweep_first_values(params) -> list[str]:
    """``key=<first value>`` for each ``hydra.sweeper.params`` entry (``{pipeline: "a,b"}``)."""
    out = []
    for key, value in (params or {}).items():
        text = f"{key}={value}"
        try:
            (o,) = OverridesParser.create().parse_overrides([text])
        except OverrideParseException as exc:
            raise SemcomError(f"hydra.sweeper.params.{key} cannot be parsed: {_first_line(exc)}") from None
        first = next(iter(o.sweep_string_iterator()), None) if o.is_sweep_override() else o.get_value_element_as_str()
        out.append(f"{key}={first}")
    return out


def preflight(args: list[str]) -> DictConfig:
    """Compose and validate the first job of a command line; raise SemcomError on a problem."""
    from semcom.runner.settings import job_settings as validate

    config_dirs = _flag_values(args, ("--config-dir", "-cd"))
    names = _flag_values(args, ("--config-name", "-cn"))
    config_name = names[-1] if names else CONFIG_NAME
    overrides = first_job_overrides(args)
    full = compose(overrides, config_dirs, config_name, return_hydra_config=True)
    node = full.hydra.sweeper.get("params") if "sweeper" in full.hydra else None
    params = OmegaConf.to_container(node, resolve=False) if node is not None else {}
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    from_sweep = [o for o in _sweep_first_values(params) if o.split("=", 1)[0] not in given]
    cfg = compose(from_sweep + overrides, config_dirs, config_name) if from_sweep else compose(overrides, config_dirs, config_name)
    try:
        validate(cfg)
    except OmegaConfBaseException as exc:
        raise SemcomError(f"config problem: {_first_line(exc)}") from None
    # every other value of a sweep, one at a time in the first job's place (Hydra would otherwise
    # stop a sweep with pipeline=jpeg_ldpc,nope with a multi-line error, or a job part-way through)
    base = from_sweep + overrides
    for key, prefix, value in _other_sweep_values(args, params, given):
        alt = [o for o in base if o.split("=", 1)[0].lstrip("+~") != key] + [f"{prefix}{key}={value}"]
        try:
            validate(compose(alt, config_dirs, config_name))
        except OmegaConfBaseException as exc:
            raise SemcomError(f"config problem with {key}={value}: {_first_line(exc)}") from None
    return cfg


def _other_sweep_values(args: list[str], params: dict, given: set[str]) -> list[tuple[str, str, str]]:
    """(key, prefix, value) for every value after the first of each sweep override (command
    line, and the sweep config's ``hydra.sweeper.params`` for keys the command line leaves)."""
    out = []
    parser = OverridesParser.create()
    texts = [w for w in _override_words(args)]
    texts += [f"{k}={v}" for k, v in (params or {}).items() if k not in given]
    for text in texts:
        try:
            (o,) = parser.parse_overrides([text])
        except OverrideParseException:
            continue  # already reported by the first-job check
        key = o.key_or_group
        if key == "hydra" or key.startswith("hydra.") or key.startswith("hydra/") or not o.is_sweep_override():
            continue
        values = list(dict.fromkeys(o.sweep_string_iterator()))[1:]
        out += [(o.get_key_element().lstrip("+~"), _PREFIX.get(o.type.name, ""), v) for v in values]
    return out


def _override_words(args: list[str]) -> list[str]:
    """The override words of a command line (flags and their values left out)."""
    words = []
    skip_next = False
    for a in args:
        if skip_next:
            skip_next = False
            continue
        if a in ("--cfg", "-c", "--package", "-p", "--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd", "--info", "-i"):
            skip_next = a not in ("--info", "-i")
            continue
        if a.startswith("-"):
            continue
        words.append(a)
    return words


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def config_options(group: str) -> list[tuple[str, str]]:
    """``[(option, its description)]`` of a shipped config group (``pipeline`` -> ``jpeg_ldpc``,
    ``experiment`` -> ``rate_sweep/ci``): the option name relative to the group, and the start of
    its first comment (after a ``# @package`` line), up to a colon or 100 characters."""
    root = Path(__file__).parents[1] / "conf" / group
    out = []
    for f in sorted(root.rglob("*.yaml")):
        lines = [ln.lstrip("# ").strip() for ln in f.read_text().splitlines() if ln.startswith("#") and "@package" not in ln]
        text = " ".join(lines[:2])
        out.append((f.relative_to(root).with_suffix("").as_posix(), text.split(":")[0] if ":" in text[:100] else text[:100]))
    return out


def pipeline_configs() -> list[tuple[str, str]]:
    """The shipped pipeline configs (``pipeline=<name>``)."""
    return config_options("pipeline")


def experiments() -> list[tuple[str, str]]:
    """The shipped studies (``experiment=<study>/<form>``)."""
    return config_options("experiment")


def _missing_option(exc: MissingConfigException) -> str:
    text = str(exc)
    m = re.search(r"Could not find '([^/']+)/([^']+)'", text)
    options = re.findall(r"^\t(\S+)$", text, flags=re.M)
    if m:
        group, name = m.groups()
        if group == "experiment" and not options:  # nested group: Hydra lists nothing
            options = [n for n, _ in experiments()]
        return f"unknown {group} {name!r}: choose one of {', '.join(options) or '(none)'}, e.g. {group}={options[0] if options else '...'}"
    return _first_line(exc)


def _unknown_key(exc: BaseException, overrides) -> str:
    text = str(exc)
    cause = exc.__cause__ or exc.__context__
    full = text + ("\n" + str(cause) if cause else "")
    m = re.search(r"Could not override '([^']+)'", full) or re.search(r"Key '([^']+)' (?:is not in struct|not in)", full)
    if m:
        key = m.group(1)
        try:
            top = sorted(k for k in OmegaConf.to_container(compose_defaults(), resolve=False) if k != "hydra")
        except Exception:  # pragma: no cover - best effort listing
            top = []
        hint = f" (top-level keys: {', '.join(top)})" if top else ""
        if key.startswith("transform."):
            # the transform node comes with pipeline=transform (sweep=transform selects it)
            return (f"unknown config key {key!r}: the transform keys come with the transform pipeline: add "
                    f"pipeline=transform (or sweep=transform) to the command line")
        return f"unknown config key {key!r}{hint}: check the spelling, or use +{key}=... to add a new key"
    return f"config problem: {_first_line(exc)}"


def compose_defaults() -> DictConfig:
    """The default job config (no overrides)."""
    return compose([])
