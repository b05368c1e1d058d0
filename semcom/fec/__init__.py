"""Forward error correction: 5G LDPC and polar code blocks with a CRC, the MCS tables, and the
link abstraction (BLER tables) of the LDPC fast mode.

* :mod:`.blockcode`: segmentation of a bitstream into CRC24A code blocks, batched decoding.
* :mod:`.ldpc`, :mod:`.polar`: the 5G code families (Sionna encoders).
* :mod:`.mcs`: modulation and coding schemes and the tables of the best-MCS envelope.
* :mod:`.abstraction`: measured BLER curves and the fast mode that samples block errors from them.
"""
