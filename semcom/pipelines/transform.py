"""``kind: transform``: a named image transformation in place of a channel (metric evaluation).

The pipeline returns ``transform(images, strength)`` as the "reconstruction", so every metric can
be scored against a transformation sweep exactly as against an SNR sweep, through the ordinary
runner and result store. Nothing is sent: ``bits = channel_uses = 0``, never ``failed``; the
channel and the SNR value are not used. The rows carry the extra columns ``transform`` (name),
``family`` (``preserving`` | ``changing``) and ``strength`` (in [0, 1]).

Strength is a pipeline parameter, not the SNR axis: one job = one (transform, strength) over all
images, at a single SNR point (``snr_db=[0]``: the value is a placeholder kept in the row key);
``sweep=transform`` makes a Hydra multirun over names x strengths (semcom/conf/sweep/transform.yaml).
The default pipeline name is ``<transform>@<strength>`` (``blur@0.5``), so every point has a name
of its own in a shared store.

Donors (``blend``, ``replace``): for each image, another image of the job drawn with that image's
generator (the runner's per-image ``rng``, seeded from seed, dataset and image name), resized to
its size; the job's images come from :meth:`prepare` (the runner calls it with the whole
dataset), or, when called without it, from the batch itself. A job needs at least two distinct
images for these transformations.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from semcom.channels.base import Channel
from semcom.errors import SemcomError
from semcom.pipelines.base import PipelineBase, Transmission
from semcom.randomness import Rng
from semcom.transforms.ops import apply_transform, check_strength, get_transform


class TransformPipeline(PipelineBase):
    """Applies ``transform`` at ``strength`` to every image (see :mod:`semcom.transforms.ops`)."""

    kind = "transform"
    extra_columns = ("transform", "family", "strength")

    def __init__(self, transform: str = "hflip", strength: float = 0.5, name: str | None = None, **common):
        self.transform = get_transform(transform)
        self.strength = check_strength(strength)
        super().__init__(name or f"{self.transform.name}@{self.strength:g}", **common)
        self.uses_dataset = self.transform.needs_donor  # donors are drawn from the job's images
        self._pool: list[torch.Tensor] | None = None

    def params(self) -> dict[str, Any]:
        return {"kind": "transform", "transform": self.transform.name, "family": self.transform.family, "strength": self.strength}

    def prepare(self, images, snr_points, channel, rng_for) -> None:
        """Keep the job's images as donors; refuse several SNR points (they would repeat the work)."""
        if len(snr_points) > 1:
            raise SemcomError(f"pipeline {self.name} (kind transform) does not use the channel, so {len(snr_points)} SNR points "
                              "would compute the same rows: give one placeholder point, snr_db=[0] (sweep=transform sets it)")
        if self.transform.needs_donor:
            self._pool = [im.detach().cpu().float() for im in images]

    def _donors(self, images: torch.Tensor, rngs: list[torch.Generator]) -> torch.Tensor:
        pool = self._pool if self._pool is not None else [im.detach().cpu().float() for im in images]
        out = []
        for i, im in enumerate(images):
            cpu = im.detach().cpu().float()
            others = [p for p in pool if p.shape != cpu.shape or not torch.equal(p, cpu)]
            if not others:
                raise SemcomError(f"transform {self.transform.name} needs a second image to take content from: "
                                  "run it on a dataset of at least two different images (e.g. dataset.limit=2 or more)")
            pick = int(torch.randint(len(others), (1,), generator=rngs[i], device=rngs[i].device).item())
            d = others[pick][None]
            if d.shape[-2:] != cpu.shape[-2:]:
                d = F.interpolate(d, size=tuple(cpu.shape[-2:]), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
            out.append(d[0])
        return torch.stack(out).to(images.device)

    def transmit(self, images: torch.Tensor, snr_db, channel: Channel, rng: Rng) -> Transmission:
        n = images.shape[0]
        rngs = list(rng) if isinstance(rng, (list, tuple)) else [rng] * n
        donor = self._donors(images, rngs) if self.transform.needs_donor else None
        rec = apply_transform(self.transform.name, images, self.strength, rngs, donor)
        zeros = torch.zeros(n, dtype=torch.int64)
        extras = {"transform": [self.transform.name] * n, "family": [self.transform.family] * n, "strength": [self.strength] * n}
        return Transmission(rec, zeros, zeros.clone(), torch.zeros(n, dtype=torch.bool), extras)
