"""LayerNorm fused with adaLN modulation (Wan's norm1/norm2, norm3 via its affine, and the head's norm with
its fp32 modulation): dispatcher."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from ...errors import require
from ...quant.row_quant import RowQuantized
from .reference import (
    check_head_norm_modulate_inputs,
    check_norm_modulate_inputs,
    check_residual_inputs,
    head_norm_modulate_reference,
    norm_modulate_fp8_reference,
    norm_modulate_reference,
    residual_norm_modulate_reference,
)

__all__ = [
    "head_norm_modulate",
    "head_norm_modulate_reference",
    "norm_modulate",
    "norm_modulate_fp8",
    "norm_modulate_fp8_reference",
    "norm_modulate_reference",
    "residual_norm_modulate",
    "residual_norm_modulate_reference",
]


def norm_modulate(
    x: Tensor,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-6,
    out: Tensor | None = None,
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> Tensor:
    """y = LN(x) (* weight + bias) (* (1 + scale) + shift), fp32 inside, returned in x's dtype.

    x: [B, L, dim] fp32/bf16/fp16. scale, shift: [B, 1, dim] or [B, L, dim] (fp32 in Wan; both or
    neither). weight, bias: [dim] LayerNorm affine (norm3), optional. out: optional [B, L, dim] buffer in
    x's dtype. impl: "auto" = Triton on CUDA, reference on CPU. Correct LayerNorm, not the official
    kernel's padded-column variance (reference.py).
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_norm_modulate_inputs(x, scale, shift, weight, bias, out)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        y = norm_modulate_reference(x, scale, shift, weight=weight, bias=bias, eps=eps)
        return y if out is None else out.copy_(y)
    require("triton", "kernels", "the Triton LayerNorm + modulation")
    from .kernel import norm_modulate_triton

    return norm_modulate_triton(x, scale, shift, weight=weight, bias=bias, eps=eps, out=out)


def norm_modulate_fp8(
    x: Tensor,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-6,
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> RowQuantized:
    """``norm_modulate``'s y quantised row-wise to e4m3 in the same pass, for the ``Fp8RowLinear`` layers
    that read it (Fp8RowConfig).

    Same arguments as ``norm_modulate`` (no ``out``). Returns RowQuantized(codes [B, L, dim]
    float8_e4m3fn, scale [B, L] fp32, x.dtype): y ~ codes * scale[..., None], quantised from fp32.
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_norm_modulate_inputs(x, scale, shift, weight, bias, None)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        return norm_modulate_fp8_reference(x, scale, shift, weight=weight, bias=bias, eps=eps)
    require("triton", "kernels", "the Triton LayerNorm + modulation")
    from .kernel import norm_modulate_fp8_triton

    return norm_modulate_fp8_triton(x, scale, shift, weight=weight, bias=bias, eps=eps)


def head_norm_modulate(
    x: Tensor,
    scale: Tensor,
    shift: Tensor,
    *,
    eps: float = 1e-6,
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> Tensor:
    """The DiT head's LN(x).to(x.dtype).float() * (1 + scale) + shift in one pass, returned in fp32.

    Unlike ``norm_modulate`` this keeps the head's rounding of LN(x) (fp32 statistics) to x's dtype
    before the fp32 modulation (reference.py), and writes the fp32 rows the head's fp32 Linear reads.
    x: [B, L, dim] fp32/bf16/fp16; scale, shift: [B, 1, dim] or [B, L, dim] float32 (views with a
    contiguous last dim are fine). Returns [B, L, dim] float32. impl: "auto" = Triton on CUDA, reference
    on CPU.
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_head_norm_modulate_inputs(x, scale, shift)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        return head_norm_modulate_reference(x, scale, shift, eps=eps)
    require("triton", "kernels", "the Triton LayerNorm + modulation")
    from .kernel import head_norm_modulate_triton

    return head_norm_modulate_triton(x, scale, shift, eps=eps)


def residual_norm_modulate(
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
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> tuple[Tensor, Tensor | RowQuantized]:
    """A residual update and the next norm in one pass: x' = x + residual (* gate), rounded once to x's
    dtype like ``ops.gated_residual``, then ``norm_modulate(x', ...)`` (``norm_modulate_fp8`` when
    ``quantize``). x' is written once and not read back.

    x, residual: [B, L, dim]; gate: [B, 1|L, dim] or None (a plain add); the rest as ``norm_modulate``.
    Returns (x' [B, L, dim] in x's dtype, y [B, L, dim] in x's dtype or RowQuantized).
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_norm_modulate_inputs(x, scale, shift, weight, bias, None)
    check_residual_inputs(x, residual, gate)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        return residual_norm_modulate_reference(
            x, residual, gate, scale, shift, weight=weight, bias=bias, eps=eps, quantize=quantize
        )
    require("triton", "kernels", "the Triton LayerNorm + modulation")
    from .kernel import residual_norm_modulate_triton

    return residual_norm_modulate_triton(
        x, residual, gate, scale, shift, weight=weight, bias=bias, eps=eps, quantize=quantize
    )
