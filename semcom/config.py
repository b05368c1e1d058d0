"""Config composition outside ``@hydra.main`` and the pre-flight check of command-line overrides.

``compose(overrides)`` gives the same job config ``python -m semcom.run`` would see (the packaged
``semcom/conf``), for Python users and tests. ``preflight(argv)`` composes the config of the first
job of a command line before Hydra starts, so that an unknown key, an unknown pipeline or a bad
value ends the command with one line naming the problem and the fix instead of a stack trace.
"""

from __future__ import annotations

import re

from hydra import compose as hydra_compose
from hydra import initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from semcom.errors import SemcomError

CONFIG_MODULE = "semcom.conf"
CONFIG_NAME = "config"

_PREFIX = {"ADD": "+", "FORCE_ADD": "++", "DEL": "~"}


def compose(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The composed job config for ``overrides`` (no sweeps), with friendly errors."""
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            cfg = hydra_compose(config_name=CONFIG_NAME, overrides=list(overrides))
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

    Flags (``-m``, ``--cfg job``, ...) and ``hydra.*`` / ``hydra/*`` overrides are left out.
    """
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
    try:
        parsed = OverridesParser.create().parse_overrides(words)
    except OverrideParseException as exc:
        raise SemcomError(f"cannot parse the command line: {_first_line(exc)}; overrides look like key=value") from None
    out = []
    for o in parsed:
        key = o.key_or_group
        if key == "hydra" or key.startswith("hydra.") or key.startswith("hydra/"):
            continue
        prefix = _PREFIX.get(o.type.name, "")
        if o.is_sweep_override():
            first = next(iter(o.sweep_string_iterator()), None)
            out.append(f"{prefix}{o.get_key_element().lstrip('+~')}={first}")
        else:
            out.append(o.input_line)
    return out


def preflight(args: list[str]) -> DictConfig:
    """Compose and validate the first job of a command line; raise SemcomError on a problem."""
    from semcom.experiment import validate

    cfg = compose(first_job_overrides(args))
    try:
        validate(cfg)
    except OmegaConfBaseException as exc:
        raise SemcomError(f"config problem: {_first_line(exc)}") from None
    return cfg


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _missing_option(exc: MissingConfigException) -> str:
    text = str(exc)
    m = re.search(r"Could not find '([^/']+)/([^']+)'", text)
    options = re.findall(r"^\t(\S+)$", text, flags=re.M)
    if m:
        group, name = m.groups()
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
        return f"unknown config key {key!r}{hint}: check the spelling, or use +{key}=... to add a new key"
    return f"config problem: {_first_line(exc)}"


def compose_defaults() -> DictConfig:
    """The default job config (no overrides)."""
    return compose([])
