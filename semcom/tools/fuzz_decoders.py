"""Fuzz every source decoder with corrupted bitstreams: no crash, no hang, no leak.

``python -m semcom.tools.fuzz_decoders [--cases 1000] [--codecs jpeg webp jpeg2000 hevc bpg ...]``

What a receiver under ``fallback=corrupt`` does with a bitstream that arrived with errors is
:meth:`SourceCodec.decode_untrusted`: JPEG and WebP decode in-process, OpenJPEG, libde265 and
CompressAI's ANS decoder in the isolated worker (:mod:`semcom.codecs.isolation`) with a time limit.
This script feeds that exact call seeded mutations (:func:`mutate`) of real bitstreams of a few
small crops of Kodak (or the built-in images), each encoded at several qualities:

* ``bitflip``: 1 to 64 single bits flipped at random positions;
* ``burst``: a failed LDPC code block: 5 % of the bits of one 4096-bit span flipped;
* ``truncate``: the first n bytes (n uniform in [0, len)), and ``truncate_pad``: the same
  zero-padded back to the original length (what the last code block looks like);
* ``garbage``: uniform random bytes of random length (0 .. 2 len);
* ``header_garbage``: the first 8-64 bytes kept (magic numbers and headers parse), the rest random;
* ``splice``: a random range deleted, duplicated or replaced by random bytes;
* ``zero_block``: a 512-byte range set to zeros (an erased code block).

Each case ends in one outcome: ``image`` (an (H, W, 3) uint8 array of the expected size: a
damaged decode), ``refused`` (DecodeError from the library), ``timeout`` (the worker was killed
after ``--timeout`` s and restarted), ``crash`` (the worker died and was restarted; the run goes
on) or ``escaped`` (anything else reached the caller: a bug). Per codec the table gives the counts,
the total and slowest decode time, the peak resident memory of this process and of the decoder
worker, and the resident-memory growth over the run (a leak would show up there).

Learned codecs (CompressAI, when installed) use small models of the zoo architectures with
random weights (no zoo weights exist offline): the entropy decoder and synthesis transform run
exactly as with trained weights, which is what a corrupted stream exercises.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from semcom.codecs import DecodeError, SourceCodec, build_codec

MUTATIONS = ("bitflip", "burst", "truncate", "truncate_pad", "garbage", "header_garbage", "splice", "zero_block")
OUTCOMES = ("image", "refused", "timeout", "crash", "escaped")
TRADITIONAL = ("jpeg", "webp", "jpeg2000", "hevc", "bpg")
LEARNED = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "cheng2020-anchor")


def mutate(data: bytes, rng: np.random.Generator, kind: str) -> bytes:
    """One corrupted copy of ``data`` (see the module docstring for the kinds)."""
    n = len(data)
    if kind == "garbage":
        return rng.integers(0, 256, int(rng.integers(0, 2 * n + 1)), dtype=np.uint8).tobytes()
    if n == 0:
        return b""
    if kind == "bitflip":
        bits = np.unpackbits(np.frombuffer(data, np.uint8))
        k = int(2 ** rng.integers(0, 7))  # 1, 2, 4, ..., 64 flips
        bits[rng.integers(0, bits.size, k)] ^= 1
        return np.packbits(bits).tobytes()
    if kind == "burst":
        bits = np.unpackbits(np.frombuffer(data, np.uint8))
        start = int(rng.integers(0, max(1, bits.size - 4096)))
        span = bits[start : start + 4096]
        span ^= (rng.random(span.size) < 0.05).astype(np.uint8)
        return np.packbits(bits).tobytes()
    if kind == "truncate":
        return data[: int(rng.integers(0, n))]
    if kind == "truncate_pad":
        return data[: int(rng.integers(0, n))].ljust(n, b"\0")
    if kind == "header_garbage":
        keep = min(n, int(rng.integers(8, 65)))
        return data[:keep] + rng.integers(0, 256, n - keep, dtype=np.uint8).tobytes()
    if kind == "splice":
        a = int(rng.integers(0, n))
        b = min(n, a + int(rng.integers(1, 257)))
        how = rng.integers(0, 3)
        if how == 0:
            return data[:a] + data[b:]
        if how == 1:
            return data[:b] + data[a:b] + data[b:]
        return data[:a] + rng.integers(0, 256, b - a, dtype=np.uint8).tobytes() + data[b:]
    if kind == "zero_block":
        a = int(rng.integers(0, n))
        return data[:a] + bytes(min(512, n - a)) + data[a + 512 :]
    raise ValueError(f"unknown mutation {kind!r}: choose one of {MUTATIONS}")


def classify(exc: DecodeError) -> str:
    """Outcome name of a DecodeError raised by ``decode_untrusted``."""
    text = str(exc)
    if "did not finish within" in text or "did not start within" in text:
        return "timeout"
    if "decoder process crashed" in text:
        return "crash"
    return "refused"


def decode_case(codec: SourceCodec, data: bytes, shape: tuple[int, int]) -> tuple[str, str]:
    """Decode one untrusted bitstream the way the chain does; return (outcome, detail)."""
    try:
        out = codec.decode_untrusted(data, shape)
    except DecodeError as exc:
        return classify(exc), str(exc)[:200]
    except BaseException as exc:  # noqa: BLE001 - anything else reaching the caller is the bug we look for
        if isinstance(exc, KeyboardInterrupt):
            raise
        return "escaped", f"{type(exc).__name__}: {exc}"[:200]
    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != (*shape, 3):
        return "escaped", f"returned {type(out).__name__} {getattr(out, 'shape', None)} {getattr(out, 'dtype', None)}"
    return "image", ""


def rss_kib(pid: int | str = "self") -> tuple[int, int]:
    """(current, peak) resident set size of a process in KiB, from /proc (0, 0 where unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return 0, 0


def worker_pid() -> int | None:
    from semcom.codecs import isolation

    w = isolation._WORKER
    return w._proc.pid if w is not None and w._proc is not None and w._proc.poll() is None else None


def small_learned_codec(architecture: str, seed: int = 0) -> SourceCodec:
    """A CompressAI zoo architecture at a small width with random weights, two qualities."""
    import torch

    from semcom.codecs.learned import CompressAICodec, import_compressai

    import_compressai()
    from compressai.zoo.image import model_architectures

    torch.manual_seed(seed)
    arch = model_architectures[architecture]
    widths = {"bmshj2018-factorized": [{"N": 16, "M": 8}, {"N": 16, "M": 16}],
              "bmshj2018-hyperprior": [{"N": 8, "M": 16}, {"N": 8, "M": 24}],
              "mbt2018-mean": [{"N": 8, "M": 16}, {"N": 8, "M": 24}],
              "cheng2020-anchor": [{"N": 8}, {"N": 12}]}[architecture]
    models = {}
    for q, kw in enumerate(widths, start=1):
        m = arch(**kw)
        m.update(force=True)
        models[q] = m.eval()
    return CompressAICodec(architecture, models=models)


def source_images(n: int = 3) -> list[np.ndarray]:
    """``n`` small RGB crops (uint8): 64x64, 96x128 and 61x83 (odd sizes too) of Kodak or the built-in set."""
    from semcom.datasets import load_dataset
    from semcom.pipelines.base import to_uint8

    try:
        items = load_dataset("kodak", limit=n).items
    except Exception:  # noqa: BLE001 - Kodak absent: the built-in photographs
        items = load_dataset("builtin", limit=n).items
    sizes = [(64, 64), (96, 128), (61, 83)]
    out = []
    for i in range(n):
        img = to_uint8(items[i % len(items)].image[None])[0]
        h, w = sizes[i % len(sizes)]
        out.append(np.ascontiguousarray(img[100 : 100 + h, 200 : 200 + w]))
    return out


@dataclass
class CodecReport:
    codec: str
    implementation: str
    isolated: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    by_mutation: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0
    slowest_s: float = 0.0
    rss_start_kib: int = 0
    rss_end_kib: int = 0
    worker_rss_start_kib: int = 0
    worker_rss_end_kib: int = 0
    worker_peak_kib: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return sum(self.counts.values())


def streams_for(codec: SourceCodec, images: list[np.ndarray], per_image: int = 3) -> list[tuple[bytes, tuple[int, int]]]:
    """Error-free bitstreams of every image at ``per_image`` qualities spread over the ladder."""
    qs = list(codec.qualities)
    picks = [qs[int(round(i * (len(qs) - 1) / max(1, per_image - 1)))] for i in range(per_image)]
    out = []
    for img in images:
        for q in dict.fromkeys(picks):
            out.append((codec.encode(img, q), img.shape[:2]))
    return out


def fuzz_codec(codec: SourceCodec, label: str, images: list[np.ndarray], cases: int, seed: int, timeout_s: float | None = None) -> CodecReport:
    """Run ``cases`` mutated streams of ``codec`` through ``decode_untrusted``; the report."""
    if timeout_s is not None:
        codec.decode_timeout_s = float(timeout_s)
    rng = np.random.default_rng(seed)
    streams = streams_for(codec, images)
    report = CodecReport(label, codec.implementation, bool(codec.isolate))
    for data, shape in streams:  # the error-free streams decode to images (and warm the worker up)
        assert decode_case(codec, data, shape)[0] == "image", f"{label}: an error-free stream did not decode"
    warm = max(1, cases // 10)
    t_all = time.perf_counter()
    for i in range(cases):
        if i == warm:
            report.rss_start_kib = rss_kib()[0]
            pid = worker_pid()
            report.worker_rss_start_kib = rss_kib(pid)[0] if pid else 0
        kind = MUTATIONS[i % len(MUTATIONS)]
        data, shape = streams[int(rng.integers(0, len(streams)))]
        bad = mutate(data, rng, kind)
        t = time.perf_counter()
        outcome, detail = decode_case(codec, bad, shape)
        dt = time.perf_counter() - t
        report.slowest_s = max(report.slowest_s, dt)
        report.counts[outcome] += 1
        report.by_mutation.setdefault(kind, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
        if outcome != "image" and outcome not in report.examples:
            report.examples[outcome] = f"{kind}: {detail}"
        pid = worker_pid()
        if pid:
            report.worker_peak_kib = max(report.worker_peak_kib, rss_kib(pid)[1])
    report.seconds = time.perf_counter() - t_all
    report.rss_end_kib = rss_kib()[0]
    pid = worker_pid()
    report.worker_rss_end_kib = rss_kib(pid)[0] if pid else 0
    return report


def available_codecs(names: list[str]) -> list[tuple[str, SourceCodec]]:
    out = []
    have_compressai = importlib.util.find_spec("compressai") is not None
    for name in names:
        if name in LEARNED:
            if not have_compressai:
                print(f"# {name}: skipped, CompressAI is not installed (scripts/install_compressai.sh)", flush=True)
                continue
            out.append((name, small_learned_codec(name)))
        else:
            out.append((name, build_codec(name)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semcom.tools.fuzz_decoders", description=__doc__.splitlines()[0])
    parser.add_argument("--codecs", nargs="*", default=[*TRADITIONAL, *LEARNED])
    parser.add_argument("--cases", type=int, default=1000, help="cases per traditional codec")
    parser.add_argument("--learned-cases", type=int, default=250, help="cases per learned codec")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds an isolated decode may take")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    images = source_images()
    print(f"images: {[im.shape[:2] for im in images]}; mutations: {', '.join(MUTATIONS)}; timeout {args.timeout:g} s", flush=True)
    print("| codec | implementation | isolated | cases | image | refused | timeout | crash | escaped | total s | slowest s "
          "| RSS growth MiB (this process) | worker RSS start -> end MiB | worker peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    reports = []
    t0 = time.perf_counter()
    for k, (name, codec) in enumerate(available_codecs(args.codecs)):
        cases = args.learned_cases if name in LEARNED else args.cases
        r = fuzz_codec(codec, name, images, cases, args.seed + k, args.timeout)
        reports.append(r)
        c = r.counts
        print(f"| {r.codec} | {r.implementation} | {r.isolated} | {r.cases} | {c['image']} | {c['refused']} | {c['timeout']} | {c['crash']} "
              f"| {c['escaped']} | {r.seconds:.1f} | {r.slowest_s:.2f} | {(r.rss_end_kib - r.rss_start_kib) / 1024:+.1f} "
              f"| {r.worker_rss_start_kib / 1024:.0f} -> {r.worker_rss_end_kib / 1024:.0f} | {r.worker_peak_kib / 1024:.0f} |", flush=True)
    total = {o: sum(r.counts[o] for r in reports) for o in OUTCOMES}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\ntotal: {sum(total.values())} cases in {time.perf_counter() - t0:.0f} s: " + ", ".join(f"{o} {n}" for o, n in total.items())
          + f"; peak RSS of this process {peak:.0f} MiB")
    print("\nby mutation (image/refused/timeout/crash/escaped):")
    for r in reports:
        print(f"  {r.codec}: " + "; ".join(f"{m} {'/'.join(str(v[o]) for o in OUTCOMES)}" for m, v in r.by_mutation.items()))
    for r in reports:
        for outcome, text in r.examples.items():
            print(f"  example {r.codec} {outcome}: {text}")
    return 1 if total["escaped"] else 0


if __name__ == "__main__":
    sys.exit(main())
