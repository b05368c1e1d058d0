"""Image sources: the built-in sample set, Kodak, and any folder of images.

Every image is returned as float32 RGB (3, H, W) in [0, 1], read with Pillow, with its name (its
path relative to the dataset root, extension included: ``a.png``, ``sub/a.PNG``) and the digest of
its pixels, so two files never share a name and a replaced file never passes for the old one. Bad files stop the
run with a one-line :class:`SemcomError` naming the file and the fix: unreadable, truncated or
empty files, and images that are not 8-bit RGB (greyscale, palette, RGBA, CMYK, 16-bit) unless
``convert=True``, which converts them to RGB (alpha dropped, greyscale replicated), and
multi-frame files (animated GIF, APNG, multi-page TIFF) unless ``frame=N`` chooses the frame
(0-based; ``dataset.frame=0`` takes the first) that every multi-frame file of the set contributes.

Sources (``dataset.name``):

* ``builtin``: five colour photographs that ship inside scikit-image's wheel (astronaut, chelsea,
  coffee, rocket, motorcycle_left), so nothing is downloaded.
* ``kodak``: the 24 Kodak PNGs, from ``$SEMCOM_DATA/kodak``, else the user cache
  (``~/.cache/semcom/data/kodak``), else downloaded from r0k.us into the cache with a sha256
  check of every file.
* ``folder``: every image file in ``dataset.path`` (sorted by relative path; subfolders too with
  ``dataset.recursive=true``).

Your own source is any callable returning a :class:`Dataset` (``dataset._target_=mypkg.load``, or
the entry-point group ``semcom.datasets``; :mod:`semcom.registry`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from semcom.errors import SemcomError
from semcom.store.keys import tensor_digest
from semcom.downloads import fetch, sha256_of

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")

BUILTIN_FILES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")

KODAK_URL = "https://r0k.us/graphics/kodak/kodak/kodim{:02d}.png"
#: sha256 of kodim01.png .. kodim24.png (the r0k.us reference files).
KODAK_SHA256 = (
    "a56e27cbf5f843c048b6af1d6e090760e9c92fadba88b7dee0205918a37523bd",
    "4f4b74a79237e311d72cad958237b5f7088d8bce1c82305ebefe1a70e3022dfd",
    "e25ca1ff2f0c0cb5fdfd5f9b0a0bb21ac4c3de3c84a67f35b09a85d3306249db",
    "e3b946107c5d3441c022f678d0c3caf1e224d81b1604ba840a4f88e562de61aa",
    "10349e963c5c813d327852f82c1795fa4148d69fedffc4c589bee458e3ac3d53",
    "363510303b715d4cbc384e1ce227e466b613a09e1b71ae985882bf8e7fbd9b18",
    "b77d3f006f42414bb242222e0482e750c0fb9e5ee8d4bed2f6f11c5605fe54a4",
    "ba23983c76b4832ee0e8af0592664756841a16779acd69f792e268fb6d13d6e7",
    "6a4361c2fc194feb4edaa9f9a4a0620fb9943e460ac7fdf037fb0f6dd6607a7d",
    "9dfb70f5867c29ff9ed6313683f19b3d867849e40fbc0c4c54a4a89df341cf23",
    "7936814b58b5387fce2e4e2488b4ec830dadd95fa9520f358ddb30990b50f2b6",
    "d78c37c2f04f23761ed2367dd77e2db584ddd4c3950833fecf89f199a8126980",
    "bc34a3ce58dea09dce1704c997171602de90cb34d0c8503a988b77f473d39b08",
    "55a94550ff18f3246c4074fd32b77b0c74447c26b6ad274d564d999c0450ba6e",
    "7538cbb80cb9103606c48b806eae57d56c885c7f90b9b3be70a41160f9cbb683",
    "a89c7268ccd4718ba424a99fc4643c572cf692ca6eae887185ceb4e9f11d2e54",
    "37afcc89fbdcb76d9518e04b2fc011027e2f4cd14b3b2f83cefd721641a47c5b",
    "1a9258c365988961d87a0598725b609139c303ad48a5aad6c503c3b1a87849aa",
    "b7450b264b1b0a411390d8931b112c27905a992520fc90569dc4b920aa32bbdc",
    "3b46c71e3b92a563820ba32936be8330c586c41f938efd94be938386aae4328a",
    "ac958597c82073f6bb65129c68f72b651db5b9efd82e11547d07350214bc268b",
    "1cee58eb1f2d9c7ebb254d208a03c783ce6cf2c4d8c2cf45e235dd23b4ce1b29",
    "e3111a2fd4da24af15d6459ef9eacfe54106b38e27b4a21821b75c3f5d2d5baf",
    "1071c68372cc5a01435c2c225a5cf7d4bb803846ec08bb6b3d6721b156d7cb96",
)


@dataclass
class ImageItem:
    """One image.

    Attributes:
        name: path relative to the dataset root, ``/``-separated, extension included (``a.png``).
        image: (3, H, W) float32 RGB in [0, 1].
        path: the file it was read from ("" for images made in memory).
        digest: content digest of ``image`` (dtype, shape and pixels), 32 hex characters.
    """

    name: str
    image: torch.Tensor
    path: str = ""
    digest: str = ""

    def __post_init__(self):
        if not self.digest:
            self.digest = tensor_digest(self.image)


@dataclass
class Dataset:
    """A named list of images.

    Attributes:
        name: the label in result rows and figures (``builtin``, ``kodak``, ``folder:imgs``).
        items: the images, in order; names unique.
        identity: what the images were read from: ``builtin``, ``kodak``, ``folder:<resolved path>``,
            or a plugin's import path and arguments. Part of every row's key.
    """

    name: str
    items: list[ImageItem]
    identity: str = ""

    def __post_init__(self):
        if not self.identity:
            self.identity = self.name
        names = [it.name for it in self.items]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise SemcomError(f"dataset {self.name}: image names {twice[:5]} occur twice: every image needs its own name")

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    @property
    def digest(self) -> str:
        """Digest of the whole content: every image's name and pixel digest, in order."""
        h = hashlib.blake2b(digest_size=16)
        for it in self.items:
            h.update(f"{it.name}\x1f{it.digest}\x1e".encode())
        return h.hexdigest()


def data_root() -> Path | None:
    """``$SEMCOM_DATA`` as a path, or None when unset."""
    root = os.environ.get("SEMCOM_DATA")
    return Path(root).expanduser() if root else None


def cache_dir() -> Path:
    """The user cache for downloaded data: ``$XDG_CACHE_HOME/semcom/data`` (default ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "semcom" / "data"


def load_image(path: str | os.PathLike, convert: bool = False, frame: int | None = None) -> torch.Tensor:
    """Read one image file as (3, H, W) float32 RGB in [0, 1].

    Raises SemcomError for an unreadable, truncated or empty file, for a non-RGB image unless
    ``convert`` (then greyscale, palette, RGBA, CMYK and 16-bit images become 8-bit RGB), and for
    a file holding several frames (animated GIF, APNG, multi-page TIFF) unless ``frame`` chooses
    one (0-based; a single-frame file is read as it is).
    """
    frame = _check_frame(frame)
    path = Path(path)
    if not path.is_file():
        raise SemcomError(f"image file {path} does not exist: check dataset.path")
    if path.stat().st_size == 0:
        raise SemcomError(f"image file {path} is empty (0 bytes): remove or replace it")
    try:
        with Image.open(path) as im:
            frames = int(getattr(im, "n_frames", 1) or 1)
            if frames > 1:
                if frame is None:
                    raise SemcomError(f"image {path} holds {frames} frames ({im.format} {'animation' if im.format != 'TIFF' else 'pages'}): "
                                      "set dataset.frame=N to choose one (0 = the first), or save the frame you want as its own file")
                if frame >= frames:
                    raise SemcomError(f"dataset.frame={frame} but image {path} holds {frames} frames (0 .. {frames - 1}): choose a smaller frame")
                im.seek(frame)
            im.load()
            mode = im.mode
            if mode != "RGB":
                if not convert:
                    raise SemcomError(
                        f"image {path} is {_describe_mode(mode)}, not 8-bit RGB: convert it, "
                        "or set dataset.convert=true to convert greyscale/palette/RGBA/CMYK/16-bit images to RGB on load"
                    )
                im = _to_rgb(im)
            array = np.asarray(im, dtype=np.uint8)
    except SemcomError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise SemcomError(f"cannot read image {path} ({exc}): the file is truncated or not an image; remove or replace it") from None
    if array.ndim != 3 or array.shape[2] != 3 or min(array.shape[:2]) < 1:
        raise SemcomError(f"image {path} has shape {array.shape}, not (H, W, 3): remove or replace it")
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def _check_frame(frame) -> int | None:
    if frame is None:
        return None
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise SemcomError(f"dataset.frame={frame!r} must be a frame number >= 0 (0 = the first), or null to refuse multi-frame files")
    return frame


def _describe_mode(mode: str) -> str:
    return {
        "L": "greyscale (mode L)",
        "LA": "greyscale with alpha (mode LA)",
        "P": "a palette image (mode P)",
        "PA": "a palette image with alpha (mode PA)",
        "RGBA": "RGBA (has an alpha channel)",
        "CMYK": "CMYK",
        "1": "bilevel (mode 1)",
        "I;16": "16-bit greyscale",
        "I": "32-bit integer greyscale (mode I)",
        "F": "32-bit float greyscale (mode F)",
    }.get(mode, f"mode {mode}")


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        im = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return im.convert("RGB")


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (and its subfolders when ``recursive``), sorted by relative path.

    Hidden files and folders (a leading dot) are left out; links to files are followed, links to
    folders are not descended into.
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise SemcomError(f"dataset folder {folder} does not exist: set dataset.path to a folder of images")
    if not folder.is_dir():
        raise SemcomError(f"dataset path {folder} is not a folder: set dataset.path to a folder of images")
    if recursive:
        files = []
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            files += [Path(root) / n for n in names if not n.startswith(".")]
    else:
        files = [p for p in folder.iterdir() if not p.name.startswith(".")]
    files = sorted((p for p in files if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        where = f"{folder} or its subfolders" if recursive else f"{folder} (subfolders: dataset.recursive=true)"
        raise SemcomError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {where}: put images there or point dataset.path elsewhere")
    return files


def builtin_paths() -> list[Path]:
    """The built-in sample photographs inside scikit-image's installed data folder."""
    import skimage

    root = Path(skimage.__file__).parent / "data"
    paths = [root / f for f in BUILTIN_FILES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise SemcomError(f"scikit-image's sample images {missing} are missing from {root}: reinstall scikit-image")
    return paths


def kodak_dir(download: bool = True) -> Path:
    """Folder holding kodim01.png .. kodim24.png: $SEMCOM_DATA/kodak, the cache, or a download."""
    candidates = []
    root = data_root()
    if root is not None:
        candidates.append(root / "kodak")
    candidates.append(cache_dir() / "kodak")
    for folder in candidates:
        if all((folder / f"kodim{i:02d}.png").is_file() for i in range(1, 25)):
            return folder
    if not download:
        raise SemcomError("Kodak not found: set SEMCOM_DATA to a folder holding kodak/kodim01.png .. kodim24.png")
    target = cache_dir() / "kodak"
    for i, digest in enumerate(KODAK_SHA256, start=1):
        dest = target / f"kodim{i:02d}.png"
        if not (dest.is_file() and sha256_of(dest) == digest):
            fetch(KODAK_URL.format(i), dest, digest, f"Kodak image {dest.name}",
                  f"$SEMCOM_DATA/kodak/ or {target}/ (all 24 files, kodim01.png .. kodim24.png)")
    return target


def _read(paths: list[Path], root: Path, limit: int | None, convert: bool, frame: int | None = None) -> list[ImageItem]:
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise SemcomError(f"dataset.limit={limit!r} must be a positive number of images: give dataset.limit=N, or null for all")
        paths = paths[:limit]
    frame = _check_frame(frame)
    return [ImageItem(p.relative_to(root).as_posix(), load_image(p, convert=convert, frame=frame), str(p)) for p in paths]


def builtin(path: str | None = None, limit: int | None = None, convert: bool = False) -> Dataset:
    """The five built-in photographs (``dataset=builtin``); ``limit`` keeps the first N."""
    if path:
        raise SemcomError(f"dataset=builtin takes no path (got dataset.path={path}): use dataset=folder dataset.path={path}")
    paths = builtin_paths()
    return Dataset("builtin", _read(paths, paths[0].parent, limit, convert), "builtin")


def kodak(path: str | None = None, limit: int | None = None, convert: bool = False) -> Dataset:
    """The 24 Kodak images (``dataset=kodak``): ``path``, ``$SEMCOM_DATA/kodak``, the cache, or a download."""
    root = Path(path).expanduser() if path else kodak_dir()
    return Dataset("kodak", _read(list_images(root), root, limit, convert), "kodak")


def folder(path: str | None = None, limit: int | None = None, convert: bool = False, recursive: bool = False,
           frame: int | None = None) -> Dataset:
    """Every image file of a folder (``dataset=folder dataset.path=DIR``), keyed by its resolved path;
    ``frame``: the frame that multi-frame files (GIF, APNG, multi-page TIFF) contribute."""
    if not path:
        raise SemcomError("dataset=folder needs a folder: add dataset.path=/path/to/images")
    root = Path(path).expanduser().resolve()
    items = _read(list_images(root, recursive=bool(recursive)), root, limit, convert, frame)
    identity = f"folder:{root}" if frame is None else f"folder:{root}:frame={frame}"
    return Dataset(f"folder:{root.name}", items, identity)


def load_dataset(spec: str | Mapping = "builtin", path: str | None = None, limit: int | None = None, convert: bool | None = None,
                 **params) -> Dataset:
    """The dataset of a config node (``{name: builtin|kodak|folder, path, limit, convert, ...}`` or
    ``{_target_: mypkg.load, ...}``) or a name; the other arguments are added to the node's."""
    from semcom.registry import DATASETS

    node = {"name": spec} if isinstance(spec, str) else dict(spec)
    node.update({k: v for k, v in {"path": path, "limit": limit, "convert": convert}.items() if v is not None}, **params)
    node = {k: v for k, v in node.items() if v is not None or k in ("name", "_target_")}
    dataset = DATASETS.build(node)
    if not dataset.items:
        raise SemcomError(f"dataset {dataset.name} holds no images")
    if node.get("_target_") or not DATASETS.is_builtin(str(node.get("name"))):
        from semcom.store.keys import digest

        target, _, kwargs = DATASETS.resolve(node)
        dataset.identity = f"{target}:{digest(kwargs)}"
    return dataset
