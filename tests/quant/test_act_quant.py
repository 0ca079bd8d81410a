"""Block quantiser: the Triton kernel reproduces the reference bit for bit; the reference is the §2 rule."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.quant.act_quant import (
    dequantize_blockwise_reference,
    quantize_blockwise,
    quantize_blockwise_reference,
)

MODES = [("int8", 128), ("fp8", 128), ("fp8", 1)]


def _bits(codes: torch.Tensor) -> torch.Tensor:
    return codes.view(torch.int8)  # compares e4m3 codes bit for bit, -0 included


def _input(rows: int, cols: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Gaussian rows with an outlier channel and a tile whose amax is a power of two (many exact ties)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, cols, generator=g)
    x[:, 3] *= 30.0  # W8A8's hard case: one outlier channel inflates its 128-channel group's scale
    if cols >= 256:
        x[:, 128:256] = torch.randint(-64, 65, (rows, 128), generator=g) / 32.0  # amax 2: halves everywhere
    return x.to(dtype)


@pytest.mark.parametrize("rows", [1, 17, 200, 333])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("fmt, tile_rows", MODES)
def test_kernel_matches_reference_bit_for_bit(rows, dtype, fmt, tile_rows, device):
    x = _input(rows, 384, dtype, seed=rows).to(device)
    before = x.clone()
    q_ref, s_ref = quantize_blockwise_reference(x.cpu(), tile_rows, fmt)
    q, s = quantize_blockwise(x, tile_rows, fmt, impl="triton")
    assert torch.equal(x, before), "input was modified"
    assert q.dtype == q_ref.dtype and q.shape == (rows, 384)
    assert s.shape == (-(-rows // tile_rows), 3) and s.dtype == torch.float32
    assert torch.equal(_bits(q.cpu()), _bits(q_ref)), "codes differ"
    assert torch.equal(s.cpu(), s_ref), "scales differ"
    if tile_rows == 1:
        assert s.T.is_contiguous(), "per-row scales are stored K-major for the GEMM"


@pytest.mark.parametrize("fmt, tile_rows", MODES)
def test_non_contiguous_rows_view(fmt, tile_rows, device):
    base = _input(300, 512, torch.bfloat16, seed=5).to(device)
    x = base[::2, 128:]  # rows strided, last dim contiguous
    q_ref, s_ref = quantize_blockwise_reference(x.cpu().contiguous(), tile_rows, fmt)
    q, s = quantize_blockwise(x, tile_rows, fmt, impl="triton")
    assert torch.equal(_bits(q.cpu()), _bits(q_ref)) and torch.equal(s.cpu(), s_ref)


def test_reference_follows_the_spec_rule():
    # quantization.md §2: divisor 128; +amax saturates to 127, -amax maps to -128; ties round to even;
    # all-zero tiles get the 1e-8 floor; rows past R count as zero.
    x = torch.zeros(130, 256)
    x[0, 0], x[0, 1] = 4.0, -4.0  # tile (0, 0): amax 4, mult 32
    x[0, 2], x[0, 3], x[0, 4] = 2.5 / 32, 3.5 / 32, -2.5 / 32  # ties: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2
    x[129, 128] = 1.0  # tile (1, 1): a single row of 128
    q, s = quantize_blockwise_reference(x)
    assert q[0, :5].tolist() == [127, -128, 2, 4, -2]
    floor = torch.tensor(1e-8) / 128  # the fp32 value of 1e-8, divided exactly
    assert torch.equal(s, torch.tensor([[4.0 / 128, floor], [floor, 1.0 / 128]]))
    assert q[129, 128] == 127 and q.dtype == torch.int8


def test_fp8_reference_rounds_onto_the_e4m3_grid():
    x = torch.zeros(1, 128)
    x[0, :5] = torch.tensor([448.0, -448.0, 17.0, 3 * 2.0**-10, -1e-6])  # amax 448 -> mult 1
    q, s = quantize_blockwise_reference(x, 1, "fp8")
    assert s.item() == 1.0
    # 17 lies halfway between 16 and 18 -> even mantissa (16); 1.5 subnormal steps (2^-9) -> 2 steps;
    # a tiny negative keeps its sign as -0.
    assert q.float()[0, :4].tolist() == [448.0, -448.0, 16.0, 2.0**-8]
    assert q.view(torch.int8)[0, 4] == -128  # 0x80 = -0.0


def assert_int8_within_half_a_step(x: torch.Tensor, codes: torch.Tensor, scales: torch.Tensor) -> None:
    """|codes * scale - x| <= half a step per element (quantization.md §2), computed in float64.

    Two exceptions the rule itself makes: values above 127.5 steps saturate to 127 (the divisor is 128, so
    +amax is 128 steps: at most one step off), and x * mult is rounded to fp32 before rounding to an
    integer, which can move a value up to 2^-24 x 128 steps across the half-step line.
    """
    rows = x.shape[0]
    step = scales.double().repeat_interleave(128, 0)[:rows].repeat_interleave(128, 1)
    err = (codes.double() * step - x.double()).abs()
    slack = 128 * torch.finfo(torch.float32).eps / 2  # the fp32 rounding of x * mult, in steps
    saturated = x.double() > 127.5 * step
    assert (err[~saturated] <= (0.5 + slack) * step[~saturated]).all()
    assert (err[saturated] <= (1 + slack) * step[saturated]).all()


@pytest.mark.parametrize("fmt, tile_rows", MODES)
def test_dequantize_is_within_half_a_step(fmt, tile_rows):
    x = _input(200, 256, torch.float32, seed=9)
    q, s = quantize_blockwise_reference(x, tile_rows, fmt)
    if fmt == "int8":
        assert_int8_within_half_a_step(x, q, s)
    else:  # e4m3: half a grid spacing at the value's magnitude (2^-4 relative), or half a subnormal step
        deq = dequantize_blockwise_reference(q, s, tile_rows)
        step = s.repeat_interleave(tile_rows, 0)[:200].repeat_interleave(128, 1)
        assert ((deq - x).abs() <= 2.0**-4 * x.abs() + 2.0**-10 * step).all()


def test_zero_rows_is_fine(device):
    q, s = quantize_blockwise(torch.empty(0, 128, device=device), impl="triton")
    assert q.shape == (0, 128) and s.shape == (0, 1)


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_invalid_inputs_raise(impl, device):
    x = torch.randn(4, 256, device=device)
    with pytest.raises(ValueError, match="C % 128 == 0"):
        quantize_blockwise(torch.randn(4, 200, device=device), impl=impl)
    with pytest.raises(ValueError, match="must be 2-D"):
        quantize_blockwise(x[None], impl=impl)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        quantize_blockwise(x.double(), impl=impl)
    with pytest.raises(ValueError, match="contiguous last dim"):
        quantize_blockwise(torch.randn(256, 4, device=device).T, impl=impl)
    with pytest.raises(ValueError, match="tile_rows must be 128 or 1"):
        quantize_blockwise(x, 64, impl=impl)
    with pytest.raises(ValueError, match='fmt must be "int8" or "fp8"'):
        quantize_blockwise(x, fmt="int4", impl=impl)
    with pytest.raises(ValueError, match="impl must be"):
        quantize_blockwise(x, impl="cuda")
