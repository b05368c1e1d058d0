"""Named, parameterised image transformations for evaluating metrics (``pipeline=transform``).

Every transformation maps a batch ``images`` (N, 3, H, W) float32 in [0, 1] to a batch of the
same shape and range, with a normalised ``strength`` s in [0, 1]: s = 0 is the identity for every
transformation, s = 1 its strongest setting (table below). Two families:

* ``preserving``: the scene's content and meaning survive (a viewer names the same objects);
* ``changing``: the scene's content is removed, rearranged or replaced.

=============  ==========  ==============================================================
name           family      at strength s
=============  ==========  ==============================================================
hflip          preserving  mirrored left-right for any s > 0 (a binary transformation)
rotate         preserving  rotated by 10 s degrees about the centre, reflected borders
translate      preserving  shifted right and down by 10 s % of the width and height, reflected
crop           preserving  centre crop keeping (1 - 0.2 s) of each side, resized back
brightness     preserving  + 0.2 s on every channel, clamped
contrast       preserving  (x - mean) (1 - 0.5 s) + mean, per image and channel
hue            preserving  hue rotated by 30 s degrees (rotation about the grey axis in YIQ)
jpeg           preserving  JPEG (Pillow, 4:2:0) at quality round(100 - 25 s) (100 .. 75)
blur           preserving  Gaussian blur, sigma = 1.5 s pixels (Pillow)
crop_out       changing    a corner keeping (1 - 0.75 s) of each side, resized back
                           (the corner drawn per image; the centred main object leaves)
shuffle        changing    a g x g grid of patches, g = 1 + ceil(7 s), randomly permuted
blend          changing    (1 - s) x + s donor
replace        changing    a centred rectangle of 0.8 sqrt(s) of each side taken from the donor
=============  ==========  ==============================================================

``donor`` is another image (N, 3, H, W) (the pipeline draws one per image from the other images
of the job, see :mod:`semcom.pipelines.transform`); ``rng`` a ``torch.Generator`` per image (or
one) for the random choices (corner, permutation). Geometric resampling is bilinear.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from semcom.errors import SemcomError

PRESERVING = "preserving"
CHANGING = "changing"


@dataclass(frozen=True)
class Transform:
    """A named transformation: ``fn(images, strength, rng_list, donor) -> images``."""

    name: str
    family: str
    fn: Callable
    needs_donor: bool = False
    random: bool = False


def _affine(images: torch.Tensor, angle_deg: float = 0.0, shift: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """Rotate by ``angle_deg`` (counter-clockwise) about the centre and shift by ``shift`` =
    (dx, dy) as fractions of width / height, bilinear, reflected borders."""
    n, _, h, w = images.shape
    a = math.radians(angle_deg)
    # grid_sample's normalised coordinates; correct for the aspect ratio so the rotation is rigid.
    cos, sin = math.cos(a), math.sin(a)
    theta = torch.tensor([[cos, -sin * h / w, -2 * shift[0]], [sin * w / h, cos, -2 * shift[1]]], dtype=images.dtype, device=images.device)
    grid = F.affine_grid(theta.expand(n, 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False).clamp(0, 1)


def _resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def _crop_resize(images: torch.Tensor, top: int, left: int, ch: int, cw: int) -> torch.Tensor:
    h, w = images.shape[-2:]
    return _resize(images[..., top : top + ch, left : left + cw], (h, w))


def _pil_each(images: torch.Tensor, op: Callable[[Image.Image], Image.Image]) -> torch.Tensor:
    out = []
    for im in images:
        arr = (im.detach().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        res = np.asarray(op(Image.fromarray(arr)).convert("RGB"), dtype=np.uint8)
        out.append(torch.from_numpy(res.copy()).permute(2, 0, 1).float() / 255.0)
    return torch.stack(out).to(images.device)


def hflip(x, s, rngs, donor):
    return x.flip(-1) if s > 0 else x.clone()


def rotate(x, s, rngs, donor):
    return _affine(x, angle_deg=10.0 * s) if s > 0 else x.clone()


def translate(x, s, rngs, donor):
    return _affine(x, shift=(0.1 * s, 0.1 * s)) if s > 0 else x.clone()


def crop(x, s, rngs, donor):
    h, w = x.shape[-2:]
    ch, cw = max(1, round(h * (1 - 0.2 * s))), max(1, round(w * (1 - 0.2 * s)))
    if (ch, cw) == (h, w):
        return x.clone()
    return _crop_resize(x, (h - ch) // 2, (w - cw) // 2, ch, cw)


def brightness(x, s, rngs, donor):
    return (x + 0.2 * s).clamp(0, 1)


def contrast(x, s, rngs, donor):
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return ((x - mean) * (1 - 0.5 * s) + mean).clamp(0, 1)


_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=torch.float64)


def hue(x, s, rngs, donor):
    a = math.radians(30.0 * s)
    rot = torch.tensor([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]], dtype=torch.float64)
    m = (torch.linalg.inv(_YIQ) @ rot @ _YIQ).to(x.dtype).to(x.device)
    return torch.einsum("ij,njhw->nihw", m, x).clamp(0, 1)


def jpeg(x, s, rngs, donor):
    quality = int(round(100 - 25 * s))

    def op(im: Image.Image) -> Image.Image:
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        return Image.open(buf)

    return _pil_each(x, op)


def blur(x, s, rngs, donor):
    if s <= 0:
        return x.clone()
    return _pil_each(x, lambda im: im.filter(ImageFilter.GaussianBlur(radius=1.5 * s)))


def _randint(rng: torch.Generator, high: int) -> int:
    return int(torch.randint(high, (1,), generator=rng, device=rng.device).item())


def crop_out(x, s, rngs, donor):
    h, w = x.shape[-2:]
    ch, cw = max(1, round(h * (1 - 0.75 * s))), max(1, round(w * (1 - 0.75 * s)))
    out = []
    for i in range(x.shape[0]):
        corner = _randint(rngs[i], 4)
        top = 0 if corner in (0, 1) else h - ch
        left = 0 if corner in (0, 2) else w - cw
        out.append(_crop_resize(x[i : i + 1], top, left, ch, cw)[0])
    return torch.stack(out)


def shuffle(x, s, rngs, donor):
    g = 1 + math.ceil(7 * s)
    h, w = x.shape[-2:]
    ys = [round(h * k / g) for k in range(g + 1)]
    xs = [round(w * k / g) for k in range(g + 1)]
    # Patches of unequal sizes are resized to their destination cell.
    out = x.clone()
    cells = [(r, c) for r in range(g) for c in range(g)]
    for i in range(x.shape[0]):
        perm = torch.randperm(len(cells), generator=rngs[i], device=rngs[i].device).tolist()
        if len(cells) > 1 and perm == list(range(len(cells))):
            perm = perm[1:] + perm[:1]
        for dst, src in enumerate(perm):
            (rd, cd), (rs, cs) = cells[dst], cells[src]
            patch = x[i : i + 1, :, ys[rs] : ys[rs + 1], xs[cs] : xs[cs + 1]]
            size = (ys[rd + 1] - ys[rd], xs[cd + 1] - xs[cd])
            if tuple(patch.shape[-2:]) != size:
                patch = _resize(patch, size)
            out[i, :, ys[rd] : ys[rd + 1], xs[cd] : xs[cd + 1]] = patch[0]
    return out


def blend(x, s, rngs, donor):
    return ((1 - s) * x + s * donor).clamp(0, 1)


def replace(x, s, rngs, donor):
    h, w = x.shape[-2:]
    side = 0.8 * math.sqrt(s)
    rh, rw = round(h * side), round(w * side)
    out = x.clone()
    if rh and rw:
        top, left = (h - rh) // 2, (w - rw) // 2
        out[..., top : top + rh, left : left + rw] = donor[..., top : top + rh, left : left + rw]
    return out


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("hflip", PRESERVING, hflip),
        Transform("rotate", PRESERVING, rotate),
        Transform("translate", PRESERVING, translate),
        Transform("crop", PRESERVING, crop),
        Transform("brightness", PRESERVING, brightness),
        Transform("contrast", PRESERVING, contrast),
        Transform("hue", PRESERVING, hue),
        Transform("jpeg", PRESERVING, jpeg),
        Transform("blur", PRESERVING, blur),
        Transform("crop_out", CHANGING, crop_out, random=True),
        Transform("shuffle", CHANGING, shuffle, random=True),
        Transform("blend", CHANGING, blend, needs_donor=True),
        Transform("replace", CHANGING, replace, needs_donor=True),
    )
}


def get_transform(name: str) -> Transform:
    if name not in TRANSFORMS:
        raise SemcomError(f"unknown transform {name!r}: choose one of {', '.join(TRANSFORMS)} (transform.name=...)")
    return TRANSFORMS[name]


def check_strength(strength) -> float:
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise SemcomError(f"transform strength {strength!r} is not a number: give a value in [0, 1], e.g. transform.strength=0.5") from None
    if not 0.0 <= s <= 1.0:
        raise SemcomError(f"transform strength {s} is outside [0, 1]: give a value in [0, 1], e.g. transform.strength=0.5")
    return s


def apply_transform(name: str, images: torch.Tensor, strength: float, rng=None, donor: torch.Tensor | None = None) -> torch.Tensor:
    """``images`` (N, 3, H, W) float in [0, 1] transformed by ``name`` at ``strength`` in [0, 1].

    ``rng``: one ``torch.Generator`` or a list of N (random transforms); ``donor`` (N, 3, H, W)
    for ``blend`` and ``replace``.
    """
    t = get_transform(name)
    s = check_strength(strength)
    if images.dim() != 4 or images.shape[1] != 3:
        raise SemcomError(f"transform {name}: expected images (N, 3, H, W), got {tuple(images.shape)}")
    n = images.shape[0]
    if rng is None:
        rng = torch.Generator(device=images.device).manual_seed(0)
    rngs = list(rng) if isinstance(rng, (list, tuple)) else [rng] * n
    if s == 0.0:
        return images.float().clone()
    if t.needs_donor:
        if donor is None or donor.shape != images.shape:
            raise SemcomError(f"transform {name} needs a donor batch of shape {tuple(images.shape)}: pass donor=...")
        donor = donor.to(images.device, images.dtype)
    return t.fn(images.float(), s, rngs, donor)
