"""Channels: AWGN, Rayleigh (block, fast), Rician, TDL multipath through OFDM.

``build_channel(cfg)`` turns a ``channel`` config node (``name`` plus keyword parameters, or a
``_target_``) into a :class:`Channel`; the names are in :data:`semcom.registry.CHANNELS`. Every channel
carries its receiver (CSI mode and equaliser, :class:`Receiver`); see :mod:`semcom.channels.base` for the conventions.
"""

from __future__ import annotations

from collections.abc import Mapping

from semcom.channels.awgn import AWGN
from semcom.channels.base import CSI_MODES, EQUALIZERS, Channel, ChannelOutput, Receiver
from semcom.channels.flat import FlatFading
from semcom.channels.ofdm import TDLOFDM
from semcom.channels.rayleigh import RayleighBlock, RayleighFast
from semcom.channels.rician import Rician
from semcom.registry import CHANNELS


def build_channel(cfg: Mapping | str) -> Channel:
    """Channel from a name (``awgn``), a node ``{name: ..., **params}``, or ``{_target_: ..., **params}``
    naming any :class:`Channel` subclass (:mod:`semcom.registry`)."""
    return CHANNELS.build(cfg)


__all__ = [
    "AWGN", "CSI_MODES", "Channel", "ChannelOutput", "EQUALIZERS", "FlatFading", "RayleighBlock",
    "RayleighFast", "Receiver", "Rician", "TDLOFDM", "build_channel",
]
