"""Concrete transmission chains (importing this package registers their pipeline kinds).

* ``separate`` (:mod:`semcom.chains.separate`): source codec -> 5G LDPC + CRC -> QAM -> channel
  -> LLR demapping -> BP decoding -> source decoder.
* ``capacity`` (:mod:`semcom.chains.capacity`): the ideal error-free bound, source codec at
  log2(1 + SNR) bits per channel use.
"""

from semcom.chains.capacity import CapacityBound
from semcom.chains.separate import SeparateChain

__all__ = ["CapacityBound", "SeparateChain"]
