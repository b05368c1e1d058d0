"""Transmission pipelines: what carries a batch of images over a channel and back.

* :mod:`.base`: the :class:`~semcom.pipelines.base.Pipeline` protocol and the
  :class:`~semcom.pipelines.base.Transmission` it returns.
* ``separate`` (:mod:`.separate`): source codec -> 5G LDPC or polar + CRC -> QAM -> channel
  -> LLR demapping -> decoding -> source decoder (one MCS or the best-MCS envelope).
* ``capacity`` (:mod:`.capacity_bound`): the ideal error-free bound, the source codec at
  log2(1 + SNR) bits per channel use.
* ``learned`` (:mod:`.learned`): a trained JSCC model between the images and the channel.
* ``transform`` (:mod:`.transform`): a named image transformation instead of a channel
  (evaluating metrics).
"""

from semcom.pipelines.base import Pipeline, Transmission, build_pipeline

__all__ = ["Pipeline", "Transmission", "build_pipeline"]
