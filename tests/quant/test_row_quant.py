"""Row-wise FP8 quantiser and row-scaled GEMM: kernels against their references, references against the rule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from turbodiffusion.quant.row_gemm import row_scaled_mm, row_scaled_mm_reference
from turbodiffusion.quant.row_quant import dequantize_rows_reference, quantize_rows, quantize_rows_reference
from turbodiffusion.testing.compare import assert_e4m3_codes_close


def _bits(codes: torch.Tensor) -> torch.Tensor:
    return codes.view(torch.int8)  # e4m3 codes bit for bit, -0 included


def _input(rows: int, cols: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Gaussian rows, one outlier channel, one all-zero row and one row of exact halves (rounding ties)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, cols, generator=g)
    x[:, 3] *= 30.0
    if rows > 2:
        x[1] = 0.0
        x[2] = torch.randint(-64, 65, (cols,), generator=g) / 32.0
    return x.to(dtype)


def _launch(kind: str, cols: int):
    from turbodiffusion.quant.row_quant.kernel import RowQuantLaunch, row_quant_launch

    if kind == "default":
        return row_quant_launch(cols)
    if kind == "tiled":  # the row as 64-lane tiles in registers, the last one masked unless 64 divides cols
        return RowQuantLaunch(block_r=2, block_c=64, num_warps=4, tiles=-(-cols // 64))
    return RowQuantLaunch(block_r=2, block_c=64, num_warps=4)  # several column steps per row: the loop path


@pytest.mark.parametrize("rows, cols", [(1, 48), (7, 200), (33, 384)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("launch", ["default", "looped", "tiled"])
def test_kernel_matches_reference_bit_for_bit(rows, cols, dtype, launch, device):
    from turbodiffusion.quant.row_quant.kernel import quantize_rows_triton

    x = _input(rows, cols, dtype, seed=rows * cols).to(device)
    before = x.clone()
    q_ref, s_ref = quantize_rows_reference(x.cpu())
    q, s = quantize_rows_triton(x, launch=_launch(launch, cols))
    assert torch.equal(x, before), "input was modified"
    assert q.dtype == torch.float8_e4m3fn and q.shape == (rows, cols) and s.shape == (rows,)
    assert torch.equal(_bits(q.cpu()), _bits(q_ref)), "codes differ"
    assert torch.equal(s.cpu(), s_ref), "scales differ"


@pytest.mark.parametrize("launch", ["default", "looped", "tiled"])
def test_gelu_kernel_matches_reference_to_one_grid_step(launch, device):
    """Triton's tanh is not torch's: a GELU value on a rounding tie may land one e4m3 step away."""
    from turbodiffusion.quant.row_quant.kernel import quantize_rows_triton

    x = _input(29, 320, torch.bfloat16, seed=11).to(device)
    q_ref, s_ref = quantize_rows_reference(x.cpu(), gelu=True)
    q, s = quantize_rows_triton(x, gelu=True, launch=_launch(launch, 320))
    torch.testing.assert_close(s.cpu(), s_ref, rtol=1e-6, atol=0)
    assert_e4m3_codes_close(q, q_ref)


@pytest.mark.parametrize("launch", ["default", "looped", "tiled"])
def test_gelu_kernel_at_extreme_inputs(launch, device):
    """GELU's tails through the GPU's approximate exp2 and reciprocal: 2^z overflows to inf for large
    negative x (GELU -> -0), vanishes for large positive x (GELU -> x), and tiny inputs flush nothing that
    a code could show. Each row mixes one extreme with ordinary values, so its scale is set by either."""
    from turbodiffusion.quant.row_quant.kernel import quantize_rows_triton

    extremes = [-3.0e4, -500.0, -88.0, -9.0, -1e-30, 0.0, 1e-30, 9.0, 88.0, 500.0, 3.0e4]
    g = torch.Generator().manual_seed(5)
    x = torch.randn(len(extremes), 200, generator=g)
    for i, value in enumerate(extremes):
        x[i, i * 7 : i * 7 + 5] = value
    x = x.to(torch.bfloat16).to(device)
    q_ref, s_ref = quantize_rows_reference(x.cpu(), gelu=True)
    q, s = quantize_rows_triton(x, gelu=True, launch=_launch(launch, 200))
    assert torch.isfinite(s).all() and not torch.isnan(q.float()).any()
    torch.testing.assert_close(s.cpu(), s_ref, rtol=1e-6, atol=0)
    assert_e4m3_codes_close(q, q_ref)


def test_ffn_rows_default_to_equal_tiles():
    """Wan's 8,960-wide FFN rows take five 2,048-lane tiles held in registers; narrower rows one tile,
    rows wider than 16,384 lanes two passes."""
    from turbodiffusion.quant.row_quant.kernel import RowQuantLaunch, row_quant_launch

    assert row_quant_launch(8960) == RowQuantLaunch(1, 2048, 4, 5)
    assert row_quant_launch(1536).tiles == row_quant_launch(13824).tiles == 0
    assert row_quant_launch(40000) == RowQuantLaunch(1, 2048, 4)


def test_tiles_must_cover_the_row(device):
    from turbodiffusion.quant.row_quant.kernel import RowQuantLaunch, quantize_rows_triton

    x = torch.randn(2, 200, device=device)
    for tiles in (2, 5):  # 128 lanes fall short of 200; 320 pad more than the last tile
        with pytest.raises(ValueError, match="do not cover"):
            quantize_rows_triton(x, launch=RowQuantLaunch(1, 64, 4, tiles))


@pytest.mark.parametrize("gelu", [False, True])
def test_ffn_rows_match_the_reference(gelu, device):
    from turbodiffusion.quant.row_quant.kernel import quantize_rows_triton

    x = _input(5, 8960, torch.bfloat16, seed=8960 + gelu).to(device)
    q_ref, s_ref = quantize_rows_reference(x.cpu(), gelu=gelu)
    q, s = quantize_rows_triton(x, gelu=gelu)
    if gelu:
        torch.testing.assert_close(s.cpu(), s_ref, rtol=1e-6, atol=0)
        assert_e4m3_codes_close(q, q_ref)
    else:
        assert torch.equal(_bits(q.cpu()), _bits(q_ref)) and torch.equal(s.cpu(), s_ref)


def test_reference_follows_the_rule():
    x = _input(6, 256, torch.float32, seed=3)
    codes, scale = quantize_rows_reference(x)
    amax = x.abs().amax(dim=1)
    assert scale[1] == torch.tensor(1e-8) / 448, "an all-zero row gets the 1e-8 floor"
    assert torch.equal(scale[[0, 2]], amax[[0, 2]] / 448)
    assert (codes.float().abs().amax(dim=1)[[0, 2, 3]] == 448).all(), "each row's amax maps to 448"
    deq = dequantize_rows_reference(codes, scale)
    rel = (deq - x).abs() / (x.abs() + 1e-30)
    assert rel[x.abs() > amax[:, None] / 64].max() <= 2.0**-4 * 1.0001, "e4m3 keeps 3 mantissa bits"
    # GELU: the amax is GELU of the row's largest input, at least 0.171 (bounds GELU's negative lobe).
    g_codes, g_scale = quantize_rows_reference(x, gelu=True)
    gelu = F.gelu(x, approximate="tanh")
    assert torch.equal(g_scale[[0, 2]], gelu.abs().amax(dim=1)[[0, 2]] / 448), "exact for large rows"
    assert g_scale[1] == torch.tensor(0.171) / 448, "a zero row takes the negative-lobe bound"
    assert torch.equal(_bits(g_codes)[[0, 2]], _bits(quantize_rows_reference(gelu[[0, 2]])[0]))


def test_gelu_bound_never_clips():
    """Rows whose GELU values all sit in the negative lobe (or near zero) are quantised without clipping."""
    x = torch.stack([torch.linspace(-8, 0, 256), torch.linspace(-1, 0.3, 256), torch.full((256,), -0.7525)])
    codes, scale = quantize_rows_reference(x, gelu=True)
    gelu = F.gelu(x, approximate="tanh")
    assert (scale >= gelu.abs().amax(dim=1) / 448).all()
    assert (gelu.abs() / scale[:, None] <= 448).all(), "no value is clipped before rounding"
    err = (dequantize_rows_reference(codes, scale) - gelu).abs()
    assert (err <= scale[:, None] * 16.001).all(), "within half of e4m3's top step (32 code units)"


def test_dispatch_and_invalid_inputs():
    x = _input(4, 64, torch.bfloat16, seed=1)
    assert torch.equal(_bits(quantize_rows(x)[0]), _bits(quantize_rows_reference(x)[0]))  # CPU: reference
    with pytest.raises(ValueError, match="impl must be"):
        quantize_rows(x, impl="cuda")
    with pytest.raises(ValueError, match="2-D"):
        quantize_rows(x[None])
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        quantize_rows(x.to(torch.float64))
    with pytest.raises(ValueError, match="contiguous last dim"):
        quantize_rows(x.T)
    with pytest.raises(ValueError, match="leading shape"):
        dequantize_rows_reference(quantize_rows(x)[0], torch.ones(3))


def _gemm_operands(m: int, n: int, k: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    a, a_s = quantize_rows_reference(torch.randn(m, k, generator=g))
    b, b_s = quantize_rows_reference(torch.randn(n, k, generator=g) * k**-0.5)
    return a, a_s, b, b_s, torch.randn(n, generator=g)


def test_gemm_reference_is_the_dequantised_product():
    a, a_s, b, b_s, bias = _gemm_operands(37, 48, 96, seed=5)
    expect = dequantize_rows_reference(a, a_s) @ dequantize_rows_reference(b, b_s).T + bias
    out = row_scaled_mm_reference(a, a_s, b, b_s, bias, out_dtype=torch.float32)
    torch.testing.assert_close(out, expect, rtol=1e-5, atol=1e-5)
    assert row_scaled_mm(a, a_s, b, b_s, None).dtype == torch.bfloat16  # CPU dispatches to the reference
    with pytest.raises(ValueError, match="float8_e4m3fn codes"):
        row_scaled_mm(a.float(), a_s, b, b_s)
    with pytest.raises(ValueError, match=r"a_scale must be fp32 \[37\]"):
        row_scaled_mm(a, a_s[:5], b, b_s)
    with pytest.raises(ValueError, match="agree on K"):
        row_scaled_mm(a, a_s, b[:, :64], b_s)
    with pytest.raises(ValueError, match="impl must be"):
        row_scaled_mm(a, a_s, b, b_s, impl="triton")


@pytest.mark.gpu
@pytest.mark.parametrize("fast_accum", [False, True])
@pytest.mark.parametrize("m, n, k", [(1, 16, 32), (333, 272, 1536), (1024, 1536, 8960)])
def test_torch_scaled_mm_matches_reference(m, n, k, fast_accum):
    a, a_s, b, b_s, bias = (t.cuda() for t in _gemm_operands(m, n, k, seed=m + n))
    ref = row_scaled_mm_reference(a, a_s, b, b_s, bias.bfloat16(), out_dtype=torch.float32)
    out = row_scaled_mm(a, a_s, b, b_s, bias.bfloat16(), fast_accum=fast_accum, impl="torch")
    assert out.dtype == torch.bfloat16
    # bf16 output rounding (2^-9 relative); fast accumulation adds its own error over long K.
    tol = 2e-2 if fast_accum else 8e-3
    torch.testing.assert_close(out.float(), ref, rtol=tol, atol=tol * ref.abs().max().item())
