"""Crash- and hang-proof decoding of corrupted bitstreams in a worker process.

Codec libraries are written for valid files. Handed a bitstream with channel errors (the
``fallback=corrupt`` policy), a decoder may raise, but it may also crash the process (a segfault
in C code) or loop for a very long time. :func:`isolated_decode` runs the decoder in one
long-lived child process (a fresh ``python -m semcom.codecs.isolation``, so no torch/Sionna
state is forked and the caller's main script is not re-imported, unlike ``multiprocessing``'s
spawn) and waits at most ``timeout_s`` seconds for the answer. On a timeout the child is killed;
on a crash its exit is noticed; both raise :class:`~semcom.codecs.base.DecodeError` and the next
call starts a fresh child. The caller then shows the fallback image.

Cost: starting the child once per process (about a second; more when the codec needs torch),
sending the codec object to it once, then per call a pickle round trip of the bitstream and the
decoded (H, W, 3) uint8 image (a few milliseconds for a 768x512 image). Error-free bitstreams never
come here: they decode in-process.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

import numpy as np

from semcom.errors import DecodeError


def _worker(inbox: Connection, outbox: Connection) -> None:  # runs in the child process
    codecs: dict[str, object] = {}
    while True:
        try:
            msg = inbox.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        try:
            if msg[0] == "load":
                _, key, blob = msg
                codecs[key] = pickle.loads(blob)
                outbox.send(("ok", None))
            else:
                _, key, data, shape = msg
                out = codecs[key].decode(data, tuple(shape))
                outbox.send(("ok", np.ascontiguousarray(out)))
        except BaseException as exc:  # report everything; the parent decides
            outbox.send(("error", f"{type(exc).__name__}: {exc}"))


class DecoderWorker:
    """One child process that decodes untrusted bitstreams; restarted after a crash or timeout."""

    #: Seconds allowed for starting the child and loading a codec into it.
    load_timeout_s = 120.0

    def __init__(self):
        self._proc = None
        self._conn = None
        self._send = None
        self._known: set[str] = set()
        self._lock = threading.Lock()
        self.starts = 0

    def _start(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "OMP_NUM_THREADS": "1"}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "semcom.codecs.isolation", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._proc = proc
        self._send = Connection(to_child_w, readable=False)
        self._conn = Connection(from_child_r, writable=False)
        self._known = set()
        self.starts += 1

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - a zombie we cannot reap
                pass
        for conn in (self._send, self._conn):
            if conn is not None:
                conn.close()
        self._proc = self._conn = self._send = None
        self._known = set()

    def close(self) -> None:
        with self._lock:
            if self._alive():
                try:
                    self._send.send(None)
                    self._proc.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()

    def decode(self, codec, data: bytes, shape: tuple[int, int], timeout_s: float) -> np.ndarray:
        """Decode ``data`` with ``codec`` in the child; :class:`DecodeError` on any failure."""
        with self._lock:
            if not self._alive():
                self._kill()
                self._start()
            key = codec.cache_key
            try:
                if key not in self._known:
                    # start-up and loading the codec (imports, model weights) are not timed strictly
                    self._send.send(("load", key, pickle.dumps(codec)))
                    if not self._conn.poll(self.load_timeout_s):
                        self._kill()
                        raise DecodeError(f"{codec.name}: decoder worker did not start within {self.load_timeout_s:g} s")
                    status, payload = self._conn.recv()
                    if status != "ok":
                        raise DecodeError(f"{codec.name}: cannot load the codec in the worker: {payload}")
                    self._known.add(key)
                self._send.send(("decode", key, bytes(data), tuple(int(s) for s in shape)))
                if not self._conn.poll(timeout_s):
                    self._kill()
                    raise DecodeError(f"{codec.name}: decoder did not finish within {timeout_s:g} s; worker killed")
                status, payload = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                code = self._proc.poll() if self._proc is not None else None
                self._kill()
                raise DecodeError(f"{codec.name}: decoder process crashed (exit code {code})") from None
        if status != "ok":
            raise DecodeError(f"{codec.name}: {payload}")
        out = payload
        if out.dtype != np.uint8 or out.shape != (*tuple(shape), 3):
            raise DecodeError(f"{codec.name}: decoded array {out.shape} {out.dtype} is not ({shape[0]}, {shape[1]}, 3) uint8")
        return out


_WORKER: DecoderWorker | None = None


def worker() -> DecoderWorker:
    """The process-wide decoder worker (started on first use)."""
    global _WORKER
    if _WORKER is None:
        _WORKER = DecoderWorker()
        atexit.register(_WORKER.close)
    return _WORKER


def isolated_decode(codec, data: bytes, shape: tuple[int, int], timeout_s: float) -> np.ndarray:
    """Decode an untrusted bitstream in the shared worker process (see module docstring)."""
    return worker().decode(codec, data, shape, timeout_s)


if __name__ == "__main__":
    _worker(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
