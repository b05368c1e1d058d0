"""Separate source-channel coding: source codec + 5G LDPC or polar + QAM over the channel.

Per image (H x W), at bandwidth ratio rho, for one MCS (code rate r, QAM with m bits per symbol):

1. budget: ``n_cu = floor(rho * 3HW)`` complex channel uses, i.e. ``n_cu * m`` coded bits;
2. code blocks: 5G LDPC (or polar) at rate r with a CRC24A per block (:mod:`semcom.fec.blockcode`);
   the source codec picks the highest quality whose bitstream fits the blocks that fit the
   budget (:func:`~semcom.codecs.fit_to_budget`, encodings cached per image);
3. Sionna QAM mapper (Gray, unit average energy) -> channel -> the channel's configured receiver
   (CSI and equaliser, ``ChannelOutput.llr_inputs``) -> Sionna "app" demapper fed each symbol's
   effective noise after equalisation, (N0 + CSI error variance)/|h_est|^2 -> batched BP
   decoding -> CRC per block;
4. any block failing its CRC loses the image: the receiver shows the fallback (grey by default;
   ``corrupt`` hands the erroneous bits to the source decoder, isolated in a worker process with a
   time limit for decoders that may crash or hang) and the row is marked failed.

The receiver gets the whole payload of its code blocks (zero padding included): every codec here
delimits its own bitstream.

**MCS.** ``mcs={rate: 0.5, qam: 16}`` fixes one scheme. ``mcs="best"`` gives the best-MCS envelope
("BPG + LDPC" in papers): at each SNR, the scheme of the table (``mcs_table``) with the highest
mean quality (``mcs_metric``, default PSNR) over the images of the job, every image of that SNR
sent with it. The search is exact and decodes few schemes: each scheme's mean quality is bounded
above by the mean over images of the better of its error-free quality (known from the encoder
alone) and the fallback's quality; schemes are decoded in decreasing order of that bound, and the
search stops when the bound of the next one cannot beat the best mean found (with the ``corrupt``
fallback no bound holds, so every scheme is decoded). Each scheme is decoded once per (image,
SNR), with the same noise and fading for every scheme (the image's generator), and the winner's
outcome is kept for the rows, so nothing is decoded twice. When the experiment runner calls
:meth:`SeparateChain.prepare` with the whole dataset the mean is over all images; a direct call of
:meth:`transmit` without it chooses on the mean over the images of that call.

``bits`` in the result is the source bitstream size; ``channel_uses`` the QAM symbols actually sent.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sionna.phy.mapping import Demapper, Mapper

from semcom.fec.demapping import APPDemapper

from semcom.fec.mcs import MCS, parse_mcs, qam_bits
from semcom.fec.mcs import mcs_table as build_mcs_table
from semcom.channels.base import Channel
from semcom.codecs import DecodeError, Encoded, build_codec, fit_to_budget
from semcom.codecs.base import image_digest
from semcom.fec.blockcode import BlockCode, BlockLayout
from semcom.fec.ldpc import LDPCBlockCode, resolve_decoder
from semcom.fec.polar import PolarBlockCode
from semcom.conventions import channel_uses, ebn0_db
from semcom.errors import SemcomError
from semcom.pipelines.base import PipelineBase, Transmission, codec_display, fallback_image, from_uint8, to_uint8
from semcom.randomness import Rng

log = logging.getLogger(__name__)

QAM_ORDERS = (2, 4, 16, 64, 256)
CODE_FAMILIES = ("ldpc", "polar")
DECODERS = ("exact", "abstraction")
#: Source streams whose coded bits a chain keeps (:meth:`SeparateChain._coded_bits`).
CODED_CACHE = 256
__all__ = ["QAM_ORDERS", "SeparateChain", "bits_to_bytes", "bytes_to_bits", "qam_bits"]


def bytes_to_bits(data: bytes) -> torch.Tensor:
    return torch.from_numpy(np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(np.float32))


def bits_to_bytes(bits: torch.Tensor) -> bytes:
    return np.packbits(bits.detach().cpu().numpy().astype(np.uint8)).tobytes()


def _row_rng(rng: Rng, i: int):
    return [rng[i]] if not isinstance(rng, torch.Generator) else rng


def _clone(g: torch.Generator) -> torch.Generator:
    c = torch.Generator(device=g.device)
    c.set_state(g.get_state())
    return c


def _state_digest(g: torch.Generator) -> str:
    return hashlib.sha1(g.get_state().cpu().numpy().tobytes()).hexdigest()


@dataclass
class Outcome:
    """What one image's transmission with one MCS produced at the receiver.

    ``received`` is the packed payload of all its code blocks (zero padding included);
    ``block_ok`` the CRC result of every block decoded (None when nothing was sent); under
    progressive decoding (best-MCS search) a lost image's later blocks may stay undecoded.
    """

    mcs: MCS
    enc: Encoded | None
    layout: BlockLayout | None
    received: bytes | None = None
    block_ok: torch.Tensor | None = None

    @property
    def block_errors(self) -> int | None:
        return None if self.block_ok is None else int((~self.block_ok).sum())

    @property
    def ok(self) -> bool:
        return self.enc is not None and self.block_errors == 0 and len(self.block_ok) == self.layout.count


@dataclass
class _Link:
    code: BlockCode
    mapper: Mapper
    demapper: Demapper | APPDemapper


class SeparateChain(PipelineBase):
    """Source codec + 5G LDPC or polar (CRC per block) + QAM, one MCS or the best-MCS envelope.

    Args:
        name: pipeline name in result rows (e.g. ``bpg_ldpc``); ``{rate}``, ``{qam}``, ``{mcs}``
            in it are filled in, and ``mcs=best`` appends ``_best``.
        codec: source codec name (:func:`semcom.codecs.build_codec`); ``codec_params`` passed to it.
        mcs: ``{rate: r, qam: M}`` (fixed) or ``"best"`` (envelope over ``mcs_table``).
        code: ``ldpc`` (5G LDPC, rates 1/5 .. <1) or ``polar`` (5G polar, SCL).
        mcs_table: for ``mcs=best``: ``compact`` | ``nr_table1`` | ``nr_table2`` | [[rate, qam], ...].
        mcs_metric: metric that ranks schemes for ``mcs=best`` (default ``psnr``).
        code_rate, qam: older spelling of a fixed ``mcs`` (not together with ``mcs``).
        codeword_bits: code block length n (default 4096 for LDPC, 1024 for polar).
        ldpc_iterations: BP iterations (the most, with ``ldpc_early_stop``). polar_decoder /
            polar_list_size: ``SCL`` / 8.
        ldpc_decoder: ``auto`` (semcom's numba BP decoder on the CPU, Sionna's on CUDA) | ``bp`` |
            ``minsum`` | ``offset_minsum`` | ``sionna`` (:mod:`semcom.fec.ldpc`).
        ldpc_early_stop: the numba decoders stop a block once its syndrome is satisfied.
        ratio, fallback, device, encodings: see :class:`~semcom.pipelines.base.PipelineBase`.
        decoder: ``exact`` (BP decoding of every block) or ``abstraction`` (fast mode: each
            block fails with the probability that semcom's measured BLER table gives at the
            block's effective SNR, :mod:`semcom.fec.abstraction`; LDPC only, channels constant over a
            code block with perfect CSI, not with ``fallback=corrupt``). Rows of the fast mode
            are named ``<name>_abstraction`` and carry ``decoder=abstraction``.
    """

    kind = "separate"
    extra_columns = ("quality", "codewords", "block_errors", "code", "code_rate", "qam", "ebn0_db", "mcs_policy",
                     "mcs_decoded", "codec", "decoder")

    def __init__(
        self,
        name: str,
        codec: str = "jpeg",
        mcs=None,
        code: str = "ldpc",
        mcs_table="compact",
        mcs_metric: str = "psnr",
        code_rate: float | None = None,
        qam: int | None = None,
        codeword_bits: int | None = None,
        ldpc_iterations: int = 20,
        ldpc_decoder: str = "auto",
        ldpc_early_stop: bool = True,
        polar_decoder: str = "SCL",
        polar_list_size: int = 8,
        codec_params: dict | None = None,
        decoder: str = "exact",
        **common,
    ):
        super().__init__(name, **common)
        if code not in CODE_FAMILIES:
            raise SemcomError(f"pipeline {name}: code={code!r} is unknown: choose one of {', '.join(CODE_FAMILIES)}")
        self.code_family = code
        self.codeword_bits = codeword_bits if codeword_bits is not None else (4096 if code == "ldpc" else 1024)
        self.ldpc_iterations = int(ldpc_iterations)
        try:
            self.ldpc_decoder = resolve_decoder(ldpc_decoder, self.device)
        except SemcomError as exc:
            raise SemcomError(f"pipeline {name}: pipeline.{exc}") from None
        if not isinstance(ldpc_early_stop, bool):
            raise SemcomError(f"pipeline {name}: pipeline.ldpc_early_stop={ldpc_early_stop!r} must be true or false")
        self.ldpc_early_stop = ldpc_early_stop
        self.polar_decoder, self.polar_list_size = polar_decoder, int(polar_list_size)
        self.codec = build_codec(codec, device=self.device, **dict(codec_params or {}))
        self._codec_label = codec_display(codec, self.codec)
        self.mcs = parse_mcs(mcs, code_rate, qam)
        if decoder not in DECODERS:
            raise SemcomError(f"pipeline {name}: decoder={decoder!r} is unknown: choose one of {', '.join(DECODERS)}")
        self.decoder = decoder
        self.name = self._row_name(name)
        if decoder == "abstraction":
            if code != "ldpc":
                raise SemcomError(f"pipeline {name}: decoder=abstraction has BLER tables for code=ldpc only: use pipeline.decoder=exact")
            if self.fallback == "corrupt":
                raise SemcomError(f"pipeline {name}: decoder=abstraction does not produce erroneous bits, so fallback=corrupt "
                                  "cannot be simulated: use fallback=grey|black or pipeline.decoder=exact")
            self.name = f"{self.name}_abstraction"
        self.table = build_mcs_table(mcs_table) if self.mcs == "best" else [self.mcs]
        self.uses_dataset = self.mcs == "best"  # the envelope's MCS is chosen over all the job's images
        self.mcs_table_spec = mcs_table
        self.mcs_metric = mcs_metric
        self._links: dict[MCS, _Link] = {}
        self._coded: OrderedDict[tuple, torch.Tensor] = OrderedDict()  # see _coded_bits
        family = LDPCBlockCode if code == "ldpc" else PolarBlockCode
        for m in self.table:  # the block length must hold a block at every scheme: checked before the run
            try:
                family.check_block_length(self.codeword_bits, m.rate, m.bits_per_symbol)
            except ValueError as exc:
                raise SemcomError(f"pipeline {name}: pipeline.{exc}") from None
        self.codeword_bits = int(self.codeword_bits)
        for m in self.table if self.mcs != "best" else ():
            self._link(m)  # a fixed MCS is checked now, so a bad one fails before the run
        if decoder == "abstraction":
            for m in self.table:  # every scheme needs its full-size block's curve
                self._curve(m, self._link(m).code.layout(self.codeword_bits))
        self._chosen: dict[tuple, tuple[MCS | None, int]] = {}
        self._outcomes: dict[tuple, Outcome] = {}
        self._quality_cache: dict[tuple, float] = {}

    @property
    def label(self) -> str:
        """``BPG + LDPC (best MCS)``, ``JPEG + LDPC (QPSK 1/2)``; ``, BLER tables`` in fast mode."""
        mcs = "best MCS" if self.mcs == "best" else self.mcs.display
        fast = ", BLER tables" if self.decoder == "abstraction" else ""
        return f"{self._codec_label} + {self.code_family.upper() if self.code_family == 'ldpc' else self.code_family} ({mcs}{fast})"

    def _row_name(self, name: str) -> str:
        """The pipeline name in rows: ``{rate}``/``{qam}``/``{mcs}`` in ``name`` are filled in;
        ``mcs=best`` appends ``_best`` (so an envelope and a fixed MCS never share row keys)."""
        if self.mcs == "best":
            name = name.replace("{rate}", "best").replace("{qam}", "best").replace("{mcs}", "best")
            return name if name.endswith("best") else f"{name}_best"
        tag = f"{self.mcs.qam}qam_r{self.mcs.rate:.4g}"
        return name.replace("{rate}", f"{self.mcs.rate:.4g}").replace("{qam}", str(self.mcs.qam)).replace("{mcs}", tag)

    # ------------------------------------------------------------------ building blocks
    def _link(self, mcs: MCS) -> _Link:
        if mcs not in self._links:
            m = mcs.bits_per_symbol
            try:
                if self.code_family == "ldpc":
                    code = LDPCBlockCode(mcs.rate, m, self.codeword_bits, self.ldpc_iterations, device=self.device,
                                         decoder=self.ldpc_decoder, early_stop=self.ldpc_early_stop)
                else:
                    code = PolarBlockCode(mcs.rate, m, self.codeword_bits, self.polar_decoder, self.polar_list_size, device=self.device)
            except ValueError as exc:
                raise SemcomError(f"pipeline {self.name}: {exc}") from None
            kind = "pam" if m == 1 else "qam"
            # the all-Sionna reference chain (ldpc_decoder=sionna) keeps Sionna's demapper too; the two give equal LLRs
            # to float32 rounding (tests/test_demapping.py)
            demapper = (Demapper("app", kind, m, device=str(self.device)) if self.ldpc_decoder == "sionna"
                        else APPDemapper(kind, m, device=self.device))
            self._links[mcs] = _Link(code, Mapper(kind, m, device=str(self.device)), demapper)
        return self._links[mcs]

    def params(self) -> dict:
        out = {
            "codec": self.codec.implementation,
            "code": self.code_family,
            "codeword_bits": self.codeword_bits,
            "fallback": self.fallback,
        }
        if self.code_family == "ldpc":
            out["ldpc_iterations"] = self.ldpc_iterations
            if self.decoder == "exact":
                out["ldpc_decoder"] = self.ldpc_decoder
                if self.ldpc_decoder != "sionna":
                    out["ldpc_early_stop"] = self.ldpc_early_stop
        else:
            out.update(polar_decoder=self.polar_decoder, polar_list_size=self.polar_list_size)
        if self.decoder != "exact":
            out.update(decoder=self.decoder, bler_table=self._curve(self.table[0], self._link(self.table[0]).code.layout(self.codeword_bits))[1])
        if self.mcs == "best":
            out.update(mcs="best", mcs_metric=self.mcs_metric, mcs_table=[[m.rate, m.qam] for m in self.table])
        else:
            out.update(mcs={"rate": self.mcs.rate, "qam": self.mcs.qam}, code_rate=self.mcs.rate, qam=self.mcs.qam)
        return out

    def _fitted(self, arrays: np.ndarray, link: _Link, mcs: MCS):
        """``(i, encoding, layout)`` for every image of ``arrays`` (N, H, W, 3) uint8 whose source
        stream fits its channel budget at ``mcs`` (the largest quality that fits, from the encoding
        cache); the others are lost before transmission. Exact and fast mode start here."""
        m = mcs.bits_per_symbol
        n_cu = channel_uses(self.ratio, arrays.shape[1], arrays.shape[2])
        max_layout = link.code.layout(n_cu * m)
        if max_layout is None or max_layout.count == 0:
            return
        for i in range(arrays.shape[0]):
            enc = fit_to_budget(self.codec, arrays[i], max_layout.payload_capacity, self.encodings)
            if enc is not None:
                yield i, enc, link.code.layout(n_cu * m, payload_bits=enc.bits)

    def _coded_bits(self, link: _Link, enc: Encoded, layout: BlockLayout) -> torch.Tensor:
        """CRC + channel encoding of one source stream, (count * n,) float32: deterministic, so kept
        for the next SNR point, realization and pipeline call (keyed by the stream's bytes and the
        layout; the last :data:`CODED_CACHE` streams)."""
        key = (enc.data, link.code.family, layout.k, layout.n, layout.count, link.code.m)
        if key in self._coded:
            self._coded.move_to_end(key)
            return self._coded[key].to(self.device, torch.float32)
        coded = link.code.encode(bytes_to_bits(enc.data).to(self.device), layout)
        self._coded[key] = coded.to(torch.uint8)
        while len(self._coded) > CODED_CACHE:
            self._coded.popitem(last=False)
        return coded

    def _send(self, arrays: np.ndarray, snrs: Sequence[float], channel: Channel, rng: Rng, mcs: MCS,
              progressive: bool = False, abort: Callable[[list[Outcome]], bool] | None = None) -> list[Outcome] | None:
        """Transmit same-size images (N, H, W, 3) uint8 with ``mcs`` and decode their blocks, batched.

        ``progressive``: decode each image's blocks in rounds of 1, 2, 4, ... blocks and stop at
        its first failed block (the image is lost anyway; ``block_errors`` then counts the failed
        blocks found). ``abort(outcomes)`` is asked after every round; True ends the call (None).
        The noise of every block is drawn before any decoding, so neither changes the outcome.
        """
        if self.decoder == "abstraction":
            return self._send_abstraction(arrays, snrs, channel, rng, mcs, abort)
        n_img = arrays.shape[0]
        link = self._link(mcs)
        outcomes = [Outcome(mcs, None, None) for _ in range(n_img)]
        llrs: list[torch.Tensor | None] = [None] * n_img
        for i, enc, layout in self._fitted(arrays, link, mcs):
            coded = self._coded_bits(link, enc, layout)
            x = link.mapper(coded.reshape(1, -1))
            out = channel(x, torch.as_tensor(float(snrs[i]), device=self.device), _row_rng(rng, i))
            x_hat, n0_eff = out.llr_inputs()
            llrs[i] = link.demapper(x_hat, n0_eff).reshape(layout.count, layout.n)
            outcomes[i].enc, outcomes[i].layout = enc, layout

        active = [i for i in range(n_img) if outcomes[i].layout is not None]
        bits = {i: torch.zeros(outcomes[i].layout.count, outcomes[i].layout.payload_bits_per_block) for i in active}
        oks: dict[int, list[torch.Tensor]] = {i: [] for i in active}
        done = dict.fromkeys(active, 0)
        width_blocks = 1
        while active:
            groups: dict[tuple[int, int], list[tuple[int, int, int]]] = defaultdict(list)
            for i in active:
                lay = outcomes[i].layout
                stop = min(lay.count, done[i] + width_blocks) if progressive else lay.count
                groups[(lay.k, lay.n)].append((i, done[i], stop))
            for (k, n), parts in groups.items():
                got, ok = link.code.decode_batch(torch.cat([llrs[i][a:b] for i, a, b in parts]), k, n)
                pos = 0
                for i, a, b in parts:
                    bits[i][a:b] = got[pos : pos + b - a].cpu()
                    oks[i].append(ok[pos : pos + b - a].cpu())
                    pos += b - a
                    done[i] = b
            still = []
            for i in active:
                o = outcomes[i]
                o.block_ok = torch.cat(oks[i])
                o.received = bits_to_bytes(bits[i].reshape(-1))
                if done[i] < o.layout.count and not (progressive and o.block_errors):
                    still.append(i)
            active = still
            if abort is not None and abort(outcomes):
                return None
            width_blocks *= 2
        return outcomes

    def _curve(self, mcs: MCS, layout: BlockLayout | None):
        from semcom.fec.abstraction.curves import find_curve

        if layout is None:
            raise SemcomError(f"pipeline {self.name}: no code block fits the budget, so no BLER table applies")
        return find_curve(self.code_family, self.ldpc_iterations, layout.k, layout.n, mcs.qam)

    def _send_abstraction(self, arrays: np.ndarray, snrs: Sequence[float], channel: Channel, rng: Rng, mcs: MCS,
                          abort: Callable[[list[Outcome]], bool] | None = None) -> list[Outcome] | None:
        """Fast mode of :meth:`_send`: block errors sampled from the BLER table, nothing decoded.

        Per image: the source encoding and block layout as in exact mode; the channel is run on
        the image's symbol count (unit-energy placeholder symbols: the fading and noise draws
        come from the image's generator in the same order as in exact mode, so the fading of a
        block is the one exact decoding would see); each block's effective SNR is its
        post-equaliser Es/N0, 1/n0_eff (E|x|^2 = 1), which must be constant over the block; then
        one uniform draw per block from the image's generator, the block failing when it is
        below BLER(effective SNR). Received bits are the sent ones (a failed image shows the
        fallback; undetected errors, about 2^-24 per block, are not modelled).
        """
        from semcom.fec.abstraction.curves import block_snr_db

        link = self._link(mcs)
        m = mcs.bits_per_symbol
        outcomes = [Outcome(mcs, None, None) for _ in range(arrays.shape[0])]
        for i, enc, layout in self._fitted(arrays, link, mcs):
            curve = self._curve(mcs, layout)[0]
            gens = _row_rng(rng, i)
            x = torch.ones(1, layout.coded_bits // m, dtype=torch.complex64, device=self.device)
            out = channel(x, torch.as_tensor(float(snrs[i]), device=self.device), gens)
            if not torch.equal(out.h_est, out.h.expand_as(out.h_est)) or bool((out.csi_var != 0).any()):
                raise SemcomError(f"pipeline {self.name}: decoder=abstraction needs perfect CSI (channel.csi=perfect), "
                                  f"{channel.label} has an estimated channel: use pipeline.decoder=exact")
            _, n0_eff = out.llr_inputs()
            snr_b = block_snr_db(1.0 / n0_eff[0].expand(x.shape[1]), layout.n // m, layout.count, channel.label)
            bler = torch.as_tensor(curve.bler(snr_b.cpu().numpy()), dtype=torch.float64)
            g = gens[0] if isinstance(gens, list) else gens
            u = torch.rand(layout.count, generator=g, device=g.device, dtype=torch.float64).cpu()
            o = outcomes[i]
            o.enc, o.layout, o.block_ok = enc, layout, u >= bler
            o.received = enc.data + bytes(-(-layout.payload_capacity // 8) - len(enc.data))
        if abort is not None and abort(outcomes):
            return None
        return outcomes

    def _reconstruct(self, o: Outcome, shape: tuple[int, int]) -> tuple[torch.Tensor, bool]:
        """What the receiver shows for one outcome (fallback policy applied), and whether it is
        the source decoder's image of a stream whose every CRC passed (i.e. not a failure)."""
        if o.enc is None:
            return fallback_image(self.fallback, (3, *shape)), False
        sent = o.enc.data
        if o.ok and o.received[: len(sent)] == sent and not any(o.received[len(sent) :]):
            return from_uint8(self.codec.decode(o.received, shape)), True  # fast path: exactly what was sent
        if o.ok or self.fallback == "corrupt":
            # undetected errors (every CRC passed, bits differ) or the corrupt policy: untrusted bytes
            try:
                return from_uint8(self.codec.decode_untrusted(o.received, shape)), o.ok
            except DecodeError:
                pass
        return fallback_image(self.fallback, (3, *shape)), False

    # ------------------------------------------------------------------ transmit
    def transmit(self, images: torch.Tensor, snr_db, channel: Channel, rng: Rng) -> Transmission:
        n_img, _, height, width = images.shape
        snrs = [float(s) for s in torch.as_tensor(snr_db, dtype=torch.float32).reshape(-1).expand(n_img)]
        arrays = to_uint8(images)
        if self.mcs == "best":
            outcomes, decoded = self._best_outcomes(images, arrays, snrs, channel, rng)
        else:
            outcomes, decoded = self._send(arrays, snrs, channel, rng, self.mcs), [1] * n_img

        recs, sent_bits, uses, failed = [], [], [], []
        extras = defaultdict(list)
        for i, o in enumerate(outcomes):
            rec, shown = self._reconstruct(o, (height, width))
            recs.append(rec)
            sent_bits.append(o.enc.bits if o.enc is not None else 0)
            uses.append(o.layout.coded_bits // o.mcs.bits_per_symbol if o.layout is not None else 0)
            failed.append(not shown)
            extras["quality"].append(o.enc.quality if o.enc is not None else None)
            extras["codewords"].append(o.layout.count if o.layout is not None else 0)
            extras["block_errors"].append(o.block_errors)
            extras["code"].append(self.code_family)
            extras["code_rate"].append(o.mcs.rate)
            extras["qam"].append(o.mcs.qam)
            extras["ebn0_db"].append(ebn0_db(snrs[i], o.mcs.bits_per_symbol, o.mcs.rate))
            extras["mcs_policy"].append("best" if self.mcs == "best" else "fixed")
            extras["mcs_decoded"].append(decoded[i])
            extras["codec"].append(self.codec.implementation)
            extras["decoder"].append(self.decoder)
        return Transmission.from_lists(recs, sent_bits, uses, failed, extras)

    # ------------------------------------------------------------------ best-MCS envelope
    def prepare(self, images: Sequence[torch.Tensor], snr_points: Sequence[float], channel: Channel,
                rng_for: Callable[[int, float], torch.Generator]) -> None:
        """Choose the MCS of every SNR point on the mean over all ``images`` (``mcs=best`` only).

        ``images``: the job's images, each (3, H, W) float32 in [0, 1]; ``rng_for(i, snr)`` a
        fresh generator of image i at that SNR, the same one the runner passes to
        :meth:`transmit`. The winners' outcomes are kept, so :meth:`transmit` decodes nothing.
        """
        if self.mcs != "best":
            return
        arrays = [to_uint8(img[None])[0] for img in images]
        for snr in snr_points:
            gens = [rng_for(i, float(snr)) for i in range(len(arrays))]
            states = [_state_digest(g) for g in gens]
            chosen, outcomes, decoded = self._select(arrays, float(snr), channel, gens)
            self._chosen[(channel.name, round(float(snr), 6))] = (chosen, decoded)
            for arr, st, o in zip(arrays, states, outcomes):
                self._outcomes[(image_digest(arr), round(float(snr), 6), channel.name, st)] = o

    def _best_outcomes(self, images, arrays, snrs, channel, rng) -> tuple[list[Outcome], list[int]]:
        n_img = len(arrays)
        per_image = not isinstance(rng, torch.Generator)
        if per_image:
            keys = [(image_digest(arrays[i]), round(snrs[i], 6), channel.name, _state_digest(rng[i])) for i in range(n_img)]
            if all(k in self._outcomes for k in keys):
                outcomes = [self._outcomes.pop(k) for k in keys]
                decoded = [self._chosen.get((channel.name, round(snrs[i], 6)), (None, 1))[1] for i in range(n_img)]
                return outcomes, decoded
        # not prepared: choose on this call's images, SNR by SNR
        outcomes: list[Outcome | None] = [None] * n_img
        decoded = [0] * n_img
        for snr in sorted(set(snrs)):
            idx = [i for i in range(n_img) if snrs[i] == snr]
            gens = [rng[i] for i in idx] if per_image else [rng] * len(idx)
            _, outs, n_dec = self._select([arrays[i] for i in idx], snr, channel, gens, shared_rng=not per_image)
            for j, i in enumerate(idx):
                outcomes[i], decoded[i] = outs[j], n_dec
        return outcomes, decoded

    def _quality(self, ref: np.ndarray, rec: torch.Tensor) -> float:
        from semcom.metrics import get_metric

        metric = get_metric(self.mcs_metric)
        ref_t = from_uint8(ref)[None]
        rec_t = ((rec.clamp(0, 1) * 255.0).round() / 255.0)[None]
        value = float(metric(ref_t, rec_t)[0])
        return value if metric.higher_is_better else -value

    def _error_free_quality(self, arr: np.ndarray, digest: str, enc: Encoded | None) -> float:
        key = (digest, None if enc is None else enc.quality)
        if key not in self._quality_cache:
            if enc is None:
                rec = fallback_image(self.fallback, (3, *arr.shape[:2]))
            else:
                rec = from_uint8(self.codec.decode(enc.data, arr.shape[:2]))
            self._quality_cache[key] = self._quality(arr, rec)
        return self._quality_cache[key]

    def _outcome_quality(self, arr: np.ndarray, digest: str, o: Outcome, fallback_quality: float) -> float:
        """The selection metric of what the receiver shows for ``o`` (as :meth:`_reconstruct`), without
        decoding again what was decoded before: a stream received exactly as sent is scored once per
        (image, received bytes), a lost one scores as the fallback image."""
        sent = o.enc.data if o.enc is not None else None
        if sent is not None and o.ok and o.received[: len(sent)] == sent and not any(o.received[len(sent):]):
            key = (digest, o.received)
            if key not in self._quality_cache:
                self._quality_cache[key] = self._quality(arr, self._reconstruct(o, arr.shape[:2])[0])
            return self._quality_cache[key]
        if (sent is None or not o.ok) and self.fallback != "corrupt":
            return fallback_quality
        return self._quality(arr, self._reconstruct(o, arr.shape[:2])[0])

    def _select(self, arrays: list[np.ndarray], snr: float, channel: Channel, gens: list, shared_rng: bool = False):
        """(chosen MCS, its outcomes per image, number of schemes decoded) at one SNR.

        See the module docstring: schemes in decreasing order of their upper bound; a scheme is
        abandoned as soon as its bound, tightened by every image found lost, cannot beat the best
        mean so far; the search ends when the next scheme's bound cannot.
        """
        n_img = len(arrays)
        digests = [image_digest(a) for a in arrays]
        fb = [self._error_free_quality(a, d, None) for a, d in zip(arrays, digests)]
        bounds = []
        for mcs in self.table:
            link = self._link(mcs)
            terms = []
            for a, d, f in zip(arrays, digests, fb):
                lay = link.code.layout(channel_uses(self.ratio, *a.shape[:2]) * mcs.bits_per_symbol)
                enc = fit_to_budget(self.codec, a, lay.payload_capacity, self.encodings) if lay is not None and lay.count else None
                terms.append(max(f, self._error_free_quality(a, d, enc)))
            bounds.append((float(np.mean(terms)), mcs.spectral_efficiency, mcs, terms))
        bounds.sort(key=lambda b: (-b[0], -b[1]))
        prune = self.fallback != "corrupt"  # a corrupted decode has no upper bound
        best: tuple[float, MCS, list[Outcome]] | None = None
        decoded = 0
        tried = []
        for ub, _, mcs, terms in bounds:
            if prune and best is not None and ub <= best[0]:
                break
            terms = list(terms)
            threshold = best[0] if best is not None else None

            def abort(idx, outs, terms=terms, threshold=threshold):
                for j, i in enumerate(idx):
                    if outs[j].enc is None or outs[j].block_errors:
                        terms[i] = fb[i]
                return prune and threshold is not None and float(np.mean(terms)) <= threshold

            outs = self._send_mixed(arrays, snr, channel, gens, mcs, shared_rng, progressive=prune, abort=abort)
            decoded += 1
            if outs is None:
                tried.append(f"{mcs.label}: abandoned (bound {ub:.3f})")
                continue
            quals = [self._outcome_quality(a, d, o, f) for a, d, o, f in zip(arrays, digests, outs, fb)]
            mean = float(np.mean(quals)) if quals else float("-inf")
            tried.append(f"{mcs.label}: {mean:.3f} (bound {ub:.3f})")
            if best is None or mean > best[0]:
                best = (mean, mcs, outs)
        abandoned = sum(t.endswith(")") and ": abandoned" in t for t in tried)
        every_lost = best is not None and all(o.enc is None or not o.ok for o in best[2])
        log.info("%s: SNR %g dB, %d transmissions (images x realizations): tried %d of %d schemes (%d abandoned once they "
                 "could not win) [%s] -> %s", self.name, snr, n_img, decoded, len(self.table), abandoned, "; ".join(tried),
                 ("none decodes: every image lost" if every_lost else best[1].label) if best else None)
        return best[1], best[2], decoded

    def _send_mixed(self, arrays, snr, channel, gens, mcs, shared_rng, progressive=False, abort=None):
        """:meth:`_send` over images of possibly different sizes, each with a copy of its generator.

        ``abort(indices, outcomes)`` sees the outcomes of the images at ``indices``; None if aborted.
        """
        outs: list[Outcome | None] = [None] * len(arrays)
        if shared_rng:
            g = _clone(gens[0])
            groups = [[i] for i in range(len(arrays))]
        else:
            by_shape = defaultdict(list)
            for i, a in enumerate(arrays):
                by_shape[a.shape].append(i)
            groups = list(by_shape.values())
        for idx in groups:
            batch = np.stack([arrays[i] for i in idx])
            rng = g if shared_rng else [_clone(gens[i]) for i in idx]
            stop = None if abort is None else (lambda o, idx=idx: abort(idx, o))
            res = self._send(batch, [snr] * len(idx), channel, rng, mcs, progressive=progressive, abort=stop)
            if res is None:
                return None
            for j, i in enumerate(idx):
                outs[i] = res[j]
        return outs
