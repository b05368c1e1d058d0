"""JSCC checkpoints: the shipped registry, loading by name, and export from a training run.

A checkpoint is a ``torch.save`` dict::

    {"format": "semcom-jscc-v1", "name": ..., "model": "deepjscc",
     "model_target": "semcom.jscc.deepjscc.DeepJSCC", "model_config": {...},
     "state_dict": {...}, "train_config": {... the full Hydra training config ...},
     "training": {"steps", "wall_s", "device", "torch", "train_images"},
     "evaluation": {...}}             # Kodak PSNR per SNR when measured

``model_target`` (the import path of the model's class) and ``model_config`` (its constructor
arguments) rebuild any model, built-in or your own; checkpoints written before ``model_target``
existed rebuild by ``model`` (a registered name). A training run's ``last.pt``
(:mod:`semcom.jscc.training`) is read the same way, so it can be given as
``pipeline.checkpoint`` directly.

**Shipped checkpoints** live in ``semcom/jscc/shipped/`` (package data) and are listed in
``semcom/jscc/shipped/index.json`` (name -> file, sha256, model, channel, ratio).
:func:`resolve_checkpoint` looks a name up there first; a name that is not shipped goes to
:func:`semcom.weights.resolve` (``$SEMCOM_WEIGHTS``, the cache, or a registered download, for
larger models trained elsewhere); an existing file path is used as is.

Export a finished training run::

    python -m semcom.jscc.export runs/train/deepjscc-awgn-r1_16/last.pt deepjscc-awgn-r1_16 --out checkpoints/
    python -m semcom.jscc.export --list
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from semcom.errors import SemcomError
from semcom.weights import sha256_of
from semcom.jscc.base import JSCCModel
from semcom.jscc.models import build_model, model_name, model_target

FORMAT = "semcom-jscc-v1"
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
#: Keys of a training run's checkpoint that a pipeline does not need.
TRAINING_STATE = ("state_dict", "optimizer", "sampler", "noise", "torch_rng", "scaler")
INDEX = SHIPPED_DIR / "index.json"


@dataclass(frozen=True)
class ShippedCheckpoint:
    """One entry of the shipped registry."""

    name: str
    file: str
    sha256: str
    model: str
    channel: str
    ratios: tuple[float, ...]

    @property
    def path(self) -> Path:
        return SHIPPED_DIR / self.file


def shipped() -> dict[str, ShippedCheckpoint]:
    """The shipped checkpoints, by name (empty if the index is missing)."""
    if not INDEX.is_file():
        return {}
    entries = json.loads(INDEX.read_text())
    return {
        name: ShippedCheckpoint(name, e["file"], e["sha256"], e["model"], e["channel"], tuple(e["ratios"]))
        for name, e in entries.items()
    }


def resolve_checkpoint(name: str) -> Path:
    """File of checkpoint ``name``: shipped (sha256-checked), a ``.pt``/``.pth`` file, a training
    run's folder (its ``last.pt``), or a :mod:`semcom.weights` name."""
    if not name:
        raise SemcomError("a learned pipeline needs a checkpoint: add pipeline.checkpoint=NAME, e.g. pipeline.checkpoint=deepjscc-awgn-r1_16")
    table = shipped()
    if name in table:
        entry = table[name]
        if not entry.path.is_file():
            raise SemcomError(f"shipped checkpoint file {entry.path} is missing: reinstall semcom")
        digest = sha256_of(entry.path)
        if digest != entry.sha256:
            raise SemcomError(f"checkpoint file {entry.path} has sha256 {digest[:16]}..., index says {entry.sha256[:16]}...: reinstall semcom")
        return entry.path
    path = Path(os.path.expanduser(name))
    if path.is_dir() and (path / "last.pt").is_file():
        return path / "last.pt"
    if path.suffix in (".pt", ".pth") and path.is_file():
        return path
    from semcom import weights

    if name in weights.REGISTRY:
        return weights.resolve(name)
    known = ", ".join(sorted(table)) or "(none shipped)"
    hint = f"{path} does not exist" if path.suffix in (".pt", ".pth") or "/" in name else f"shipped checkpoints are {known}"
    raise SemcomError(f"unknown JSCC checkpoint {name!r}: {hint}; give a shipped name, a .pt file or a training run folder")


def read_checkpoint(path: Path) -> dict:
    """The dict of a checkpoint file: exported (format semcom-jscc-v1) or a training run's last.pt."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets one line
        raise SemcomError(f"cannot read JSCC checkpoint {path} ({type(exc).__name__}): replace the file") from None
    training_run = isinstance(ckpt, dict) and {"model", "model_config", "state_dict", "step"} <= set(ckpt)
    if not isinstance(ckpt, dict) or not (ckpt.get("format") == FORMAT or training_run):
        raise SemcomError(f"{path} is neither a semcom JSCC checkpoint (format {FORMAT}) nor a training run's last.pt: "
                          "give a file written by python -m semcom.train or python -m semcom.jscc.export")
    return ckpt


def model_of(ckpt: dict) -> JSCCModel:
    """The model a checkpoint dict describes, its weights loaded (CPU, eval mode)."""
    target = ckpt.get("model_target")
    model = build_model(target if target else ckpt["model"], ckpt["model_config"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise SemcomError(f"checkpoint weights do not fit {model_target(model)} {ckpt['model_config']}: {first}") from None
    return model.eval()


def load_checkpoint(name: str, device: str | torch.device = "cpu") -> tuple[JSCCModel, dict]:
    """(model in eval mode on ``device``, the checkpoint dict without weights and training state).

    The dict also holds ``path`` (the file) and ``sha256`` (its content digest, part of a learned
    pipeline's identity: a checkpoint retrained at the same path gets new result rows)."""
    path = resolve_checkpoint(name)
    ckpt = read_checkpoint(path)
    model = model_of(ckpt).to(device)
    meta = {k: v for k, v in ckpt.items() if k not in TRAINING_STATE}
    meta["path"] = str(path)
    meta["sha256"] = sha256_of(path)
    meta.setdefault("name", path.parent.name if path.name == "last.pt" else path.stem)
    return model, meta


def make_checkpoint(name: str, model: JSCCModel, train_config: dict, training: dict, evaluation: dict | None = None) -> dict:
    """A checkpoint dict for ``model`` (weights as float32 on CPU)."""
    return {
        "format": FORMAT,
        "name": name,
        "model": model_name(model),
        "model_target": model_target(model),
        "model_config": dict(model.config),
        "state_dict": {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()},
        "train_config": train_config,
        "training": training,
        "evaluation": evaluation or {},
    }


def export(run_checkpoint: str | Path, name: str, evaluation: dict | None = None, dest_dir: Path = SHIPPED_DIR) -> Path:
    """Write ``<dest_dir>/<name>.pt`` from a training checkpoint and add it to ``<dest_dir>/index.json``.

    ``dest_dir`` is any folder (the package's shipped folder for the checkpoints semcom ships)."""
    state = read_checkpoint(Path(run_checkpoint))
    model = model_of(state)
    cfg = state.get("train_config") or {}
    training = {
        "steps": int(state.get("step", 0)),
        "wall_s": float(state.get("wall_s", 0.0)),
        "device": state.get("device", "cpu"),
        "torch": torch.__version__,
        "train_images": state.get("train_images"),
        "final_val": state.get("last_val"),
    }
    ckpt = make_checkpoint(name, model, cfg, training, evaluation)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / f"{name}.pt"
    torch.save(ckpt, out)
    index_path = dest_dir / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    index[name] = {
        "file": out.name,
        "sha256": sha256_of(out),
        "model": model_name(model),
        "channel": trained_channel(cfg),
        "ratios": list(model.ratios),
    }
    index_path.write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")
    return out


def trained_channel(train_config: dict | None) -> str:
    """The channel config name a model was trained on (``train_config["channel"]["name"]``), else ``awgn``."""
    channel = (train_config or {}).get("channel") or {}
    return channel.get("name", "awgn") if isinstance(channel, dict) else str(channel)


def set_evaluation(name: str, evaluation: dict, dest_dir: Path = SHIPPED_DIR) -> None:
    """Store an evaluation table inside shipped checkpoint ``name`` and refresh its sha256."""
    path = dest_dir / f"{name}.pt"
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    ckpt["evaluation"] = evaluation
    torch.save(ckpt, path)
    index_path = dest_dir / "index.json"
    index = json.loads(index_path.read_text())
    index[name]["sha256"] = sha256_of(path)
    index_path.write_text(json.dumps(dict(sorted(index.items())), indent=2) + "\n")
