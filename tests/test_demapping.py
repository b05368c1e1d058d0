"""The numba APP demapper against Sionna's Demapper("app") on the same received symbols."""

from __future__ import annotations

import pytest
import torch
from sionna.phy.mapping import Demapper, Mapper

from semcom.fec.demapping import APPDemapper


@pytest.mark.parametrize("kind, m", [("pam", 1), ("qam", 2), ("qam", 4), ("qam", 6), ("qam", 8)])
@pytest.mark.parametrize("no_scale", [0.3, 1e-7])
def test_llrs_equal_sionna_per_symbol_and_scalar_noise(kind, m, no_scale):
    """Same logits to float32 rounding, at low SNR and where one label value's points all underflow
    (N0 = 1e-7: far points at |d|^2 / N0 > 745); per-symbol and one N0 for all; output shape (..., L m)."""
    g = torch.Generator().manual_seed(m)
    x = Mapper(kind, m)(torch.randint(0, 2, (2, 3, 64 * m), generator=g).float())
    no = (torch.rand(x.shape, generator=g) + 0.05) * no_scale
    noise = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g))
    y = x + torch.sqrt(no / 2) * noise
    for n0 in (no, torch.tensor(no_scale)):
        ref = Demapper("app", kind, m)(y, n0)
        got = APPDemapper(kind, m)(y, n0)
        assert got.shape == ref.shape == (2, 3, 64 * m) and got.dtype == torch.float32
        assert torch.isfinite(got).all()
        rel = (got - ref).abs() / ref.abs().clamp_min(1.0)
        assert float(rel.max()) < 1e-4, (kind, m, no_scale, float(rel.max()))
