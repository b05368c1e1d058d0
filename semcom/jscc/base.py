"""What every learned JSCC model shares: padding, real-to-complex mapping, power, the channel.

A model is an analysis transform (image -> real latent of ``C`` channels at 1/``stride`` of the
image size) and a synthesis transform (latent -> image), both optionally conditioned on the SNR
(and the bandwidth ratio). :class:`JSCCModel` turns that into the semcom convention::

    images (N, 3, H, W) float32 in [0, 1]
      -> reflect-pad H, W up to multiples of ``size_multiple``
      -> analysis -> latent (N, C, H'/s, W'/s); keep the first c(rho) channels
      -> flatten per image, pair consecutive reals (a, b) into a + jb  -> (N, L) complex64
      -> normalize_power: each image's L symbols at mean |x|^2 = 1 (conventions.py)
      -> channel (semcom.channels: AWGN, RayleighBlock, ...) -> zero-forcing equalisation
      -> decoder gets y/h and, when it is SNR-adaptive, the effective SNR of each image
      -> synthesis -> crop back to H x W -> clamp to [0, 1]

**Bandwidth ratio.** With ``c`` real latent channels at stride ``s``, an image of size
H' x W' (after padding) costs ``L = ceil(c H' W' / (2 s^2))`` complex channel uses, so
``rho = c / (6 s^2)``: c = 96 rho for the stride-4 CNNs, c = 384 rho for the stride-8 Swin model.
For H, W multiples of ``size_multiple`` (Kodak: 768 x 512; training crops) ``L`` equals
``floor(rho 3HW)`` exactly. Other sizes are reflect-padded, so ``L`` is that of the padded size
(``L > rho 3HW``); pipelines report the channel uses actually spent (``channel_uses``,
``ratio_used`` in result rows).

**SNR side information.** The encoder of an SNR-adaptive model gets the nominal SNR (dB) of the
link (the transmitter knows the average SNR, not the fade). The decoder gets the effective SNR of
each image after zero-forcing, ``mean over its symbols of 10 log10(|h|^2 / N0)`` (perfect receiver
CSI, as the digital chains assume); over AWGN that is the nominal SNR. Networks see SNRs as
``snr_db / 10``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from semcom.channels.base import Channel, ChannelOutput
from semcom.conventions import normalize_power
from semcom.errors import SemcomError
from semcom.randomness import Rng

#: Effective SNRs given to decoders are clamped to this range, dB (deep fades give -inf).
SIDE_SNR_RANGE_DB = (-20.0, 50.0)

#: Memory layout of the convolutional stacks' inputs: channels-last lets oneDNN run DeepJSCC's
#: encoder and decoder in 0.22 instead of 0.36 s per 512 x 768 image on one thread of this CPU
#: (values equal within float rounding, about 1e-5); outputs are returned contiguous as before.
CONV_LAYOUT = torch.channels_last


def latent_channels(ratio: float, stride: int) -> int:
    """Real latent channels that realise bandwidth ratio ``ratio`` at ``stride``: c = 6 s^2 rho.

    Raises SemcomError when that is not a whole number (the ratio cannot be realised exactly).
    """
    c = 6 * stride * stride * float(ratio)
    if c < 1 or abs(c - round(c)) > 1e-6:
        raise SemcomError(
            f"ratio={ratio:g} cannot be realised by a stride-{stride} JSCC model: it needs 6*{stride}^2*ratio = {c:g} "
            f"latent channels, a positive whole number; choose a multiple of 1/{6 * stride * stride}, e.g. ratio=1/16"
        )
    return int(round(c))


def pad_to_multiple(images: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (N, C, H, W) at the bottom and right to multiples of ``multiple``.

    Returns the padded batch and the original (H, W). Reflection needs the pad to be smaller
    than the side; smaller images are padded by replication instead.
    """
    h, w = images.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return images, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(images, (0, pw, 0, ph), mode=mode), (h, w)


def real_to_complex(z: torch.Tensor) -> torch.Tensor:
    """(N, ...) real -> (N, L) complex64, pairing consecutive values; an odd count gets a zero."""
    flat = z.float().reshape(z.shape[0], -1)
    if flat.shape[1] % 2:
        flat = F.pad(flat, (0, 1))
    return torch.view_as_complex(flat.reshape(flat.shape[0], -1, 2).contiguous())


def complex_to_real(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`real_to_complex`: (N, L) complex -> (N, *shape) float32."""
    flat = torch.view_as_real(x.contiguous()).reshape(x.shape[0], -1)
    return flat[:, : math.prod(shape)].reshape(x.shape[0], *shape)


def side_snr_db(out: ChannelOutput) -> torch.Tensor:
    """Effective SNR per image after zero-forcing, dB, (N,): mean of 10 log10(|h_est|^2 / (N0 + sigma_e^2)).

    What the receiver knows: its channel estimate ``h_est`` and the CSI error variance
    (``h_est = h`` and ``sigma_e^2 = 0`` under perfect CSI).
    """
    g = out.h_est.abs().square().clamp_min(1e-12)
    snr = 10.0 * torch.log10(g / (out.n0 + out.csi_var)).mean(dim=1)
    return snr.clamp(*SIDE_SNR_RANGE_DB)


def as_snr_tensor(snr_db, n: int, device) -> torch.Tensor:
    """SNR in dB as a float32 tensor (N,) on ``device`` from a float or an (N,) / (1,) tensor."""
    return torch.as_tensor(snr_db, dtype=torch.float32, device=device).reshape(-1).expand(n).contiguous()


class JSCCModel(nn.Module):
    """Base class of the learned JSCC models.

    Subclasses set ``stride`` and ``size_multiple`` and implement
    :meth:`analysis` ((N, 3, H, W), snr_db (N,), ratio -> (N, C_max, H/s, W/s)) and
    :meth:`synthesis` ((N, C_max, H/s, W/s), snr_db (N,), ratio -> (N, 3, H, W) in [0, 1]).
    ``ratios`` lists the bandwidth ratios the model serves (one for fixed-rate models); a
    ratio keeps the first :meth:`channels_for` latent channels, and the decoder sees zeros
    in the channels that were not sent.

    ``config`` holds the constructor arguments (stored in checkpoints).
    """

    name: str = "jscc"
    stride: int = 4
    size_multiple: int = 4
    snr_adaptive: bool = False

    def __init__(self, ratios: list[float]):
        super().__init__()
        if not ratios:
            raise SemcomError("a JSCC model needs at least one bandwidth ratio")
        self.ratios = sorted(float(r) for r in ratios)
        self.c_max = latent_channels(self.ratios[-1], self.stride)
        for r in self.ratios:
            latent_channels(r, self.stride)
        self.config: dict = {}

    # -- to implement --------------------------------------------------------------------------
    def analysis(self, images: torch.Tensor, snr_db: torch.Tensor, ratio: float) -> torch.Tensor:
        raise NotImplementedError

    def synthesis(self, latent: torch.Tensor, snr_db: torch.Tensor, ratio: float) -> torch.Tensor:
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------------
    def channels_for(self, ratio: float) -> int:
        """Latent channels sent at ``ratio`` (SemcomError if the model does not serve it)."""
        self.check_ratio(ratio)
        return latent_channels(ratio, self.stride)

    def check_ratio(self, ratio: float) -> None:
        if not any(abs(float(ratio) - r) < 1e-9 for r in self.ratios):
            served = ", ".join(_fraction(r) for r in self.ratios)
            raise SemcomError(
                f"this {self.name} model was trained for ratio {served}, not {_fraction(ratio)}: "
                f"use ratio={_fraction(self.ratios[0])} or a checkpoint trained for {_fraction(ratio)}"
            )

    def default_ratio(self, ratio: float | None) -> float:
        return self.ratios[-1] if ratio is None else float(ratio)

    def channel_uses(self, height: int, width: int, ratio: float | None = None) -> int:
        """Complex channel uses one H x W image costs (after padding to ``size_multiple``)."""
        ratio = self.default_ratio(ratio)
        m = self.size_multiple
        hp, wp = -(-height // m) * m, -(-width // m) * m
        reals = self.channels_for(ratio) * (hp // self.stride) * (wp // self.stride)
        return -(-reals // 2)

    def encode(self, images: torch.Tensor, snr_db=10.0, ratio: float | None = None) -> tuple[torch.Tensor, dict]:
        """Images (N, 3, H, W) in [0, 1] -> (symbols (N, L) complex64 at unit power, layout).

        ``layout`` (image size, padded size, latent shape, ratio) is what :meth:`decode` needs.
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise SemcomError(f"JSCC models take RGB batches (N, 3, H, W), got shape {tuple(images.shape)}")
        ratio = self.default_ratio(ratio)
        c = self.channels_for(ratio)
        n = images.shape[0]
        snr = as_snr_tensor(snr_db, n, images.device)
        padded, size = pad_to_multiple(images, self.size_multiple)
        latent = self.analysis(padded.contiguous(memory_format=CONV_LAYOUT), snr, ratio)[:, :c].contiguous()
        x = normalize_power(real_to_complex(latent))
        layout = {"size": size, "padded": tuple(padded.shape[-2:]), "latent": tuple(latent.shape[1:]), "ratio": ratio}
        return x, layout

    def decode(self, symbols: torch.Tensor, layout: dict, snr_db=10.0) -> torch.Tensor:
        """Equalised symbols (N, L) complex -> images (N, 3, H, W) float32 in [0, 1]."""
        n = symbols.shape[0]
        c, hl, wl = layout["latent"]
        latent = complex_to_real(symbols, (c, hl, wl))
        if c < self.c_max:
            latent = F.pad(latent, (0, 0, 0, 0, 0, self.c_max - c))
        snr = as_snr_tensor(snr_db, n, symbols.device)
        rec = self.synthesis(latent.contiguous(memory_format=CONV_LAYOUT), snr, layout["ratio"]).float().contiguous()
        h, w = layout["size"]
        return rec[..., :h, :w].clamp(0.0, 1.0)

    def forward(self, images: torch.Tensor, channel: Channel, snr_db, rng: Rng, ratio: float | None = None) -> tuple[torch.Tensor, ChannelOutput]:
        """Encoder -> channel -> ZF -> decoder. Returns (reconstructions, channel output).

        ``snr_db`` is a float or an (N,) tensor (dB); ``rng`` one generator or one per image.
        Differentiable end to end (the channel adds noise to the encoder's symbols).
        """
        x, layout = self.encode(images, snr_db, ratio)
        out = channel(x, as_snr_tensor(snr_db, x.shape[0], x.device), rng)
        x_hat, _ = out.equalize("zf")
        rec = self.decode(x_hat, layout, side_snr_db(out))
        return rec, out

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _fraction(r: float) -> str:
    from fractions import Fraction

    f = Fraction(float(r)).limit_denominator(1000)
    return f"{f.numerator}/{f.denominator}" if abs(float(f) - float(r)) < 1e-9 and f.denominator != 1 else f"{float(r):g}"


def snr_feature(snr_db: torch.Tensor) -> torch.Tensor:
    """SNR as a network input: (N,) dB -> (N, 1) float, scaled by 1/10."""
    return (snr_db.float() / 10.0).reshape(-1, 1)
