"""LayerNorm fused with adaLN modulation, the specification (models.md §1 step 4, quantization.md §6).

    y = LN(x) (* weight + bias) (* (1 + scale) + shift)      # all in fp32, one cast to x's dtype at the end
    LN(x) = (x - mean) * rsqrt(var + eps),  var = mean((x - mean)^2)     # biased variance, over dim

Wan's norm1/norm2 are LN without affine followed by the modulation (scale, shift from the time embedding);
norm3 is LN with weight and bias and no modulation. Both are this op with the unused parts left out.

This is the *correct* LayerNorm. The official TurboDiffusion Triton kernel adds ((N2 - N) / N) * mean^2 to
the variance whenever dim is not a power of two (quantization.md §6, "Quirk"); training used the correct
norm, so we do too. The official Wan module also rounds LN(x) to bf16 before modulating; we round once.

The head is the exception (models.md §1 step 5, "Precision"): its LN(x) is rounded to x's dtype, as the
official head and our plain WanHead do, and then modulated in fp32 into an fp32 output for the fp32 Linear:

    head(x) = LN(x).to(x.dtype).float() * (1 + scale) + shift      # scale, shift fp32; returns fp32
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...quant.row_quant import RowQuantized, quantize_rows_fp32
from ..checks import check_float_dtype, check_out_like
from ..gated_residual.reference import check_gated_residual_inputs


def check_norm_modulate_inputs(
    x: Tensor,
    scale: Tensor | None,
    shift: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    out: Tensor | None,
) -> None:
    """Shape, dtype and device checks shared by both impls; raises ValueError naming the tensor."""
    if x.dim() != 3 or x.shape[-1] == 0:
        raise ValueError(f"x must be [B, L, dim] with dim > 0 (got shape {tuple(x.shape)})")
    check_float_dtype(x)
    b, length, d = x.shape
    if (scale is None) != (shift is None):
        raise ValueError("scale and shift come together (adaLN modulation): pass both or neither")
    for name, t in (("scale", scale), ("shift", shift)):
        if t is not None and (
            t.dim() != 3 or t.shape[0] != b or t.shape[1] not in (1, length) or t.shape[2] != d
        ):
            raise ValueError(
                f"{name} must be [B, 1, dim] or [B, L, dim] = [{b}, 1|{length}, {d}] (got {list(t.shape)})"
            )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (d,):
            raise ValueError(f"{name} must be [dim] = [{d}] (got {list(t.shape)})")
    for name, t in (("scale", scale), ("shift", shift), ("weight", weight), ("bias", bias)):
        if t is not None and t.device != x.device:
            raise ValueError(f"{name} is on {t.device} but x is on {x.device}; move it to x's device")
    check_out_like(out, x)


def norm_modulate_reference(
    x: Tensor,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-6,
) -> Tensor:
    """x: [B, L, dim] fp32/bf16/fp16; scale, shift: [B, 1, dim] or [B, L, dim] (fp32 in Wan); weight,
    bias: [dim] (norm3's affine). Returns [B, L, dim] in x's dtype."""
    check_norm_modulate_inputs(x, scale, shift, weight, bias, None)
    return _norm_modulate_fp32(x, scale, shift, weight, bias, eps).to(x.dtype)


def norm_modulate_fp8_reference(
    x: Tensor,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-6,
) -> RowQuantized:
    """The same y, quantised row-wise to e4m3 from fp32 (no rounding to x's dtype in between) for the
    ``Fp8RowLinear`` layers that read it: RowQuantized(codes [B, L, dim] e4m3, scale [B, L] fp32, x.dtype)."""
    check_norm_modulate_inputs(x, scale, shift, weight, bias, None)
    y = _norm_modulate_fp32(x, scale, shift, weight, bias, eps)
    codes, row_scale = quantize_rows_fp32(y.reshape(-1, y.shape[-1]))
    return RowQuantized(codes.view(y.shape), row_scale.view(y.shape[:-1]), x.dtype)


def check_head_norm_modulate_inputs(x: Tensor, scale: Tensor | None, shift: Tensor | None) -> None:
    """``check_norm_modulate_inputs`` plus the head's own rules: scale and shift are required and float32
    (the head modulates in fp32, and a low-precision ``1 + scale`` would round before the product)."""
    if scale is None or shift is None:
        raise ValueError(
            "head_norm_modulate needs both scale and shift ([B, 1, dim] or [B, L, dim] float32); "
            "use norm_modulate for a LayerNorm without modulation"
        )
    check_norm_modulate_inputs(x, scale, shift, None, None, None)
    for name, t in (("scale", scale), ("shift", shift)):
        if t.dtype != torch.float32:
            raise ValueError(f"{name} must be float32, the head's modulation dtype (got {t.dtype})")


def head_norm_modulate_reference(x: Tensor, scale: Tensor, shift: Tensor, *, eps: float = 1e-6) -> Tensor:
    """The head's norm and modulation, unfused: LN(x) with fp32 statistics, rounded to x's dtype, then
    ``* (1 + scale) + shift`` in fp32.

    x: [B, L, dim] fp32/bf16/fp16; scale, shift: [B, 1, dim] or [B, L, dim] float32. Returns [B, L, dim]
    float32 (for the head's fp32 Linear).
    """
    check_head_norm_modulate_inputs(x, scale, shift)
    # torch's layer_norm in fp32 (the plain WanLayerNorm's call), so on the CPU the fused head is the plain
    # one bit for bit; rounded on purpose: the official head modulates the LayerNorm's x.dtype output.
    normed = F.layer_norm(x.float(), (x.shape[-1],), eps=eps).to(x.dtype)
    return normed.float() * (1 + scale) + shift


def check_residual_inputs(x: Tensor, residual: Tensor, gate: Tensor | None) -> None:
    """The residual operands of ``residual_norm_modulate``; raises ValueError naming the tensor."""
    if gate is not None:
        check_gated_residual_inputs(x, residual, gate, None)
    elif residual.shape != x.shape or residual.device != x.device:
        raise ValueError(
            f"residual must have x's shape {list(x.shape)} on {x.device} (got {list(residual.shape)} on "
            f"{residual.device})"
        )


def residual_norm_modulate_reference(
    x: Tensor,
    residual: Tensor,
    gate: Tensor | None = None,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-6,
    quantize: bool = False,
) -> tuple[Tensor, Tensor | RowQuantized]:
    """x' = x + residual (* gate), computed in fp32 and rounded once to x's dtype (ops.gated_residual's
    rule, which a plain bf16 add also follows), then ``norm_modulate_reference`` of x' (or
    ``norm_modulate_fp8_reference`` when ``quantize``). Returns (x', y)."""
    check_residual_inputs(x, residual, gate)
    branch = residual.float() if gate is None else residual.float() * gate.float()
    x_new = (x.float() + branch).to(x.dtype)
    norm = norm_modulate_fp8_reference if quantize else norm_modulate_reference
    return x_new, norm(x_new, scale, shift, weight=weight, bias=bias, eps=eps)


def _norm_modulate_fp32(
    x: Tensor,
    scale: Tensor | None,
    shift: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
) -> Tensor:
    xf = x.float()  # fp32 statistics and modulation on purpose (models.md §1 "Precision")
    mean = xf.mean(dim=-1, keepdim=True)
    var = (xf - mean).pow(2).mean(dim=-1, keepdim=True)
    y = (xf - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.float()
    if bias is not None:
        y = y + bias.float()
    if scale is not None:
        y = y * (1 + scale.float()) + shift.float()
    return y
