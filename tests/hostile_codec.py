"""A codec whose decoder crashes, hangs or raises on request (for the isolation tests).

Kept free of torch imports so that the decoder worker that unpickles it starts quickly.
"""

from __future__ import annotations

import os
import time

import numpy as np

from semcom.codecs.base import SourceCodec


class HostileCodec(SourceCodec):
    """Decodes b"ok" to a grey image; b"crash" kills the process; b"hang" never returns."""

    name = "hostile"
    isolate = True
    decode_timeout_s = 1.5

    def decode(self, data, shape):
        if data == b"crash":
            os.abort()
        if data == b"hang":
            while True:
                time.sleep(0.1)
        if data == b"raise":
            raise RuntimeError("boom")
        return np.full((*shape, 3), 128, np.uint8)
