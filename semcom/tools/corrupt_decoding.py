"""Decoding corrupted bitstreams: what each decoder does, and what isolating it costs.

``python -m semcom.tools.corrupt_decoding [--trials 200] [--codecs jpeg webp jpeg2000 hevc]``

For each codec, Kodak images 1-3 are encoded at about 0.5 bpp. Then:

* **Overhead**: median time of an in-process ``decode`` and of an isolated ``decode_untrusted``
  (worker process, :mod:`semcom.codecs.isolation`) of the same error-free stream, and the worker's
  start-up time. Error-free streams always take the in-process path in the chains; the worker is
  only used for ``fallback=corrupt`` on a failed CRC.
* **Fuzzing**: ``--trials`` corrupted streams per codec, each decoded in the worker with a 20 s
  limit: half with a burst like a failed LDPC code block (5 % of the bits of a 3072-bit span
  flipped), half with scattered flips (bit error rate 1e-3). Counts: decoded to an image,
  DecodeError (the library refused), timed out (worker killed), crashed (worker died).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from semcom.codecs import DecodeError, build_codec, fit_to_budget
from semcom.codecs.isolation import DecoderWorker
from semcom.datasets import load_dataset
from semcom.pipelines.base import to_uint8


def corrupt(data: bytes, rng: np.random.Generator, burst: bool) -> bytes:
    bits = np.unpackbits(np.frombuffer(data, np.uint8))
    if burst:
        start = int(rng.integers(0, max(1, bits.size - 3072)))
        span = slice(start, min(bits.size, start + 3072))
        flips = rng.random(span.stop - span.start) < 0.05
        bits[span] ^= flips.astype(np.uint8)
    else:
        bits ^= (rng.random(bits.size) < 1e-3).astype(np.uint8)
    return np.packbits(bits).tobytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.tools.corrupt_decoding", description=__doc__.splitlines()[0])
    parser.add_argument("--codecs", nargs="*", default=["jpeg", "webp", "jpeg2000", "hevc"])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    images = [to_uint8(it.image[None])[0] for it in load_dataset("kodak", limit=3).items]
    rng = np.random.default_rng(0)
    print("| codec | isolated by default | in-process decode ms | isolated decode ms | worker start s | trials | image | DecodeError | timeout | crash |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.codecs:
        codec = build_codec(name)
        streams = [fit_to_budget(codec, img, 0.5 * img.shape[0] * img.shape[1]).data for img in images]
        shape = images[0].shape[:2]
        worker = DecoderWorker()
        t0 = time.perf_counter()
        worker.decode(codec, streams[0], shape, args.timeout)
        start_s = time.perf_counter() - t0
        inproc, isolated = [], []
        for _ in range(5):
            for s, img in zip(streams, images):
                t0 = time.perf_counter()
                codec.decode(s, img.shape[:2])
                inproc.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                worker.decode(codec, s, img.shape[:2], args.timeout)
                isolated.append(time.perf_counter() - t0)
        counts = {"image": 0, "error": 0, "timeout": 0, "crash": 0}
        for t in range(args.trials):
            k = t % len(streams)
            bad = corrupt(streams[k], rng, burst=t % 2 == 0)
            try:
                worker.decode(codec, bad, images[k].shape[:2], args.timeout)
                counts["image"] += 1
            except DecodeError as exc:
                text = str(exc)
                counts["timeout" if "did not finish" in text else "crash" if "crashed" in text else "error"] += 1
        worker.close()
        print(f"| {codec.implementation} | {codec.isolate} | {1000 * statistics.median(inproc):.1f} | {1000 * statistics.median(isolated):.1f} "
              f"| {start_s:.2f} | {args.trials} | {counts['image']} | {counts['error']} | {counts['timeout']} | {counts['crash']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
