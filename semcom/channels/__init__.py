"""Channels: AWGN, Rayleigh block fading (more families register here).

``build_channel(cfg)`` turns a ``channel`` config node (``name`` plus keyword parameters) into a
:class:`Channel`; ``CHANNELS`` maps names to classes.
"""

from __future__ import annotations

from collections.abc import Mapping

from semcom.channels.awgn import AWGN
from semcom.channels.base import Channel, ChannelOutput
from semcom.channels.rayleigh import RayleighBlock
from semcom.errors import SemcomError

CHANNELS: dict[str, type[Channel]] = {
    "awgn": AWGN,
    "rayleigh_block": RayleighBlock,
}


def build_channel(cfg: Mapping | str) -> Channel:
    """Channel from a config mapping ``{name: ..., **params}`` or a bare name."""
    params = {"name": cfg} if isinstance(cfg, str) else dict(cfg)
    name = params.pop("name", None)
    if name not in CHANNELS:
        raise SemcomError(f"unknown channel {name!r}: choose one of {', '.join(sorted(CHANNELS))}, e.g. channel=awgn")
    try:
        return CHANNELS[name](**params)
    except TypeError as exc:
        raise SemcomError(f"bad parameters for channel {name!r}: {exc}") from None


__all__ = ["AWGN", "CHANNELS", "Channel", "ChannelOutput", "RayleighBlock", "build_channel"]
