"""Importing this module registers CompressAI's zoo checkpoints with :mod:`semcom.weights`.

(For ``python -m semcom.weights`` listings; raises ImportError when CompressAI is not installed.)
"""

from semcom.codecs.learned import register_zoo_weights

register_zoo_weights()
