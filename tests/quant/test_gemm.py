"""Block-scaled W8A8 GEMM: the Triton kernel against its reference, and the rule against full precision."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.quant.act_quant import quantize_blockwise_reference
from turbodiffusion.quant.gemm import scaled_mm, scaled_mm_reference
from turbodiffusion.quant.gemm.kernel import scaled_mm_triton
from turbodiffusion.testing import tolerances
from turbodiffusion.testing.compare import assert_matches, max_rel, rel_l2

SHAPES = [(1, 200, 128), (17, 128, 384), (333, 72, 256), (200, 333, 128)]  # (M, N, K): ragged M and N


def _mantissa_bits(dtype: torch.dtype) -> int:
    return {torch.bfloat16: 7, torch.float16: 10, torch.float32: 23}[dtype]


def assert_within_ulps(out, ref, pre_bias, dtype):
    """|out - ref| <= SCALED_MM_OUTPUT_ULPS x (ulp at the pre-bias value + ulp at the output)."""
    bits = _mantissa_bits(dtype)

    def spacing(v):
        return torch.exp2(torch.floor(torch.log2(v.double().abs().clamp_min(torch.finfo(dtype).tiny))) - bits)

    o, r = out.double().cpu(), ref.double().cpu()
    bound = tolerances.SCALED_MM_OUTPUT_ULPS * spacing(pre_bias.cpu().double().abs().maximum(o.abs()))
    if pre_bias is not ref:
        bound = bound + tolerances.SCALED_MM_OUTPUT_ULPS * spacing(o.abs().maximum(r.abs()))
    err = (o - r).abs()
    worst = (err / bound).max().item()
    assert worst <= 1.0, f"{worst:.2f} x the allowed ulps"


def _operands(m, n, k, fmt, dtype, seed, device):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, k, generator=g)
    x[:, 5] *= 20.0  # an outlier input channel, as in real activations
    w = torch.randn(n, k, generator=g) * 0.05
    bias = torch.randn(n, generator=g)
    tile = 128 if fmt == "int8" else 1
    xq, xs = quantize_blockwise_reference(x.to(dtype), tile, fmt)
    wq, ws = quantize_blockwise_reference(w, 128, fmt)
    return [t.to(device) for t in (xq, xs, wq, ws, bias)], tile


@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
@pytest.mark.parametrize("fold_lag", [0, 1])
def test_int8_kernel_matches_reference(m, n, k, dtype, fold_lag, device):
    (xq, xs, wq, ws, bias), tile = _operands(m, n, k, "int8", dtype, seed=m + n + k, device=device)
    out = scaled_mm_triton(xq, xs, wq, ws, out_dtype=dtype, fold_lag=fold_lag)
    ref = scaled_mm_reference(xq.cpu(), xs.cpu(), wq.cpu(), ws.cpu(), out_dtype=dtype)
    out_b = scaled_mm_triton(xq, xs, wq, ws, bias, out_dtype=dtype, fold_lag=fold_lag)
    ref_b = scaled_mm_reference(xq.cpu(), xs.cpu(), wq.cpu(), ws.cpu(), bias.cpu(), out_dtype=dtype)
    assert out.dtype == dtype and out.shape == (m, n)
    if dtype == torch.float32:
        assert max_rel(out, ref) <= tolerances.KERNEL_FP32_REL_MAX
        assert max_rel(out_b, ref_b) <= tolerances.KERNEL_FP32_REL_MAX
    else:
        assert_within_ulps(out, ref, ref, dtype)
        assert_within_ulps(out_b, ref_b, ref, dtype)  # the bias add may cancel: allow the pre-bias ulp


@pytest.mark.parametrize("m, n, k", SHAPES[:3])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("fold_lag", [0, 1])
def test_fp8_kernel_matches_reference(m, n, k, dtype, fold_lag, device):
    # FP8 partials are fp32 sums in another order (not exact like int32), so the kernel rows apply.
    if dtype == torch.float32 and device == "cuda":
        pytest.skip(
            "Hopper's FP8 tensor cores accumulate with fewer bits than fp32: the fp32 row cannot apply"
        )
    (xq, xs, wq, ws, bias), tile = _operands(m, n, k, "fp8", dtype, seed=m + n, device=device)
    xs = xs.T.contiguous().T  # K-major, as the FP8 activation quantiser returns them
    out = scaled_mm_triton(xq, xs, wq, ws, bias, out_dtype=dtype, a_tile_rows=1, fold_lag=fold_lag)
    args = (xq.cpu(), xs.cpu(), wq.cpu(), ws.cpu(), bias.cpu())
    truth = scaled_mm_reference(*args, out_dtype=torch.float32, a_tile_rows=1)
    eager = scaled_mm_reference(*args, out_dtype=dtype, a_tile_rows=1)
    assert_matches(out, truth, eager=eager, dtype=dtype)


def test_output_tiles_write_nothing_past_the_edge(device):
    # M and N one past a tile edge: a stray store would show up as a wrong value in the last row/column.
    (xq, xs, wq, ws, bias), _ = _operands(129, 129, 128, "int8", torch.bfloat16, seed=3, device=device)
    out = scaled_mm(xq, xs, wq, ws, bias, impl="triton")
    ref = scaled_mm_reference(xq.cpu(), xs.cpu(), wq.cpu(), ws.cpu(), bias.cpu())
    assert_within_ulps(out, ref, scaled_mm_reference(xq.cpu(), xs.cpu(), wq.cpu(), ws.cpu()), torch.bfloat16)


def test_reference_is_the_section_8_loop():
    # One K slice by hand: y = (xq . wq^T) * xs * ws + bias, exactly.
    g = torch.Generator().manual_seed(11)
    x, w = torch.randn(3, 128, generator=g), torch.randn(2, 128, generator=g)
    xq, xs = quantize_blockwise_reference(x)
    wq, ws = quantize_blockwise_reference(w)
    p = (xq.long() @ wq.long().T).float()
    want = p * (xs[0, 0] * ws[0, 0])
    assert torch.equal(scaled_mm_reference(xq, xs, wq, ws, out_dtype=torch.float32), want)


@pytest.mark.parametrize("seed", [0, 1])
def test_w8a8_error_against_full_precision(seed):
    # Lossy algorithm vs fp32 on Gaussian data (full 128-row tiles): INT8 within the official rule's error
    # bound, FP8 within its own; INT8 is the more accurate one on such data.
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 512, generator=g).bfloat16()
    w = torch.randn(384, 512, generator=g).bfloat16()
    truth = x.float() @ w.float().T
    y8 = scaled_mm(*quantize_blockwise_reference(x), *quantize_blockwise_reference(w))
    yf = scaled_mm(
        *quantize_blockwise_reference(x, 1, "fp8"),
        *quantize_blockwise_reference(w, 128, "fp8"),
        a_tile_rows=1,
    )
    assert rel_l2(y8, truth) <= tolerances.W8A8_GAUSSIAN_REL_L2
    assert rel_l2(yf, truth) <= tolerances.FP8_GAUSSIAN_REL_L2
    assert rel_l2(y8, truth) < rel_l2(yf, truth)


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_invalid_inputs_raise(impl, device):
    (xq, xs, wq, ws, bias), _ = _operands(17, 128, 256, "int8", torch.bfloat16, seed=1, device=device)
    with pytest.raises(ValueError, match="K differs"):
        scaled_mm(xq, xs, wq[:, :128], ws[:, :1], impl=impl)
    with pytest.raises(ValueError, match="multiple of 128"):
        scaled_mm(xq[:, :100], xs, wq[:, :100], ws, impl=impl)
    with pytest.raises(ValueError, match="both be int8 or both float8"):
        scaled_mm(xq, xs, wq.to(torch.float8_e4m3fn), ws, impl=impl)
    with pytest.raises(ValueError, match="must be 2-D"):
        scaled_mm(xq[None], xs, wq, ws, impl=impl)
    with pytest.raises(ValueError, match=r"a_scale must be \[ceil\(M/128\), K/128\] = \[1, 2\]"):
        scaled_mm(xq, xs[:, :1], wq, ws, impl=impl)
    with pytest.raises(ValueError, match=r"b_scale must be \[ceil\(N/128\), K/128\]"):
        scaled_mm(xq, xs, wq, ws.T, impl=impl)
    with pytest.raises(ValueError, match="scales must be float32"):
        scaled_mm(xq, xs.double(), wq, ws, impl=impl)
    with pytest.raises(ValueError, match=r"bias must be \[N\] = \[128\]"):
        scaled_mm(xq, xs, wq, ws, bias[:5], impl=impl)
    with pytest.raises(ValueError, match="a_tile_rows must be 128 or 1"):
        scaled_mm(xq, xs, wq, ws, a_tile_rows=64, impl=impl)
    with pytest.raises(ValueError, match="one device"):
        scaled_mm(xq, xs, wq, ws, bias.to("meta"), impl=impl)
    with pytest.raises(ValueError, match="impl must be"):
        scaled_mm(xq, xs, wq, ws, impl="fast")


def test_kernel_only_checks_raise(device):
    (xq, xs, wq, ws, _), _ = _operands(17, 128, 256, "int8", torch.bfloat16, seed=1, device=device)
    with pytest.raises(ValueError, match="fold_lag must be None, 0 or 1"):
        scaled_mm_triton(xq, xs, wq, ws, fold_lag=2)
    with pytest.raises(ValueError, match="out_dtype must be"):
        scaled_mm_triton(xq, xs, wq, ws, out_dtype=torch.int32)
    wide = torch.zeros(128, 512, dtype=torch.int8, device=device)[:, ::2]  # last dim strided
    with pytest.raises(ValueError, match="b must have a contiguous last dim"):
        scaled_mm_triton(xq, xs, wide, ws)
