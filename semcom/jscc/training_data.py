"""Training images for the JSCC models: folders under SEMCOM_DATA, random crops and flips.

:class:`CropSampler` loads every image of the given folders once (uint8, greyscale converted to
RGB) and draws batches of random ``crop`` x ``crop`` patches, each flipped left-right with
probability 1/2, from a seeded :class:`torch.Generator` whose state is saved in training
checkpoints (so a resumed run draws what an uninterrupted one would). Images are picked
uniformly; an image smaller than the crop is reflect-padded first.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.datasets import data_root, list_images, load_image
from semcom.errors import SemcomError


def resolve_folder(folder: str) -> Path:
    """A data folder: absolute, or relative to $SEMCOM_DATA (e.g. ``natural/CBSD68``)."""
    p = Path(folder).expanduser()
    if p.is_absolute():
        return p
    root = data_root()
    if root is None:
        raise SemcomError(f"data folder {folder!r} is relative but SEMCOM_DATA is not set: export SEMCOM_DATA=/path/to/data or give an absolute path")
    return root / p


def load_folders(folders: list[str]) -> list[tuple[str, torch.Tensor]]:
    """(name, (3, H, W) uint8) for every image in ``folders`` (greyscale/palette converted)."""
    out = []
    for folder in folders:
        for path in list_images(resolve_folder(folder)):
            img = load_image(path, convert=True)
            out.append((f"{Path(folder).name}/{path.stem}", (img * 255.0).round().to(torch.uint8)))
    return out


class CropSampler:
    """Random crops with random horizontal flips from a fixed list of images.

    ``sample(batch)`` -> (batch, 3, crop, crop) float32 in [0, 1].
    """

    def __init__(self, folders: list[str], crop: int, seed: int = 0):
        self.images = [img for _, img in load_folders(folders)]
        if not self.images:
            raise SemcomError(f"no training images in {folders}")
        self.crop = int(crop)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.images = [self._at_least(img) for img in self.images]

    def _at_least(self, img: torch.Tensor) -> torch.Tensor:
        _, h, w = img.shape
        if h >= self.crop and w >= self.crop:
            return img
        mode = "reflect" if self.crop - h < h and self.crop - w < w else "replicate"
        padded = F.pad(img[None].float(), (0, max(0, self.crop - w), 0, max(0, self.crop - h)), mode=mode)
        return padded[0].round().to(torch.uint8)

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, batch: int) -> torch.Tensor:
        g, c = self.generator, self.crop
        idx = torch.randint(len(self.images), (batch,), generator=g).tolist()
        crops = []
        for i in idx:
            img = self.images[i]
            _, h, w = img.shape
            y = int(torch.randint(h - c + 1, (1,), generator=g))
            x = int(torch.randint(w - c + 1, (1,), generator=g))
            patch = img[:, y : y + c, x : x + c]
            if bool(torch.rand((), generator=g) < 0.5):
                patch = patch.flip(-1)
            crops.append(patch)
        return torch.stack(crops).float().div_(255.0)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
