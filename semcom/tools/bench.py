"""Per-stage speed of a digital chain and of the metrics, semcom's way vs the reference way.

``python -m semcom.tools.bench [--quick] [--device auto|cpu|cuda] [--images N] [--json out.json]``

One chain (``--codec`` jpeg by default, 5G LDPC at ``--rate``/``--qam``, ``--codeword-bits``,
``--ratio`` rho) on the first ``--images`` Kodak images of the most common size (``--dataset``;
``--quick``: 2 images, fewer repeats), at ``--snr`` dB over AWGN. Every stage is timed both ways on the same
data, so each speed-up is a ratio measured side by side:

==================  =========================================  ==========================================
stage               semcom                                     reference
==================  =========================================  ==========================================
source_encode       ``fit_to_budget`` with the encoding cache  the same search with an empty cache
                    warm (second image pass of a sweep)        (every quality encoded again)
channel_encode      CRC24A + LDPC encoder, all blocks of all   the same, one call per image
                    images in one call
modulation_channel  QAM mapper + channel, all images in one    one call per image
                    (N, L) tensor
llr_ldpc_decode     APP demapper + the chain's LDPC decoder    the same decoder called once per image
                    (numba BP on the CPU), every codeword of   (its blocks) and once per codeword
                    every image in one call (``decode_batch``) (``--per-codeword-blocks`` blocks timed,
                                                               rate extrapolated per block)
ldpc_decoder:<mcs>  semcom's numba BP decoder (``bp``, early     Sionna's LDPC5GDecoder on the same LLRs
                    termination) on one batch of n=4096           (20 iterations), same thread count
                    blocks at a fixed SNR                         (``--decoder-blocks``, ``--only-decoders``)
ldpc_abstraction    fast mode: block errors sampled from the   exact decoding (the row above)
                    BLER table (``decoder=abstraction``)
source_decode       codec decoder per image (no batching)      same
learned:<ckpt>      JSCC encoder + AWGN + decoder, all images  the same model called per image
                    in one call (``--learned`` checkpoint)
metric:<name>       batched call, reference prepared once      torchmetrics / the module per image
                    (LPIPS/DISTS) or features batched (FID)
==================  =========================================  ==========================================

Throughput is images/s (and information bits/s for the LDPC stages: CRC included, per
decoded block). Timings are medians over ``--repeats`` runs after one warm-up; on CUDA each is
synchronised. The ``ldpc_decoder:*`` rows (QPSK 1/2 in the waterfall, BLER ~0.1, and above it; 16-QAM 1/2 and
64-QAM 2/3 in the waterfall) give info Mbit/s, ms per block, mean iterations and block errors of
both decoders. The table is printed and, with ``--json``, written with the settings, device, torch
and thread count. Metrics whose weights do not resolve are listed as skipped.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from semcom.errors import SemcomError


def _sync(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def timed(fn: Callable[[], object], repeats: int, sync: Callable[[], None], warmup: bool = True) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` runs (after one warm-up run)."""
    if warmup:
        fn()
        sync()
    times = []
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _row(stage: str, n_images: int, semcom_s: float, reference_s: float | None, info_bits: int | None = None,
         note: str = "") -> dict:
    row = {"stage": stage, "images": n_images, "semcom_s": semcom_s, "semcom_img_per_s": n_images / semcom_s,
           "reference_s": reference_s, "reference_img_per_s": None if reference_s is None else n_images / reference_s,
           "speedup": None if reference_s is None else reference_s / semcom_s, "note": note}
    if info_bits is not None:
        row["semcom_info_bits_per_s"] = info_bits / semcom_s
        row["reference_info_bits_per_s"] = None if reference_s is None else info_bits / reference_s
    return row


class ChainBench:
    """One digital chain on ``images`` (N, 3, H, W) float32 in [0, 1] (one size), timed stage by
    stage (see the module docstring); each ``*_row`` method times one stage both ways."""

    def __init__(self, images: torch.Tensor, *, codec: str, rate: float, qam: int, codeword_bits: int, iterations: int,
                 ratio: float, snr_db: float, device: torch.device, repeats: int, ldpc_decoder: str = "auto"):
        from semcom.channels import build_channel
        from semcom.codecs import build_codec, fit_to_budget
        from semcom.codecs.cache import EncodingCache
        from semcom.conventions import channel_uses
        from semcom.fec.demapping import APPDemapper
        from semcom.fec.ldpc import LDPCBlockCode
        from semcom.pipelines.base import to_uint8
        from semcom.pipelines.separate import bytes_to_bits
        from sionna.phy.mapping import Mapper

        self.sync, self.device, self.repeats, self.snr_db, self.qam = _sync(device), device, repeats, float(snr_db), qam
        self.iterations = iterations
        self.n_img, _, self.height, self.width = images.shape
        self.arrays = to_uint8(images)
        self.codec = build_codec(codec)
        self.m = m = int(qam).bit_length() - 1
        self.code = LDPCBlockCode(rate, m, codeword_bits, iterations, device=device, decoder=ldpc_decoder)
        self.n_cu = channel_uses(ratio, self.height, self.width)
        self.max_layout = self.code.layout(self.n_cu * m)
        if self.max_layout is None:
            raise SemcomError(f"bench: ratio {ratio} leaves less than one code block for {self.height}x{self.width} images: raise --ratio")
        self.warm = EncodingCache()
        self.encs = [fit_to_budget(self.codec, a, self.max_layout.payload_capacity, self.warm) for a in self.arrays]
        if any(e is None for e in self.encs):
            raise SemcomError("bench: an image does not fit the budget at the lowest quality: raise --ratio")
        self.layouts = [self.code.layout(self.n_cu * m, payload_bits=e.bits) for e in self.encs]
        self.k, self.n = self.layouts[0].k, self.layouts[0].n
        self.payloads = [bytes_to_bits(e.data) for e in self.encs]
        self.blocks = [lay.count for lay in self.layouts]
        self.total_blocks = sum(self.blocks)
        self.info_bits = self.total_blocks * self.k
        kind = "pam" if m == 1 else "qam"
        self.mapper, self.demapper = Mapper(kind, m, device=str(device)), APPDemapper(kind, m, device=device)
        self.channel = build_channel({"name": "awgn"}).to(device)
        self.coded_each = [self.encode_one(i) for i in range(self.n_img)]

    def timed(self, fn: Callable[[], object], warmup: bool = True, repeats: int | None = None) -> float:
        return timed(fn, self.repeats if repeats is None else repeats, self.sync, warmup)

    def gens(self) -> list[torch.Generator]:
        return [torch.Generator(device=self.device).manual_seed(i) for i in range(self.n_img)]

    def snr(self) -> torch.Tensor:
        return torch.as_tensor(self.snr_db, device=self.device)

    # -- stages ----------------------------------------------------------------------------------
    def source_encode_row(self) -> dict:
        """Cold cache (reference) vs warm cache (semcom: a sweep's later passes)."""
        from semcom.codecs import fit_to_budget
        from semcom.codecs.cache import EncodingCache

        cap = self.max_layout.payload_capacity
        t_cold = self.timed(lambda: [fit_to_budget(self.codec, a, cap, EncodingCache()) for a in self.arrays], warmup=False)
        t_warm = self.timed(lambda: [fit_to_budget(self.codec, a, cap, self.warm) for a in self.arrays])
        return _row("source_encode", self.n_img, t_warm, t_cold,
                    note=f"{self.codec.implementation}; semcom=warm encoding cache, reference=empty cache")

    def encode_one(self, i: int) -> torch.Tensor:
        return self.code.encode(self.payloads[i].to(self.device), self.layouts[i])

    def encode_all(self) -> torch.Tensor:
        lay = type(self.layouts[0])(self.k, self.n, self.total_blocks)
        flat = torch.cat([torch.nn.functional.pad(p, (0, lay_i.payload_capacity - p.numel())) for p, lay_i in zip(self.payloads, self.layouts)])
        return self.code.encode(flat.to(self.device), lay)

    def channel_encode_row(self) -> dict:
        """All blocks of all images in one call vs one call per image."""
        assert torch.equal(self.encode_all(), torch.cat(self.coded_each)), "batched and per-image LDPC encoding differ"
        t_each = self.timed(lambda: [self.encode_one(i) for i in range(self.n_img)])
        return _row("channel_encode", self.n_img, self.timed(self.encode_all), t_each, self.info_bits,
                    note=f"CRC24A + LDPC5GEncoder k={self.k} n={self.n}, {self.total_blocks} blocks")

    def modulate_all(self):
        longest = max(self.blocks) * self.n
        padded = torch.stack([torch.nn.functional.pad(c.reshape(-1), (0, longest - c.numel())) for c in self.coded_each])
        return self.channel(self.mapper(padded), self.snr(), self.gens())

    def modulate_each(self) -> list:
        return [self.channel(self.mapper(c.reshape(1, -1)), self.snr(), [g]) for c, g in zip(self.coded_each, self.gens())]

    def modulation_row(self) -> dict:
        """One (N, L) tensor (equal block counts padded to the longest) vs one call per image."""
        return _row("modulation_channel", self.n_img, self.timed(self.modulate_all), self.timed(self.modulate_each),
                    note=f"{self.qam}-QAM, AWGN {self.snr_db:g} dB, {self.n_cu} channel uses per image")

    def decode_rows(self, per_codeword_blocks: int) -> list[dict]:
        """LLRs + LDPC decoding: every codeword in one call vs per image vs per codeword."""
        k, n, code = self.k, self.n, self.code
        xs = [o.llr_inputs() for o in self.modulate_each()]

        def llr_each():
            return [self.demapper(x, n0).reshape(-1, n) for x, n0 in xs]

        def dec_all():
            return code.decode_batch(torch.cat(llr_each()), k, n)

        def dec_each():
            return [code.decode_batch(ll, k, n) for ll in llr_each()]

        llr_all = torch.cat(llr_each())
        got_all, ok_all = dec_all()
        assert torch.equal(got_all, torch.cat([p[0] for p in dec_each()])), "batched and per-image LDPC decoding differ"
        self.t_decode = self.timed(dec_all, warmup=False)  # the decoders were built by the calls above
        rows = [_row("llr_ldpc_decode", self.n_img, self.t_decode, self.timed(dec_each, warmup=False), self.info_bits,
                     note=f"APP demapper + LDPC decoder {code.decoder} {self.iterations} it; reference = one call per image; "
                          f"block errors {int((~ok_all).sum())}/{self.total_blocks}")]
        nb = min(per_codeword_blocks, self.total_blocks)
        t_cw = self.timed(lambda: [code.decode_batch(llr_all[j : j + 1], k, n) for j in range(nb)], warmup=False,
                          repeats=max(1, self.repeats // 2))
        rows.append(_row("llr_ldpc_decode_per_codeword", self.n_img, self.t_decode, t_cw / nb * self.total_blocks, self.info_bits,
                         note=f"reference = one decoder call per codeword ({nb} of {self.total_blocks} blocks timed, extrapolated)"))
        return rows

    def abstraction_row(self) -> dict:
        """Fast mode (block errors from the BLER table) vs exact modulation + channel + LLR + decoding."""
        from semcom.fec.abstraction.curves import block_snr_db, find_curve

        try:
            curve, table = find_curve("ldpc", self.iterations, self.k, self.n, self.qam)
        except SemcomError as exc:
            return {"stage": "ldpc_abstraction", "skipped": str(exc)}
        n, m = self.n, self.m

        def abstraction():
            res = []
            for i, g in enumerate(self.gens()):
                x = torch.ones(1, self.blocks[i] * n // m, dtype=torch.complex64, device=self.device)
                o = self.channel(x, self.snr(), [g])
                snr_b = block_snr_db(1.0 / o.llr_inputs()[1][0], n // m, self.blocks[i], "awgn")
                p = torch.as_tensor(curve.bler(snr_b.cpu().numpy()))
                res.append(torch.rand(self.blocks[i], generator=g, device=self.device, dtype=torch.float64).cpu() >= p)
            return res

        return _row("ldpc_abstraction", self.n_img, self.timed(abstraction), self.t_decode + self.timed(self.modulate_all), self.info_bits,
                    note=f"decoder=abstraction ({table}), channel draw + BLER lookup + sampling; reference = exact "
                         "modulation + channel + LLR + decode, batched")

    def source_decode_row(self) -> dict:
        data = [e.data for e in self.encs]
        t_dec = self.timed(lambda: [self.codec.decode(d, (self.height, self.width)) for d in data])
        return _row("source_decode", self.n_img, t_dec, None, note=f"{self.codec.implementation} decoder, one image at a time")


def bench_chain(images: torch.Tensor, *, codec: str, rate: float, qam: int, codeword_bits: int, iterations: int,
                ratio: float, snr_db: float, device: torch.device, repeats: int, per_codeword_blocks: int,
                ldpc_decoder: str = "auto") -> list[dict]:
    """Stage rows of one chain on ``images`` (N, 3, H, W) float32 in [0, 1] (one size)."""
    bench = ChainBench(images, codec=codec, rate=rate, qam=qam, codeword_bits=codeword_bits, iterations=iterations, ratio=ratio,
                       snr_db=snr_db, device=device, repeats=repeats, ldpc_decoder=ldpc_decoder)
    return [bench.source_encode_row(), bench.channel_encode_row(), bench.modulation_row(),
            *bench.decode_rows(per_codeword_blocks), bench.abstraction_row(), bench.source_decode_row()]


#: (label, code rate, QAM order, Es/N0 dB) of the decoder rows: n = 4096 (a multiple of the bits per
#: symbol), AWGN; BLER about 0.1 in the waterfall and about 0 above it.
DECODER_POINTS = (("qpsk_1/2_waterfall", 0.5, 4, 1.2), ("qpsk_1/2_above", 0.5, 4, 2.5),
                  ("16qam_1/2_waterfall", 0.5, 16, 6.4), ("64qam_2/3_waterfall", 2 / 3, 64, 14.0))


def bench_ldpc_decoders(blocks: int, repeats: int, iterations: int = 20, codeword_bits: int = 4096, seed: int = 0,
                        points=DECODER_POINTS) -> list[dict]:
    """semcom's numba BP decoder (exact boxplus, early termination) against Sionna's LDPC5GDecoder on
    the same ``blocks`` LLR blocks per point (AWGN, Sionna's app demapper), on the CPU with the
    current torch / numba thread counts. Bits are checked equal with early termination off."""
    import math

    import numba
    from sionna.phy.mapping import Demapper, Mapper

    from semcom.fec.ldpc import LDPCBlockCode
    from semcom.randomness import generator

    rows = []
    for label, rate, qam, es_n0 in points:
        m = int(qam).bit_length() - 1
        fast = LDPCBlockCode(rate, m, codeword_bits, iterations, decoder="bp")
        lay = fast.layout(codeword_bits)
        k, n = lay.k, lay.n
        enc, dec = fast._code(k, n)
        ref = LDPCBlockCode(rate, m, codeword_bits, iterations, decoder="sionna")._code(k, n)[1]
        g = generator(seed)
        u = torch.randint(0, 2, (blocks, k), generator=g).float()
        x = Mapper("qam", m)(enc(u))
        n0 = 10 ** (-es_n0 / 10)
        noise = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g)) * math.sqrt(n0 / 2)
        llr = Demapper("app", "qam", m)(x + noise, torch.tensor(n0))
        dec(llr[:2])  # compiled (numba cache) outside the timing
        t_new = timed(lambda: dec(llr), repeats, lambda: None)
        got = dec(llr)
        its = float(dec.last_iterations.mean())
        t_ref = timed(lambda: ref(llr), max(1, repeats // 2), lambda: None, warmup=False)
        c0 = time.process_time()
        dec(llr)
        c1 = time.process_time()
        ref(llr)
        c2 = time.process_time()
        cpu_new, cpu_ref = c1 - c0, c2 - c1  # CPU seconds of all threads: less sensitive to other load than wall time
        want = ref(llr)
        from semcom.fec.ldpc_bp import NumbaLDPC5GDecoder

        no_et = NumbaLDPC5GDecoder(enc, iterations, early_stop=False)(llr)
        same = float((no_et == want).all(dim=1).float().mean())
        err_new, err_ref = int((got != u).any(dim=1).sum()), int((want != u).any(dim=1).sum())
        info = blocks * k
        rows.append({
            "stage": f"ldpc_decoder:{label}", "images": blocks, "semcom_s": t_new, "reference_s": t_ref,
            "semcom_img_per_s": blocks / t_new, "reference_img_per_s": blocks / t_ref, "speedup": t_ref / t_new,
            "semcom_info_bits_per_s": info / t_new, "reference_info_bits_per_s": info / t_ref,
            "semcom_ms_per_block": 1e3 * t_new / blocks, "reference_ms_per_block": 1e3 * t_ref / blocks,
            "semcom_cpu_ms_per_block": 1e3 * cpu_new / blocks, "reference_cpu_ms_per_block": 1e3 * cpu_ref / blocks,
            "cpu_speedup": cpu_ref / cpu_new, "semcom_mean_iterations": its, "reference_iterations": iterations,
            "semcom_block_errors": err_new, "reference_block_errors": err_ref, "bit_equal_blocks_no_et": same,
            "threads": f"torch {torch.get_num_threads()}, numba {numba.get_num_threads()}",
            "note": (f"k={k} n={n} {qam}-QAM Es/N0 {es_n0:g} dB, {blocks} blocks: ms/block {1e3 * t_new / blocks:.3f} vs "
                     f"{1e3 * t_ref / blocks:.2f} (CPU time ratio {cpu_ref / cpu_new:.1f}x), iterations {its:.1f} vs {iterations}, block errors {err_new} vs {err_ref}, "
                     f"bits equal (ET off) {100 * same:.1f}% of blocks"),
        })
    return rows


def bench_learned(images: torch.Tensor, checkpoint: str, snr_db: float, device: torch.device, repeats: int) -> list[dict]:
    """Learned JSCC row: encoder + AWGN + decoder on all images in one call vs per image, at the
    checkpoint's own bandwidth ratio; ``max_abs_diff`` compares the reconstructions (same noise:
    one generator per image)."""
    from semcom.channels.awgn import AWGN
    from semcom.jscc.checkpoints import load_checkpoint
    from semcom.randomness import generator

    try:
        model, _ = load_checkpoint(checkpoint, device)
    except SemcomError as exc:
        return [{"stage": f"learned:{checkpoint}", "skipped": str(exc)}]
    model.eval()
    sync = _sync(device)
    x, channel, n_img = images.to(device), AWGN().to(device), images.shape[0]
    ratio = model.ratios[-1]

    def run(batch: torch.Tensor, first: int) -> torch.Tensor:
        rngs = [generator(first + i, device) for i in range(batch.shape[0])]
        with torch.no_grad():
            return model(batch, channel, snr_db, rngs, ratio)[0]

    t_all = timed(lambda: run(x, 0), repeats, sync)
    t_each = timed(lambda: [run(x[i : i + 1], i) for i in range(n_img)], repeats, sync)
    diff = float((run(x, 0) - torch.cat([run(x[i : i + 1], i) for i in range(n_img)])).abs().max())
    return [{**_row(f"learned:{checkpoint}", n_img, t_all, t_each,
                    note=f"{type(model).__name__} encoder + AWGN {snr_db:g} dB + decoder, rho={ratio:.4g}; reference = one call per image"),
             "max_abs_diff": diff}]


def _reference_pixel(name: str):
    import torchmetrics.functional.image as tmi

    if name == "psnr":
        return lambda a, b: tmi.peak_signal_noise_ratio(b, a, data_range=1.0)
    if name == "ssim":
        return lambda a, b: tmi.structural_similarity_index_measure(b, a, data_range=1.0)
    if name == "ms_ssim":
        return lambda a, b: tmi.multiscale_structural_similarity_index_measure(b, a, data_range=1.0)
    return None


def bench_metrics(images: torch.Tensor, names: list[str], device: torch.device, repeats: int) -> list[dict]:
    """Metric rows: semcom's batched call vs the reference per image (see the module docstring)."""
    from semcom.metrics import get_metric

    sync = _sync(device)
    g = torch.Generator().manual_seed(0)
    ref = images.to(device)
    rec = (images + 0.05 * torch.randn(images.shape, generator=g)).clamp(0, 1).to(device)
    n_img = ref.shape[0]
    rows = []
    for name in names:
        m = get_metric(name)
        try:
            m.load()
        except SemcomError as exc:
            rows.append({"stage": f"metric:{name}", "skipped": str(exc)})
            continue
        with torch.no_grad():
            if m.per_image:
                state = m.prepare(ref)
                t_sem = timed(lambda: m.score(state, rec), repeats, sync)
                pix = _reference_pixel(name)
                ours = m.score(state, rec).double().cpu()
                if pix is not None:
                    t_ref = timed(lambda: [pix(ref[i : i + 1], rec[i : i + 1]) for i in range(n_img)], repeats, sync)
                    theirs = torch.stack([pix(ref[i : i + 1], rec[i : i + 1]).reshape(()) for i in range(n_img)]).double().cpu()
                    note = "semcom batched vs torchmetrics.functional per image"
                else:
                    t_ref = timed(lambda: [m(ref[i : i + 1], rec[i : i + 1]) for i in range(n_img)], repeats, sync)
                    theirs = torch.cat([m(ref[i : i + 1], rec[i : i + 1]) for i in range(n_img)]).double().cpu()
                    note = "semcom: reference features prepared once, reconstructions batched; reference: the module called per image (both sides)"
                diff = float((ours - theirs).abs().max())
            else:
                t_sem = timed(lambda: m.features(rec), repeats, sync)
                t_ref = timed(lambda: [m.features(rec[i : i + 1]) for i in range(n_img)], repeats, sync)
                diff = float((m.features(rec).double() - torch.cat([m.features(rec[i : i + 1]) for i in range(n_img)]).double()).abs().max())
                note = "feature extraction batched vs per image"
        rows.append({**_row(f"metric:{name}", n_img, t_sem, t_ref, note=note), "max_abs_diff": diff})
    return rows


def sweep_estimate(rows: list[dict], n_images: int, snr_points: int, channels: int, chains: int, ldpc_stage: str) -> dict:
    """Seconds for ``chains`` digital chains x ``channels`` x ``snr_points`` x ``n_images`` from the per-image
    stage costs of this bench (its codec, image size and metrics): source encode with an empty cache once
    per image and chain, everything else per cell. A rough guide; a real sweep's time is what counts."""
    by = {r["stage"]: r for r in rows if "skipped" not in r}
    per_img = lambda st, key="semcom_s": by[st][key] / by[st]["images"] if st in by else 0.0  # noqa: E731
    cells = n_images * snr_points * channels * chains
    per_cell = per_img("source_decode")
    if ldpc_stage == "ldpc_abstraction":  # fast mode neither encodes nor decodes the LDPC blocks
        per_cell += per_img("ldpc_abstraction")
    else:
        per_cell += per_img("channel_encode") + per_img("modulation_channel") + per_img("llr_ldpc_decode")
    per_cell += sum(per_img(st) for st in by if st.startswith("metric:"))
    once = n_images * chains * per_img("source_encode", "reference_s")
    return {"cells": cells, "per_cell_s": per_cell, "encode_once_s": once, "total_s": once + cells * per_cell, "ldpc": ldpc_stage}


def format_table(rows: list[dict]) -> str:
    head = f"{'stage':<30} {'semcom img/s':>13} {'ref img/s':>11} {'speedup':>8} {'semcom info Mbit/s':>19} {'ref info Mbit/s':>16}  note"
    lines = [head, "-" * len(head)]
    f = lambda v, fmt: format("-", fmt[0] + fmt[1:].split(".")[0]) if v is None else format(v, fmt)  # noqa: E731
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['stage']:<30} skipped: {r['skipped']}")
            continue
        sb, rb = r.get("semcom_info_bits_per_s"), r.get("reference_info_bits_per_s")
        lines.append(f"{r['stage']:<30} {r['semcom_img_per_s']:>13.4g} {f(r['reference_img_per_s'], '>11.4g')} "
                     f"{f(r['speedup'], '>8.2f')} {f(None if sb is None else sb / 1e6, '>19.4g')} "
                     f"{f(None if rb is None else rb / 1e6, '>16.4g')}  {r['note']}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m semcom.tools.bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 images cropped to 256x384, 1 repeat, psnr/ssim/ms_ssim/lpips")
    p.add_argument("--dataset", default="kodak")
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--device", default="auto")
    p.add_argument("--codec", default="jpeg")
    p.add_argument("--rate", type=float, default=0.5)
    p.add_argument("--qam", type=int, default=4)
    p.add_argument("--codeword-bits", type=int, default=4096)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--ratio", default="1/6")
    p.add_argument("--crop", default=None, help="HxW centre crop of every image (--quick: 256x384)")
    p.add_argument("--snr", type=float, default=2.0)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--per-codeword-blocks", type=int, default=8)
    p.add_argument("--metrics", nargs="*", default=["psnr", "ssim", "ms_ssim", "lpips", "vitscore", "fid"])
    p.add_argument("--learned", default="deepjscc-awgn-r1_16", help="JSCC checkpoint of the learned row ('' to skip)")
    p.add_argument("--threads", type=int, default=None, help="torch and numba threads")
    p.add_argument("--ldpc-decoder", default="auto", help="decoder of the chain rows: auto | bp | minsum | offset_minsum | sionna")
    p.add_argument("--decoder-blocks", type=int, default=256, help="blocks per point of the ldpc_decoder rows (--quick: 64; 0 skips them)")
    p.add_argument("--only-decoders", action="store_true", help="only the ldpc_decoder rows (no dataset needed)")
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--sweep", default="24x7x2x2", help="images x SNR points x channels x chains for the sweep estimate")
    return p


def _bench_images(dataset: str, n: int, crop: str | None) -> torch.Tensor:
    """The first ``n`` images of ``dataset`` of its most common size, centre-cropped to ``crop`` (HxW)."""
    from semcom.datasets import load_dataset

    ds = load_dataset(dataset)
    shapes = [tuple(it.image.shape) for it in ds.items]
    shape = max(set(shapes), key=shapes.count)
    imgs = torch.stack([it.image for it in ds.items if tuple(it.image.shape) == shape][:n])
    if crop:
        ch, cw = (int(v) for v in crop.lower().split("x"))
        top, left = (imgs.shape[2] - ch) // 2, (imgs.shape[3] - cw) // 2
        if top < 0 or left < 0:
            raise SemcomError(f"--crop {crop} is larger than the images ({imgs.shape[2]}x{imgs.shape[3]}): give a smaller HxW")
        imgs = imgs[:, :, top : top + ch, left : left + cw].contiguous()
    return imgs


def _write_json(path: str, payload: dict) -> None:
    payload = {**payload, "torch": torch.__version__, "threads": torch.get_num_threads(),
               "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    from semcom.conventions import parse_ratio
    from semcom.devices import select_device

    a = _parser().parse_args(argv)
    settings = {k: v for k, v in vars(a).items() if k != "json"}
    if a.threads:
        import numba

        torch.set_num_threads(a.threads)
        numba.set_num_threads(min(a.threads, numba.config.NUMBA_NUM_THREADS))
    if a.quick:
        a.images, a.repeats, a.per_codeword_blocks, a.crop = 2, 1, 2, a.crop or "256x384"
        a.decoder_blocks = min(a.decoder_blocks, 64)
        a.metrics = [m for m in a.metrics if m in ("psnr", "ssim", "ms_ssim", "lpips")]
    t0 = time.perf_counter()
    if a.only_decoders:
        rows = bench_ldpc_decoders(a.decoder_blocks, a.repeats, a.iterations, a.codeword_bits)
        print(format_table(rows))
        print(f"bench wall time {time.perf_counter() - t0:.0f} s")
        if a.json:
            _write_json(a.json, {"settings": settings, "rows": rows})
        return 0
    device = select_device(a.device)
    imgs = _bench_images(a.dataset, a.images, a.crop)
    print(f"semcom.tools.bench: {len(imgs)} {a.dataset} images {imgs.shape[2]}x{imgs.shape[3]}, device={device}, threads={torch.get_num_threads()}, "
          f"{a.codec} + LDPC r={a.rate:g} {a.qam}-QAM n={a.codeword_bits}, rho={a.ratio}, AWGN {a.snr:g} dB", flush=True)
    rows = bench_chain(imgs, codec=a.codec, rate=a.rate, qam=a.qam, codeword_bits=a.codeword_bits, iterations=a.iterations,
                       ratio=parse_ratio(a.ratio), snr_db=a.snr, device=device, repeats=a.repeats,
                       per_codeword_blocks=a.per_codeword_blocks, ldpc_decoder=a.ldpc_decoder)
    if a.decoder_blocks and device.type == "cpu":
        rows += bench_ldpc_decoders(a.decoder_blocks, a.repeats, a.iterations, a.codeword_bits)
    if a.learned:
        rows += bench_learned(imgs, a.learned, a.snr, device, a.repeats)
    rows += bench_metrics(imgs, a.metrics, device, a.repeats)
    print(format_table(rows))
    n_i, n_s, n_c, n_p = (int(v) for v in a.sweep.split("x"))
    have = {r["stage"] for r in rows if "skipped" not in r}
    est = {mode: sweep_estimate(rows, n_i, n_s, n_c, n_p, mode) for mode in ("llr_ldpc_decode", "ldpc_abstraction") if mode in have}
    for mode, e in est.items():
        print(f"sweep estimate ({a.sweep} at {imgs.shape[2]}x{imgs.shape[3]}, these metrics, LDPC {'exact' if mode == 'llr_ldpc_decode' else 'abstraction'}): "
              f"{e['total_s'] / 60:.1f} min ({e['cells']} cells x {e['per_cell_s']:.3f} s + encoding {e['encode_once_s']:.0f} s)")
    print(f"bench wall time {time.perf_counter() - t0:.0f} s")
    if a.json:
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
        _write_json(a.json, {"settings": settings, "device": str(device), "device_name": name, "rows": rows, "sweep_estimate": est})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
