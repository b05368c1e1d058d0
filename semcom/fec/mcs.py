"""Modulation and coding schemes: (code rate, QAM order) pairs and the tables they come from.

``mcs_table(spec)`` turns a config value into a list of :class:`MCS`:

* ``compact`` (default for ``mcs=best``): eight entries spanning 0.67 to 6 information bits per
  symbol, QPSK 1/3, 1/2, 3/4; 16-QAM 1/2, 3/4; 64-QAM 2/3, 5/6; 256-QAM 3/4;
* ``nr_table1`` / ``nr_table2``: the PDSCH MCS tables 1 (up to 64-QAM) and 2 (up to 256-QAM) of
  3GPP TS 38.214 (Table 5.1.3.1-1/-2), read from Sionna's ``decode_mcs_index``, keeping every
  entry whose target code rate the 5G LDPC base graphs support (>= 1/5): 26 entries each;
* a list of ``[rate, qam]`` pairs (e.g. ``[[0.5, 4], [0.75, 16]]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from semcom.errors import SemcomError

QAM_ORDERS = (2, 4, 16, 64, 256)
#: Lowest code rate of the 5G LDPC base graphs.
MIN_LDPC_RATE = 0.2

COMPACT = ((1 / 3, 4), (1 / 2, 4), (3 / 4, 4), (1 / 2, 16), (3 / 4, 16), (2 / 3, 64), (5 / 6, 64), (3 / 4, 256))
TABLE_NAMES = ("compact", "nr_table1", "nr_table2")


def qam_bits(order: int) -> int:
    """Bits per symbol of a QAM order (2 = BPSK, 4 = QPSK, 16, 64, 256)."""
    if int(order) not in QAM_ORDERS:
        raise SemcomError(f"qam={order} is not supported: choose a QAM order from {QAM_ORDERS}")
    return int(order).bit_length() - 1


@dataclass(frozen=True, order=True)
class MCS:
    """One modulation and coding scheme: code ``rate`` (k/n) and QAM ``qam`` order."""

    rate: float
    qam: int

    @property
    def bits_per_symbol(self) -> int:
        return qam_bits(self.qam)

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per complex channel use (CRC counted as information)."""
        return self.rate * self.bits_per_symbol

    @property
    def label(self) -> str:
        return f"{self.qam}-QAM r={self.rate:.4g}" if self.qam > 2 else f"BPSK r={self.rate:.4g}"

    @property
    def display(self) -> str:
        """``QPSK 1/2``, ``16-QAM 3/4``, ``BPSK 1/3`` (rates as fractions when they are simple)."""
        from fractions import Fraction

        frac = Fraction(self.rate).limit_denominator(16)
        rate = f"{frac.numerator}/{frac.denominator}" if abs(float(frac) - self.rate) < 1e-6 else f"{self.rate:.3g}"
        mod = {2: "BPSK", 4: "QPSK"}.get(self.qam, f"{self.qam}-QAM")
        return f"{mod} {rate}"


def parse_rate(value) -> float:
    try:
        rate = float(Fraction(value.strip())) if isinstance(value, str) else float(value)
    except (ValueError, ZeroDivisionError, TypeError):
        raise SemcomError(f"code rate {value!r} is not a number: give it as a decimal or fraction, e.g. 0.5 or 3/4") from None
    if not 0 < rate < 1:
        raise SemcomError(f"code rate {value!r} is out of range: it must lie in (0, 1), e.g. 0.5")
    return rate


def _nr_table(index: int) -> list[MCS]:
    from sionna.phy.nr.utils import decode_mcs_index

    out = []
    for i in range(29 if index == 1 else 28):
        m, rate = decode_mcs_index(i, table_index=index, is_pusch=False)
        rate = float(rate)
        if rate >= MIN_LDPC_RATE:
            out.append(MCS(rate, 2 ** int(m)))
    return out


def mcs_table(spec) -> list[MCS]:
    """The MCS list for a table name or a list of ``[rate, qam]`` pairs (see module docstring)."""
    if isinstance(spec, str):
        if spec == "compact":
            return [MCS(r, q) for r, q in COMPACT]
        if spec == "nr_table1":
            return _nr_table(1)
        if spec == "nr_table2":
            return _nr_table(2)
        raise SemcomError(f"mcs_table={spec!r} is unknown: choose one of {', '.join(TABLE_NAMES)}, or give a list of [rate, qam] pairs")
    if isinstance(spec, Sequence) and spec:
        out = []
        for entry in spec:
            if isinstance(entry, dict):
                rate, qam = entry.get("rate"), entry.get("qam")
            elif isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2:
                rate, qam = entry
            else:
                raise SemcomError(f"mcs_table entry {entry!r} is not a [rate, qam] pair: e.g. mcs_table=[[0.5,4],[0.75,16]]")
            qam_bits(int(qam))
            out.append(MCS(parse_rate(rate), int(qam)))
        return sorted(set(out), key=lambda m: (m.spectral_efficiency, m.qam))
    raise SemcomError(f"mcs_table={spec!r} is empty or not a table: choose one of {', '.join(TABLE_NAMES)}, or give [[rate, qam], ...]")


def parse_mcs(value, code_rate=None, qam=None):
    """``"best"`` or a fixed :class:`MCS` from the ``mcs`` config value (a ``{rate, qam}`` mapping).

    ``code_rate`` / ``qam`` are the older top-level parameters; they may not be combined with ``mcs``.
    """
    if value is None:
        order = int(4 if qam is None else qam)
        qam_bits(order)
        return MCS(parse_rate(0.5 if code_rate is None else code_rate), order)
    if code_rate is not None or qam is not None:
        raise SemcomError("give either pipeline.mcs or pipeline.code_rate/pipeline.qam, not both: e.g. pipeline.mcs.rate=0.5 pipeline.mcs.qam=16")
    if isinstance(value, str):
        if value.strip().lower() == "best":
            return "best"
        raise SemcomError(f"pipeline.mcs={value!r} is unknown: use pipeline.mcs=best, or pipeline.mcs.rate=0.5 pipeline.mcs.qam=16")
    if hasattr(value, "keys"):
        unknown = set(value) - {"rate", "qam"}
        if unknown or "rate" not in value or "qam" not in value:
            raise SemcomError(f"pipeline.mcs={dict(value)!r} needs exactly 'rate' and 'qam': e.g. pipeline.mcs.rate=0.5 pipeline.mcs.qam=16")
        qam_bits(int(value["qam"]))
        return MCS(parse_rate(value["rate"]), int(value["qam"]))
    raise SemcomError(f"pipeline.mcs={value!r} is not understood: use pipeline.mcs=best, or pipeline.mcs.rate=0.5 pipeline.mcs.qam=16")
