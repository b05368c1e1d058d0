"""semcom: a simulation testbed for image semantic communication.

Learned JSCC models and traditional chains (JPEG / BPG / JPEG 2000 + 5G LDPC + QAM, and the
capacity bound) over AWGN and fading channels, at swept SNR and bandwidth ratio, scored per image
with every metric, under one stated and tested convention (:mod:`semcom.conventions`).

Command lines: ``python -m semcom.run`` (experiments and sweeps), ``python -m semcom.train``,
``python -m semcom.plot``, ``python -m semcom.results``, ``python -m semcom list``.
"""

__version__ = "0.2.0"


def evaluate(*args, **kwargs):
    """Evaluate models and pipelines in one call: see :func:`semcom.api.evaluate`."""
    from semcom.api import evaluate as _evaluate

    return _evaluate(*args, **kwargs)
