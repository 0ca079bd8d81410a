"""Fused q/k RMSNorm + RoPE kernel vs its fp32 reference (error-ratio rule against the plain two-step path),
ragged lengths and head sizes, strided rows, bad inputs."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.models.wan.rope import apply_rope
from turbodiffusion.ops.rms_norm import rms_norm_reference
from turbodiffusion.ops.rms_norm_rope import rms_norm_rope, rms_norm_rope_reference
from turbodiffusion.testing.compare import assert_matches

# (B, L, heads, head_dim): ragged L, odd pair counts per head (head_dim 6), Wan's 1.3B and 14B widths.
CASES = [(2, 1, 3, 32), (2, 17, 3, 64), (2, 7, 2, 6), (1, 33, 12, 128), (1, 5, 40, 128)]


def _angles(L: int, head_dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    angles = torch.rand(L, head_dim // 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    angles = angles * 60.0  # positions times frequencies reach tens of radians
    return angles.cos(), angles.sin()


def _plain(x, w, cos, sin, heads):
    """The model's unfused path: RMSNorm rounded to x's dtype, then RoPE rounded again."""
    return apply_rope(rms_norm_reference(x, w).unflatten(-1, (heads, -1)), cos, sin)


@pytest.mark.parametrize("B, L, heads, head_dim", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_rope_matches_reference(B, L, heads, head_dim, dtype, device):
    g = torch.Generator().manual_seed(2000 + L + heads * head_dim)
    dim = heads * head_dim
    x = (torch.randn(B, L, dim, generator=g) * 3 + 0.5).to(device, dtype)
    w = (1 + 0.1 * torch.randn(dim, generator=g)).to(device)
    cos, sin = _angles(L, head_dim, L + dim)
    before = x.clone()
    out = rms_norm_rope(x, w, cos.to(device), sin.to(device), heads, impl="triton")
    assert torch.equal(x, before), "input was modified"
    assert out.shape == (B, L, heads, head_dim) and out.dtype == dtype
    truth = rms_norm_rope_reference(x.float().cpu(), w.cpu(), cos, sin, heads)
    assert_matches(out, truth, eager=_plain(x.cpu(), w.cpu(), cos, sin, heads), dtype=dtype)


def test_reference_is_rms_norm_then_rope_in_fp32():
    g = torch.Generator().manual_seed(5)
    x, w = torch.randn(2, 9, 4 * 16, generator=g), torch.randn(64, generator=g)
    cos, sin = _angles(9, 16, 3)
    torch.testing.assert_close(
        rms_norm_rope_reference(x, w, cos, sin, 4), _plain(x, w, cos, sin, 4), rtol=1e-6, atol=1e-6
    )


def test_rms_norm_rope_strided_rows(device):
    g = torch.Generator().manual_seed(8)
    base = torch.randn(2, 30, 200, generator=g).to(device, torch.bfloat16)
    x = base[:, ::2, 8:136]  # rows strided, dim 128 = 2 heads of 64
    w = torch.randn(128, generator=g).to(device)
    cos, sin = _angles(15, 64, 9)
    out = rms_norm_rope(x, w, cos.to(device), sin.to(device), 2, impl="triton")
    truth = rms_norm_rope_reference(x.float().cpu(), w.cpu(), cos, sin, 2)
    assert_matches(out, truth, eager=_plain(x.cpu(), w.cpu(), cos, sin, 2), dtype=torch.bfloat16)


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_rms_norm_rope_invalid_inputs_raise(impl, device):
    x = torch.randn(2, 5, 64, device=device)
    w = torch.ones(64, device=device)
    cos, sin = (t.to(device) for t in _angles(5, 32, 1))
    with pytest.raises(ValueError, match=r"cos must be \[L, D/2\] = \[5, 16\]"):
        rms_norm_rope(x, w, cos[:4], sin, 2, impl=impl)
    with pytest.raises(ValueError, match="heads of even size"):
        rms_norm_rope(x, w, cos, sin, 3, impl=impl)
    with pytest.raises(ValueError, match=r"x must be \[B, L, dim\]"):
        rms_norm_rope(x[0], w, cos, sin, 2, impl=impl)
    with pytest.raises(ValueError, match=r"weight must be \[dim\]"):
        rms_norm_rope(x, w[:32], cos, sin, 2, impl=impl)
