"""User-facing errors.

A :class:`SemcomError` carries one line that names the problem and the fix. The command-line
entry points print it as ``error: <message>`` and exit with status 2, without a traceback.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class SemcomError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class DecodeError(Exception):
    """A bitstream could not be decoded into an image of the expected size (a lost image, not a
    user error: the receiver shows its fallback)."""
