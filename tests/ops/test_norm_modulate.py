"""LayerNorm + modulation kernel vs its fp32 reference: modulation shapes, affine, the correct variance."""

from __future__ import annotations

import os

import pytest
import torch

from turbodiffusion.ops.norm_modulate import (
    head_norm_modulate,
    head_norm_modulate_reference,
    norm_modulate,
    norm_modulate_fp8,
    norm_modulate_fp8_reference,
    norm_modulate_reference,
)
from turbodiffusion.quant.row_quant import dequantize_rows_reference, quantize_rows_reference
from turbodiffusion.testing.compare import assert_e4m3_codes_close, assert_matches
from turbodiffusion.testing.sm90_compile import build_report, cuobjdump
from turbodiffusion.testing.tolerances import ROUNDED_MOVED_MAX

from .test_rms_norm import CASES


def _inputs(b, L, dim, mod_len, dtype, device, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(b, L, dim, generator=g) + 0.7).to(device, dtype)  # mean 0.7: the official quirk's case
    scale = (0.2 * torch.randn(b, mod_len, dim, generator=g)).to(device)  # fp32, as Wan's modulation
    shift = (0.2 * torch.randn(b, mod_len, dim, generator=g)).to(device)
    return x, scale, shift


@pytest.mark.parametrize("B, L, dim", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("per_token", [False, True])
def test_norm_modulate_matches_reference(B, L, dim, dtype, per_token, device):
    x, scale, shift = _inputs(B, L, dim, L if per_token else 1, dtype, device, seed=L + dim)
    before = x.clone()
    out = norm_modulate(x, scale, shift, impl="triton")
    assert torch.equal(x, before)
    truth = norm_modulate_reference(x.float().cpu(), scale.cpu(), shift.cpu())
    eager = norm_modulate_reference(x.cpu(), scale.cpu(), shift.cpu())
    assert_matches(out, truth, eager=eager, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_affine_layer_norm_matches_torch(dtype, device):
    # norm3: LayerNorm with weight and bias, no modulation; the truth is torch's own layer_norm in fp32.
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(1, 45, 1536, generator=g) + 0.7).to(device, dtype)
    w, b = 1 + 0.1 * torch.randn(1536, generator=g), 0.1 * torch.randn(1536, generator=g)
    out = norm_modulate(x, weight=w.to(device), bias=b.to(device), impl="triton")
    truth = torch.nn.functional.layer_norm(x.float().cpu(), (1536,), w, b, 1e-6)
    eager = torch.nn.functional.layer_norm(x.cpu(), (1536,), w.to(dtype), b.to(dtype), 1e-6)
    assert_matches(out, truth, eager=eager, dtype=dtype)


def test_variance_is_the_correct_one_not_the_padded_one():
    # dim 1536 pads to 2048 lanes: the official kernel's variance gains +mean^2/3 here (quantization.md §6).
    x = torch.randn(4, 3, 1536, generator=torch.Generator().manual_seed(0)) + 0.7
    ref = norm_modulate_reference(x)
    assert torch.allclose(ref, torch.nn.functional.layer_norm(x, (1536,), eps=1e-6), rtol=0, atol=1e-5)


def test_modulation_views_of_one_tensor_and_sentinel_output(device):
    # Wan's modulation is one [B, 6, dim] tensor; scale and shift are strided slices of it (no copy).
    g = torch.Generator().manual_seed(9)
    x = torch.randn(2, 33, 320, generator=g).to(device, torch.bfloat16)
    m = torch.randn(2, 6, 320, generator=g).to(device)
    shift, scale = m[:, 0:1], m[:, 1:2]
    buf = torch.full((2, 33, 330), float("nan"), dtype=torch.bfloat16, device=device)
    norm_modulate(x, scale, shift, out=buf[..., :320], impl="triton")
    assert torch.isnan(buf[..., 320:]).all(), "a store went past the end of a row"
    truth = norm_modulate_reference(x.float().cpu(), scale.cpu(), shift.cpu())
    eager = norm_modulate_reference(x.cpu(), scale.cpu(), shift.cpu())
    assert_matches(buf[..., :320], truth, eager=eager, dtype=torch.bfloat16)


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_norm_modulate_invalid_inputs_raise(impl, device):
    x, scale, shift = _inputs(2, 5, 64, 1, torch.float32, device, seed=0)
    with pytest.raises(ValueError, match=r"x must be \[B, L, dim\]"):
        norm_modulate(x[0], scale, shift, impl=impl)
    with pytest.raises(ValueError, match="pass both or neither"):
        norm_modulate(x, scale, None, impl=impl)
    with pytest.raises(ValueError, match=r"scale must be \[B, 1, dim\] or \[B, L, dim\] = \[2, 1\|5, 64\]"):
        norm_modulate(x, scale[:, :, :32], shift, impl=impl)
    with pytest.raises(ValueError, match=r"shift must be \[B, 1, dim\]"):
        norm_modulate(x, scale, shift[:1], impl=impl)
    with pytest.raises(ValueError, match=r"weight must be \[dim\] = \[64\]"):
        norm_modulate(x, weight=torch.ones(63, device=device), impl=impl)
    with pytest.raises(ValueError, match="bias is on meta"):
        norm_modulate(x, bias=torch.ones(64, device="meta"), impl=impl)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        norm_modulate(x.double(), scale, shift, impl=impl)
    with pytest.raises(ValueError, match="out must match x"):
        norm_modulate(x, scale, shift, out=torch.empty(2, 5, 63, device=device), impl=impl)
    with pytest.raises(ValueError, match="impl must be"):
        norm_modulate(x, scale, shift, impl="fast")


# Widths: equal tiles (192 = 3 x 64, 1536 = 3 x 512) and a padded last tile (200 in 7 x 32 lanes).
@pytest.mark.parametrize("B, L, dim", [(2, 17, 192), (1, 33, 1536), (2, 5, 200)])
@pytest.mark.parametrize("affine", [False, True])
def test_norm_modulate_fp8_matches_reference(B, L, dim, affine, device):
    """The quantised output: scales to fp32 rounding, codes within one e4m3 step (the kernel's y differs
    from torch's in the last fp32 bits, which can move a value across a rounding tie)."""
    x, scale, shift = _inputs(B, L, dim, 1, torch.bfloat16, device, seed=L + dim)
    g = torch.Generator().manual_seed(dim)
    kw = {"weight": (1 + 0.1 * torch.randn(dim, generator=g)).to(device), "bias": None} if affine else {}
    mod = () if affine else (scale, shift)
    out = norm_modulate_fp8(x, *mod, **kw, impl="triton")
    cpu = {k: (v.cpu() if v is not None else None) for k, v in kw.items()}
    ref = norm_modulate_fp8_reference(x.cpu(), *(t.cpu() for t in mod), **cpu)
    assert out.codes.dtype == torch.float8_e4m3fn and out.codes.shape == (B, L, dim)
    assert out.scale.shape == (B, L) and out.dtype == torch.bfloat16
    torch.testing.assert_close(out.scale.cpu(), ref.scale, rtol=1e-5, atol=0)
    assert_e4m3_codes_close(out.codes, ref.codes)


def test_norm_modulate_fp8_reference_quantises_the_fp32_norm():
    x, scale, shift = _inputs(2, 9, 256, 9, torch.bfloat16, "cpu", seed=4)
    out = norm_modulate_fp8_reference(x, scale, shift)
    y = norm_modulate_reference(x.float(), scale, shift)  # fp32 x: the fp32 y, never rounded to bf16
    codes, row_scale = quantize_rows_reference(y.reshape(-1, 256))
    assert torch.equal(out.codes.view(torch.int8), codes.view(torch.int8).view(2, 9, 256))
    assert torch.equal(out.scale, row_scale.view(2, 9))
    assert torch.equal(norm_modulate_fp8(x, scale, shift).codes.view(torch.int8), out.codes.view(torch.int8))
    deq = dequantize_rows_reference(out.codes, out.scale)
    assert ((deq - y).abs() <= y.abs().amax(-1, keepdim=True) / 448 * 16).all()  # half the top step (32)
    with pytest.raises(ValueError, match="impl must be"):
        norm_modulate_fp8(x, scale, shift, impl="cuda")


@pytest.mark.parametrize("B, L, dim", [(2, 17, 192), (1, 33, 1536), (2, 5, 200)])
@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("quantize", [False, True])
def test_residual_norm_modulate_is_the_residual_then_the_norm(B, L, dim, gated, quantize, device):
    """One pass, same numbers: x' is the gated residual (the plain add bit for bit) and y equals the norm of
    that x' bit for bit; both also match the references."""
    from turbodiffusion.ops.gated_residual import gated_residual
    from turbodiffusion.ops.norm_modulate import residual_norm_modulate, residual_norm_modulate_reference

    x, scale, shift = _inputs(B, L, dim, 1, torch.bfloat16, device, seed=L + dim + gated)
    g = torch.Generator().manual_seed(dim + quantize)
    residual = torch.randn(B, L, dim, generator=g).to(device, torch.bfloat16)
    gate = (0.3 * torch.randn(B, 1, dim, generator=g)).to(device) if gated else None
    # norm3 after the gated self-attention residual (affine), norm2 after the cross-attention add (adaLN)
    kw = {"weight": (1 + 0.1 * torch.randn(dim, generator=g)).to(device)} if gated else {}
    mod = () if gated else (scale, shift)
    before = x.clone()
    x_new, y = residual_norm_modulate(x, residual, gate, *mod, **kw, quantize=quantize, impl="triton")
    assert torch.equal(x, before), "x is not updated in place"
    if gated:  # fp32 x + r * g rounded once; a fused multiply-add may round the fp32 sum differently
        assert_matches(
            x_new, gated_residual(x.float(), residual, gate, impl="reference"), dtype=torch.bfloat16
        )
    else:
        assert torch.equal(x_new, x + residual)  # torch's bf16 add also rounds the fp32 sum once
    norm = norm_modulate_fp8 if quantize else norm_modulate
    expected_y = norm(x_new, *mod, **kw, impl="triton")
    if quantize:
        assert torch.equal(y.codes.view(torch.int8), expected_y.codes.view(torch.int8))
        assert torch.equal(y.scale, expected_y.scale) and y.dtype == torch.bfloat16
    else:
        assert torch.equal(y, expected_y)
    cpu = {k: v.cpu() for k, v in kw.items()}
    ref_x, ref_y = residual_norm_modulate_reference(
        x.cpu(), residual.cpu(), None if gate is None else gate.cpu(), *(t.cpu() for t in mod), **cpu,
        quantize=quantize,
    )  # fmt: skip
    assert_matches(x_new, ref_x.float(), dtype=torch.bfloat16)
    if quantize:
        torch.testing.assert_close(y.scale.cpu(), ref_y.scale, rtol=1e-5, atol=0)
        assert_e4m3_codes_close(y.codes, ref_y.codes)
    else:
        assert_matches(
            y, norm_modulate_reference(ref_x.float(), *(t.cpu() for t in mod), **cpu), dtype=torch.bfloat16
        )


def test_residual_norm_modulate_rejects_a_mismatched_residual():
    from turbodiffusion.ops.norm_modulate import residual_norm_modulate

    x, scale, shift = _inputs(1, 5, 64, 1, torch.float32, "cpu", seed=1)
    with pytest.raises(ValueError, match="residual must have x's shape"):
        residual_norm_modulate(x, x[:, :4], None, scale, shift)
    with pytest.raises(ValueError, match="gate must be"):
        residual_norm_modulate(x, x, x[:, :, :3], scale, shift)


def test_residual_norm_modulate_in_fp32_streams(device):
    """An fp32 stream (fp32 models run the fused path too): x' is the exact fp32 sum, y the norm of it."""
    from turbodiffusion.ops.norm_modulate import residual_norm_modulate

    x, scale, shift = _inputs(2, 9, 96, 9, torch.float32, device, seed=3)
    residual = torch.randn(2, 9, 96, generator=torch.Generator().manual_seed(4)).to(device)
    x_new, y = residual_norm_modulate(x, residual, None, scale, shift, impl="triton")
    assert x_new.dtype == torch.float32 and torch.equal(x_new, x + residual)
    if device == "cpu":  # the interpreter sums rows in one order: the two launches agree bit for bit
        assert torch.equal(y, norm_modulate(x_new, scale, shift, impl="triton"))
    else:  # a GPU's row sums follow each compiled variant's register layout: last fp32 bits may differ
        truth = norm_modulate_reference(x_new.cpu(), scale.cpu(), shift.cpu())
        assert_matches(y, truth, dtype=torch.float32)


def _head_inputs(b, L, dim, dtype, device, seed, strided):
    """x [B, L, dim] (a strided view when ``strided``) and the head's shift, scale: [B, 1, dim] fp32 views
    of one [B, 2, dim] tensor, as WanHead's chunk makes them, different for each sample."""
    g = torch.Generator().manual_seed(seed)
    x = (3 * torch.randn(b, L, dim + 5 * strided, generator=g) + 0.7).to(device, dtype)[..., :dim]
    shift, scale = (0.3 * torch.randn(b, 2, dim, generator=g)).to(device).chunk(2, dim=1)
    return x, scale, shift


@pytest.mark.parametrize(
    "B, L, dim, strided", [(2, 1, 96, False), (2, 17, 160, True), (2, 333, 96, False), (1, 200, 1536, False)]
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_head_norm_modulate_matches_reference(B, L, dim, strided, dtype, device):
    """Not bit for bit: the kernel sums the LayerNorm statistics in another order than torch, so LN(x)
    differs in its last fp32 bits and its rounding to x's dtype sometimes lands on the next grid value
    (ROUNDED_MOVED_MAX). Near-zero values of LN(x) come from cancellation and may move further (an fp32
    ulp of the mean is many of their own), so no one-step rule. Checked instead, with no modulation, where
    the output is LN(x) itself: it lies on x's grid (the rounding happened), meets the fp32 truth by the
    error-ratio rule and equals the reference's almost everywhere; and with modulation, the output is the
    fp32 ``* (1 + scale) + shift`` of that LN(x)."""
    x, scale, shift = _head_inputs(B, L, dim, dtype, device, seed=L + dim, strided=strided)
    before = x.clone()
    zero = torch.zeros_like(scale)
    normed = head_norm_modulate(x, zero, zero, impl="triton")  # n * (1 + 0) + 0 is n, exactly
    out = head_norm_modulate(x, scale, shift, impl="triton")
    assert torch.equal(x, before)
    assert normed.dtype == out.dtype == torch.float32 and out.shape == (B, L, dim)
    assert torch.equal(normed.to(dtype).float(), normed), "LN(x) was not rounded to x's dtype"
    truth = head_norm_modulate_reference(x.float().cpu(), zero.cpu(), zero.cpu())  # LN(x) unrounded
    ref = head_norm_modulate_reference(x.cpu(), zero.cpu(), zero.cpu())
    assert_matches(normed, truth, eager=ref, dtype=dtype)
    if dtype != torch.float32:  # fp32: nothing rounded in between, the fp32 rule above is the whole rule
        moved = (normed.cpu() != ref).float().mean().item()
        assert moved <= ROUNDED_MOVED_MAX, f"{moved:.2%} of LN(x) differ from the reference's rounding"
    # fp32 rule, not equality: a GPU contracts the product and the sum into one fma (the interpreter is exact)
    assert_matches(out, normed.cpu() * (1 + scale.cpu()) + shift.cpu(), dtype=torch.float32)


def test_head_norm_modulate_reference_is_the_unfused_head():
    """The reference is the plain WanHead sequence: torch's fp32 layer_norm rounded to x's dtype, then the
    fp32 modulation; so not norm_modulate's LN(x) modulated before any rounding."""
    x, scale, shift = _head_inputs(2, 9, 96, torch.bfloat16, "cpu", seed=5, strided=False)
    n = torch.nn.functional.layer_norm(x.float(), (96,), eps=1e-6).to(torch.bfloat16)
    out = head_norm_modulate_reference(x, scale, shift)
    assert torch.equal(out, n.to(torch.float32) * (1 + scale) + shift)
    assert torch.equal(head_norm_modulate(x, scale, shift), out)  # "auto" on CPU is the reference
    assert not torch.equal(out, norm_modulate(x.float(), scale, shift))


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_head_norm_modulate_invalid_inputs_raise(impl, device):
    x, scale, shift = _head_inputs(2, 5, 64, torch.bfloat16, device, seed=0, strided=False)
    with pytest.raises(ValueError, match="needs both scale and shift"):
        head_norm_modulate(x, scale, None, impl=impl)
    with pytest.raises(ValueError, match="scale must be float32, the head's modulation dtype"):
        head_norm_modulate(x, scale.bfloat16(), shift, impl=impl)
    with pytest.raises(ValueError, match="shift must be float32"):
        head_norm_modulate(x, scale, shift.double(), impl=impl)
    with pytest.raises(ValueError, match=r"shift must be \[B, 1, dim\] or \[B, L, dim\] = \[2, 1\|5, 64\]"):
        head_norm_modulate(x, scale, shift[:1], impl=impl)
    with pytest.raises(ValueError, match=r"x must be \[B, L, dim\]"):
        head_norm_modulate(x[0], scale, shift, impl=impl)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        head_norm_modulate(x.double(), scale, shift, impl=impl)
    with pytest.raises(ValueError, match="scale is on meta"):
        head_norm_modulate(x, scale.to("meta"), shift, impl=impl)
    with pytest.raises(ValueError, match="impl must be"):
        head_norm_modulate(x, scale, shift, impl="fast")


@pytest.mark.skipif(not os.path.exists(cuobjdump()), reason="this Triton ships no cuobjdump")
def test_wan_rows_build_for_sm90_without_moving_tiles_through_shared_memory():
    """Equal tiles share one register layout, and a row's partial sums add up lane by lane before a single
    reduction a statistic. At 1,536 wide with a warp a row (4 rows, 4 warps) nothing crosses warps: one block
    barrier (the row scales' store); with the residual the bf16 x' store takes its own layout (6 more). At
    5,120 (a row across 4 warps) each statistic crosses warps once (5 barriers with Triton 3.9, 8 with 3.6).
    A head and a tail tile of different widths built to 21-29 barriers a program
    (benchmarks/runs/gpu-2026-12-06)."""
    most_barriers = {(1536, 4, 4, 0): 1, (1536, 4, 4, 1): 7, (5120, 1, 4, 1): 8}
    for (d, rows, warps, residual), most in most_barriers.items():
        report = build_report("norm_modulate", d, rows, warps, residual)
        assert report["barriers"] <= most, (d, rows, warps, residual, report)
        assert report["stack"] == 0 and not report["local_loads"], f"register spills: {report}"
