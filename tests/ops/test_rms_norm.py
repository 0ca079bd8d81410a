"""RMSNorm kernel vs its fp32 reference (error-ratio rule), ragged rows and dims, strided views."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.ops.rms_norm import rms_norm, rms_norm_reference
from turbodiffusion.ops.rms_norm.kernel import row_tiles
from turbodiffusion.testing.compare import assert_matches

# (B, L, dim): ragged L everywhere, Wan's 1.3B and 14B widths with fewer rows (the interpreter runs
# one program per row or two).
CASES = [(2, 1, 192), (2, 17, 192), (2, 333, 192), (2, 1, 1536), (1, 200, 1536), (1, 17, 5120)]


@pytest.mark.parametrize("B, L, dim", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_matches_reference(B, L, dim, dtype, device):
    g = torch.Generator().manual_seed(1000 + L + dim)
    x = (torch.randn(B, L, dim, generator=g) * 3 + 0.5).to(device, dtype)
    w = (1 + 0.1 * torch.randn(dim, generator=g)).to(device)  # fp32 weight, as the fused norm holds it
    before = x.clone()
    out = rms_norm(x, w, 1e-6, impl="triton")
    assert torch.equal(x, before), "input was modified"
    truth = rms_norm_reference(x.float().cpu(), w.cpu(), 1e-6)
    assert_matches(out, truth, eager=rms_norm_reference(x.cpu(), w.cpu(), 1e-6), dtype=dtype)


def test_rms_norm_strided_input_and_sentinel_output(device):
    g = torch.Generator().manual_seed(7)
    base = torch.randn(3, 40, 400, generator=g).to(device, torch.bfloat16)
    x = base[:, ::2, 8:208]  # rows strided, dim 200
    w = torch.randn(200, generator=g).to(device)
    buf = torch.full((3, 20, 205), float("nan"), dtype=torch.bfloat16, device=device)
    out = rms_norm(x, w, out=buf[..., :200], impl="triton")  # out rows strided: 5 sentinel columns each
    assert out.data_ptr() == buf.data_ptr()
    assert torch.isnan(buf[..., 200:]).all(), "a store went past the end of a row"
    truth = rms_norm_reference(x.float().cpu(), w.cpu())
    assert_matches(buf[..., :200], truth, eager=rms_norm_reference(x.cpu(), w.cpu()), dtype=torch.bfloat16)


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_rms_norm_invalid_inputs_raise(impl, device):
    x = torch.randn(2, 5, 64, device=device)
    w = torch.ones(64, device=device)
    with pytest.raises(ValueError, match=r"weight must be \[dim\] = \[64\]"):
        rms_norm(x, w[:32], impl=impl)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        rms_norm(x.double(), w, impl=impl)
    with pytest.raises(ValueError, match="dim > 0"):
        rms_norm(torch.randn(2, 0, device=device), torch.ones(0, device=device), impl=impl)
    with pytest.raises(ValueError, match="one device"):
        rms_norm(x, w.to("meta"), impl=impl)
    with pytest.raises(ValueError, match="out must match x"):
        rms_norm(x, w, out=torch.empty(2, 5, 64, dtype=torch.bfloat16, device=device), impl=impl)
    with pytest.raises(ValueError, match="impl must be"):
        rms_norm(x, w, impl="cuda")


def test_rms_norm_out_must_be_a_flat_view(device):
    x = torch.randn(4, 6, 128, device=device)
    out = torch.empty(6, 4, 128, device=device).transpose(0, 1)  # [4, 6, 128] whose rows cannot be flattened
    with pytest.raises(ValueError, match="cannot be flattened without a copy"):
        rms_norm(x, torch.ones(128, device=device), out=out, impl="triton")


def test_row_tiles_cover_the_row_with_equal_tiles():
    assert row_tiles(1536) == (512, 3) and row_tiles(5120) == (1024, 5)  # Wan's widths, unpadded
    for d in range(1, 9000):
        width, count = row_tiles(d)
        assert width & (width - 1) == 0 and 1 <= count <= 8  # one power-of-two width, few tiles
        assert (count - 1) * width < d <= count * width  # only the last tile reaches past the row
        if d % width == 0:
            continue
        # padded only where no power of two divides d into at most 8 tiles, and then by less than a tile
        assert all(d % (w := 1 << k) or d // w > 8 for k in range(14))
        assert count * width - d < width
    with pytest.raises(ValueError, match="at least one lane"):
        row_tiles(0)
