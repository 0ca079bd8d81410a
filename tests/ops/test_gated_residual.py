"""Gated residual add kernel vs its fp32 reference; in-place update; ragged dims; gate shapes."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.ops.gated_residual import gated_residual, gated_residual_reference
from turbodiffusion.testing.compare import assert_matches

from .test_rms_norm import CASES


def _inputs(L, dim, gate_len, dtype, device, seed, B=2):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, L, dim, generator=g).to(device, dtype)
    y = torch.randn(B, L, dim, generator=g).to(device, dtype)
    gate = torch.randn(B, gate_len, dim, generator=g).to(device)  # fp32, as Wan's modulation
    return x, y, gate


def _eager(x, y, gate):
    """TurboDiffusion's eager form: the gate cast to the stream dtype, product and sum rounded there."""
    return x + y * gate.to(x.dtype)


@pytest.mark.parametrize("B, L, dim", [*CASES, (2, 17, 300)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("per_token", [False, True])
def test_gated_residual_matches_reference(B, L, dim, dtype, per_token, device):
    x, y, gate = _inputs(L, dim, L if per_token else 1, dtype, device, seed=L * dim, B=B)
    bx, by = x.clone(), y.clone()
    out = gated_residual(x, y, gate, impl="triton")
    assert torch.equal(x, bx) and torch.equal(y, by)
    truth = gated_residual_reference(x.float().cpu(), y.float().cpu(), gate.cpu())
    assert_matches(out, truth, eager=_eager(x.cpu(), y.cpu(), gate.cpu()), dtype=dtype)


def test_in_place_update(device):
    x, y, gate = _inputs(45, 256, 1, torch.bfloat16, device, seed=1)
    truth = gated_residual_reference(x.float().cpu(), y.float().cpu(), gate.cpu())
    eager = _eager(x.cpu(), y.cpu(), gate.cpu())
    ptr = x.data_ptr()
    out = gated_residual(x, y, gate, out=x, impl="triton")
    assert out.data_ptr() == ptr
    assert_matches(x, truth, eager=eager, dtype=torch.bfloat16)


def test_sentinel_output(device):
    x, y, gate = _inputs(17, 260, 1, torch.bfloat16, device, seed=2)
    buf = torch.full((2, 17, 270), float("nan"), dtype=torch.bfloat16, device=device)
    gated_residual(x, y, gate, out=buf[..., :260], impl="triton")
    assert torch.isnan(buf[..., 260:]).all(), "a store went past the end of a row"


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_gated_residual_invalid_inputs_raise(impl, device):
    x, y, gate = _inputs(5, 64, 1, torch.float32, device, seed=0)
    with pytest.raises(ValueError, match=r"x must be \[B, L, dim\]"):
        gated_residual(x[0], y[0], gate, impl=impl)
    with pytest.raises(ValueError, match="y must have x's shape"):
        gated_residual(x, y[:, :3], gate, impl=impl)
    with pytest.raises(ValueError, match=r"gate must be \[B, 1, dim\] or \[B, L, dim\]"):
        gated_residual(x, y, gate[:, :, :8], impl=impl)
    with pytest.raises(ValueError, match="one device"):
        gated_residual(x, y, gate.to("meta"), impl=impl)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        gated_residual(x.double(), y.double(), gate, impl=impl)
    with pytest.raises(ValueError, match="out must match x"):
        gated_residual(x, y, gate, out=x.bfloat16(), impl=impl)
    with pytest.raises(ValueError, match="impl must be"):
        gated_residual(x, y, gate, impl="fast")
