"""Rate control: the highest-quality encoding of an image that fits a bit budget."""

from __future__ import annotations

import math

import numpy as np

from semcom.codecs.base import Encoded, SourceCodec, image_digest
from semcom.codecs.cache import ENCODINGS, EncodingCache


def fit_to_budget(
    codec: SourceCodec, image: np.ndarray, max_bits: float, cache: EncodingCache | None = None
) -> Encoded | None:
    """Highest-quality encoding of ``image`` with at most ``max_bits`` bits, or None if none fits.

    A bracketing search over ``codec.qualities`` assuming size grows with quality (true for the
    codecs here up to rare one-step wiggles; the result always fits the budget). The search starts
    from the bracket that the image's cached ladder already gives (the largest known quality that
    fits, the smallest known one that does not), so a sweep over many budgets encodes each image
    only a few more times per new budget. Inside a bracket it probes where log(bits), interpolated
    linearly in quality index between the bracket's ends, meets the budget (rate grows about
    exponentially with quality index for these codecs), falling back to the midpoint after a probe
    that did not halve the bracket: about 3 encodings per new budget instead of bisection's
    log2(qualities) (6 for BPG's 52, 9 for JPEG 2000's 321), the same result on a monotone ladder.
    A bracket with no upper end is opened in the middle of the range before the top quality (the
    costliest encoding, rarely within a channel budget). ``cache``: the job's
    :class:`~semcom.codecs.cache.EncodingCache` (default: the process-wide one).
    """
    cache = ENCODINGS if cache is None else cache
    qs = list(codec.qualities)
    index = {q: i for i, q in enumerate(qs)}
    digest = image_digest(image)
    known = cache.known_sizes(codec, digest)
    over = [index[q] for q, bits in known.items() if q in index and bits > max_bits]
    hi = min(over) if over else None
    fits = [index[q] for q, bits in known.items() if q in index and bits <= max_bits and (hi is None or index[q] < hi)]
    lo = max(fits) if fits else None
    # invariant once both are set: qs[lo] fits, qs[hi] does not
    if lo is None:
        if hi == 0:
            return None
        if cache.encode(codec, image, qs[0], digest).bits > max_bits:
            return None
        lo = 0
    if hi is None and lo < len(qs) // 2:
        # probe the middle of the range before the top: the top quality is the costliest encoding
        # (HEVC at 512 x 768: 4 CPU s at the top, 1.9 in the middle) and budgets rarely reach it
        mid = (lo + len(qs) - 1) // 2
        if cache.encode(codec, image, qs[mid], digest).bits <= max_bits:
            lo = mid
        else:
            hi = mid
    if hi is None:
        top = cache.encode(codec, image, qs[-1], digest)
        if top.bits <= max_bits:
            return top
        hi = len(qs) - 1
    interpolate = True
    while hi - lo > 1:
        width = hi - lo
        sizes = cache.known_sizes(codec, digest)
        mid = _probe(lo, hi, sizes.get(qs[lo]), sizes.get(qs[hi]), max_bits) if interpolate else (lo + hi) // 2
        if cache.encode(codec, image, qs[mid], digest).bits <= max_bits:
            lo = mid
        else:
            hi = mid
        interpolate = not interpolate or 2 * (hi - lo) <= width  # a probe that did not halve: bisect next
    return cache.encode(codec, image, qs[lo], digest)


def _probe(lo: int, hi: int, bits_lo: int | None, bits_hi: int | None, max_bits: float) -> int:
    """Quality index in (lo, hi) where log(bits) interpolated between the bracket ends meets
    ``max_bits``; the midpoint when the sizes are unknown or not increasing."""
    if not bits_lo or not bits_hi or bits_hi <= bits_lo or max_bits <= 0:
        return (lo + hi) // 2
    frac = (math.log(max_bits) - math.log(bits_lo)) / (math.log(bits_hi) - math.log(bits_lo))
    return min(max(lo + int(frac * (hi - lo)), lo + 1), hi - 1)
