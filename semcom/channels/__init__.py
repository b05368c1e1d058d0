"""Channels: AWGN, Rayleigh (block, fast), Rician, TDL multipath through OFDM.

``build_channel(cfg)`` turns a ``channel`` config node (``name`` plus keyword parameters) into a
:class:`Channel`; ``CHANNELS`` maps names to classes. Every channel carries its receiver (CSI
mode and equaliser, :class:`Receiver`); see :mod:`semcom.channels.base` for the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping

from semcom.channels.awgn import AWGN
from semcom.channels.base import CSI_MODES, EQUALIZERS, Channel, ChannelOutput, Receiver
from semcom.channels.flat import FlatFading
from semcom.channels.ofdm import TDLOFDM
from semcom.channels.rayleigh import RayleighBlock, RayleighFast
from semcom.channels.rician import Rician
from semcom.errors import SemcomError

CHANNELS: dict[str, type[Channel]] = {
    "awgn": AWGN,
    "rayleigh_block": RayleighBlock,
    "rayleigh_fast": RayleighFast,
    "rician": Rician,
    "tdl_ofdm": TDLOFDM,
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


__all__ = [
    "AWGN", "CHANNELS", "CSI_MODES", "Channel", "ChannelOutput", "EQUALIZERS", "FlatFading", "RayleighBlock",
    "RayleighFast", "Receiver", "Rician", "TDLOFDM", "build_channel",
]
