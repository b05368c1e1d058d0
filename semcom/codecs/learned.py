"""Learned image codecs from CompressAI's model zoo, with their real entropy-coded bitstreams.

Architectures (CompressAI zoo names): ``bmshj2018-factorized``, ``bmshj2018-hyperprior``,
``mbt2018-mean``, ``cheng2020-anchor``. The quality index is the zoo's quality (1..8; 1..6 for
cheng2020-anchor), each a separately trained model; ``metric`` ``mse`` (default) or ``ms-ssim``
picks the zoo's training objective.

Weights: through :mod:`semcom.weights` under the zoo's own names and addresses, registered as
``compressai/<architecture>-<metric>-<quality>`` with the file name of CompressAI's URL (e.g.
``$SEMCOM_WEIGHTS/compressai/bmshj2018-factorized-prior-1-446d5c7f.pth.tar``) and the sha256
prefix that the file name carries (torch.hub's and CompressAI's own check). Offline, put the
files in ``$SEMCOM_WEIGHTS/compressai/``. Models built in code (a test, a model you trained) are
passed as ``models={quality: module}`` instead.

Bitstream (what is counted and sent): one byte with the quality index (the receiver must know
which model the rate control chose), then the architecture's entropy-coded strings from
``model.compress`` (ANS), with, for the two-string models (hyperprior family), a 4-byte
big-endian length of the first (latent ``y``) string:

    factorized:  quality (1 byte) | y string
    others:      quality (1 byte) | len(y string) (4 bytes) | y string | z string

The image is zero-padded to a multiple of 64 pixels before the analysis transform, as CompressAI's
``eval_model`` does, and the reconstruction cropped back; the latent shape follows from the image
size, which the receiver knows. Trailing zero padding after the last string is ignored by the
ANS decoder. Corrupted bitstreams decode in the isolated worker (``isolate = True``).

Install: see :func:`import_compressai` and ``scripts/install_compressai.sh`` (CompressAI 1.2.6 built
from its sdist without its numpy<2 pin; ``torchvision``, which CompressAI imports but these
codecs never use, is replaced by an empty module when it cannot be imported).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import pickle
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semcom.codecs.base import DecodeError, SourceCodec
from semcom.errors import SemcomError
from semcom.weights import WeightFile, register, resolve

ARCHITECTURES = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "cheng2020-anchor")
METRICS = ("mse", "ms-ssim")
#: Downsampling of the latent whose shape ``decompress`` takes (y for factorized, z otherwise).
LATENT_STRIDE = {"bmshj2018-factorized": 16, "bmshj2018-hyperprior": 64, "mbt2018-mean": 64, "cheng2020-anchor": 64}
PAD_MULTIPLE = 64
INSTALL_HINT = "install it with scripts/install_compressai.sh (see docs/reference/codecs.md, 'Learned codecs')"


class CompressAIMissing(SemcomError, ImportError):
    """CompressAI is not installed (or cannot be imported)."""


def _settle_torchvision_probes() -> None:
    """Import, before the stand-in exists, the libraries that probe for torchvision at import time.

    CompressAI imports torch_geometric, which imports transformers when it is installed (the
    ``semantic`` and ``test`` extras); transformers records at import whether torchvision is
    available. Importing it first makes that record the true state (no torchvision), not the
    stand-in's.
    """
    for name in ("transformers.utils.import_utils",):
        try:
            importlib.import_module(name)
        except Exception:  # not installed, or broken: nothing to settle
            pass


def import_compressai():
    """Import and return the ``compressai`` package.

    CompressAI's ``__init__`` imports ``torchvision`` (for its training-data transforms registry)
    even though the models and entropy coders never use it, and PyPI's torchvision does not import
    beside the CPU build of torch 2.13 ("operator torchvision::nms does not exist"). When
    torchvision cannot be imported, an empty stand-in module is placed in ``sys.modules`` for the
    duration of CompressAI's import and removed afterwards (so a later ``import torchvision``
    fails as it would have).
    """
    if "compressai" in sys.modules:
        return sys.modules["compressai"]
    stubbed = []
    try:
        importlib.import_module("torchvision")
    except Exception:  # missing, or built for another torch
        for key in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[key]
        _settle_torchvision_probes()
        tv = types.ModuleType("torchvision")
        tv.transforms = types.ModuleType("torchvision.transforms")
        # a spec, so that importlib.util.find_spec probes made during the import do not raise
        tv.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
        tv.transforms.__spec__ = importlib.machinery.ModuleSpec("torchvision.transforms", None)
        tv.__semcom_stub__ = True
        sys.modules["torchvision"], sys.modules["torchvision.transforms"] = tv, tv.transforms
        stubbed = ["torchvision", "torchvision.transforms"]
    try:
        with warnings.catch_warnings():  # CompressAI 1.2.6's video models use a deprecated amp decorator
            warnings.simplefilter("ignore", FutureWarning)
            import compressai  # noqa: F401
            import compressai.zoo  # noqa: F401
    except ImportError as exc:
        for key in [k for k in sys.modules if k == "compressai" or k.startswith("compressai.")]:
            del sys.modules[key]
        raise CompressAIMissing(f"CompressAI cannot be imported ({exc}): {INSTALL_HINT}") from None
    finally:
        for key in stubbed:
            sys.modules.pop(key, None)
    return sys.modules["compressai"]


def _zoo():
    import_compressai()
    from compressai.zoo import image

    return image


def weight_name(architecture: str, metric: str, quality: int) -> str:
    return f"compressai/{architecture}-{metric}-{int(quality)}"


def register_zoo_weights() -> list[WeightFile]:
    """Register every zoo checkpoint of :data:`ARCHITECTURES` with :mod:`semcom.weights`."""
    zoo = _zoo()
    specs = []
    for arch in ARCHITECTURES:
        for metric, by_quality in zoo.model_urls[arch].items():
            for quality, url in by_quality.items():
                filename = url.rsplit("/", 1)[-1]
                digest = filename.split(".")[0].rsplit("-", 1)[-1]  # torch.hub: name-<sha256 prefix>.ext
                specs.append(register(WeightFile(
                    name=weight_name(arch, metric, quality),
                    path=f"compressai/{filename}",
                    sha256=digest,
                    url=url,
                    description=f"CompressAI zoo {arch} ({metric}) quality {quality}",
                )))
    return specs


def _unpickle_codec(blob: bytes) -> CompressAICodec:
    """Rebuild a pickled :class:`CompressAICodec` (CompressAI imported first, see ``__reduce__``)."""
    import_compressai()
    codec = CompressAICodec.__new__(CompressAICodec)
    codec.__setstate__(pickle.loads(blob))
    return codec


def _fingerprint(models: dict[int, torch.nn.Module]) -> str:
    h = hashlib.sha1()
    for q in sorted(models):
        for key, t in models[q].state_dict().items():
            h.update(f"{q}:{key}:{tuple(t.shape)}".encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class CompressAICodec(SourceCodec):
    """A CompressAI zoo architecture as a source codec (see the module docstring).

    Args:
        architecture: one of :data:`ARCHITECTURES`.
        metric: ``mse`` or ``ms-ssim`` (which zoo weights).
        models: ``{quality: model}`` built in code, instead of zoo weights (tests, own training).
            Each must have had ``update()`` called (entropy-coder tables).
        device: where the transforms run (entropy coding runs on the CPU inside CompressAI).
    """

    isolate = True

    def __init__(self, architecture: str, metric: str = "mse", models: dict | None = None, device: str | torch.device = "cpu"):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        self.compressai = import_compressai()
        self.architecture, self.metric = architecture, metric
        self.name = architecture
        self.device = torch.device(device)
        self._given = models is not None
        if models is not None:
            if not models:
                raise ValueError("models is empty: give {quality: model}")
            self._models = {int(q): m.to(self.device).eval() for q, m in models.items()}
            self.qualities = sorted(self._models)
            self._source = f"models in code {_fingerprint(self._models)}"
        else:
            register_zoo_weights()
            self._models = {}
            self.qualities = sorted(_zoo().model_urls[architecture][metric])
            self._source = "zoo weights"

    @property
    def implementation(self) -> str:
        return f"compressai {self.compressai.__version__} {self.architecture} ({self.metric}, {self._source})"

    @property
    def cache_key(self) -> str:
        return self.implementation

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("compressai", None)
        if not self._given:
            state["_models"] = {}  # the receiving process loads the zoo weights itself
        else:
            state["_models"] = {q: m.cpu() for q, m in self._models.items()}
        state["device"] = "cpu"
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.device = torch.device(self.device)
        self.compressai = import_compressai()

    def __reduce__(self):
        # The state holds CompressAI modules; unpickling them imports compressai, which needs
        # import_compressai's torchvision stand-in first (the decoder worker is a fresh process).
        return (_unpickle_codec, (pickle.dumps(self.__getstate__()),))

    def model(self, quality: int) -> torch.nn.Module:
        """The model of ``quality`` (zoo weights loaded, checked and cached on first use)."""
        quality = int(quality)
        if quality not in self._models:
            if self._given or quality not in self.qualities:
                raise ValueError(f"{self.architecture}: no model for quality {quality}; qualities are {self.qualities}")
            path = resolve(weight_name(self.architecture, self.metric, quality))
            self._models[quality] = self.load_zoo_checkpoint(path)
        return self._models[quality]

    def load_zoo_checkpoint(self, path: str | Path) -> torch.nn.Module:
        """A zoo model from a checkpoint file, as ``compressai.zoo`` builds it after downloading."""
        from compressai.zoo.pretrained import load_pretrained

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated, not a torch file, or pickled objects
            raise SemcomError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {str(exc)[:120]}): "
                              "replace it with the zoo file of the same name") from None
        if not isinstance(state, dict):
            raise SemcomError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict: replace it with the zoo file of the same name")
        try:
            state = load_pretrained(state.get("state_dict", state))
            model = _zoo().model_architectures[self.architecture].from_state_dict(state)
        except (KeyError, RuntimeError, ValueError, IndexError, AttributeError) as exc:  # other architecture or shapes
            raise SemcomError(f"checkpoint {path} is not a {self.architecture} state dict ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:160]}): give the {self.architecture} zoo file") from None
        model.update(force=False)
        return model.to(self.device).eval()

    # -- bitstream ---------------------------------------------------------------------------
    @staticmethod
    def pack(strings: list[bytes]) -> bytes:
        if len(strings) == 1:
            return strings[0]
        if len(strings) == 2:
            return len(strings[0]).to_bytes(4, "big") + strings[0] + strings[1]
        raise ValueError(f"unexpected number of entropy-coded strings: {len(strings)}")

    def unpack(self, data: bytes) -> list[bytes]:
        if self.architecture == "bmshj2018-factorized":
            return [data]
        if len(data) < 4:
            raise DecodeError(f"{self.name}: bitstream of {len(data)} bytes is too short")
        n = int.from_bytes(data[:4], "big")
        if n > len(data) - 4:
            raise DecodeError(f"{self.name}: y string length {n} exceeds the {len(data) - 4} bytes received")
        return [data[4 : 4 + n], data[4 + n :]]

    def _padded(self, image: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255.0)[None].to(self.device)
        h, w = image.shape[:2]
        ph, pw = (-h) % PAD_MULTIPLE, (-w) % PAD_MULTIPLE
        return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="constant", value=0.0)

    def encode(self, image: np.ndarray, quality: int) -> bytes:
        with torch.no_grad():
            out = self.model(quality).compress(self._padded(image))
        return bytes([int(quality)]) + self.pack([s[0] for s in out["strings"]])

    def latent_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        h, w = (-(-int(s) // PAD_MULTIPLE) * PAD_MULTIPLE for s in shape)
        stride = LATENT_STRIDE[self.architecture]
        return h // stride, w // stride

    def decode_array(self, data: bytes, shape: tuple[int, int]) -> np.ndarray:
        if not data:
            raise DecodeError(f"{self.name}: empty bitstream")
        quality = data[0]
        if quality not in self.qualities:
            raise DecodeError(f"{self.name}: quality byte {quality} names no model (qualities {self.qualities})")
        return self.reconstruct(self.unpack(data[1:]), quality, shape)

    def reconstruct(self, strings: list[bytes], quality: int, shape: tuple[int, int]) -> np.ndarray:
        h, w = int(shape[0]), int(shape[1])
        try:
            with torch.no_grad():
                x_hat = self.model(quality).decompress([[s] for s in strings], list(self.latent_shape(shape)))["x_hat"]
        except Exception as exc:
            raise DecodeError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        ph, pw = x_hat.shape[-2] - h, x_hat.shape[-1] - w
        x_hat = x_hat[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
        out = (x_hat[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        if out.shape[:2] != (h, w):
            raise DecodeError(f"{self.name}: decoded size {out.shape[:2]} != expected {(h, w)}")
        return out
