"""Row-scaled FP8 GEMM, the specification: Y = (A * a_scale[:, None]) @ (B * b_scale[:, None])^T + bias.

One scale per row of A (per token) and per row of B (per output channel), so the scales factor out of the
K sum: Y[m, n] = a_scale[m] * b_scale[n] * sum_k A[m, k] B[n, k] + bias[n]. The reference forms that sum
in fp32 from the exact e4m3 values, then applies the scales and the bias in fp32 and rounds once.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_row_scaled_mm_inputs(
    a: Tensor, a_scale: Tensor, b: Tensor, b_scale: Tensor, bias: Tensor | None
) -> None:
    """Shapes and dtypes shared by both impls; raises ValueError naming the tensor."""
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"a [M, K] and b [N, K] must be 2-D and agree on K (got {tuple(a.shape)}, {tuple(b.shape)})"
        )
    for name, t in (("a", a), ("b", b)):
        if t.dtype != torch.float8_e4m3fn:
            raise ValueError(f"{name} must hold float8_e4m3fn codes (got {t.dtype})")
    for name, t, rows in (("a_scale", a_scale, a.shape[0]), ("b_scale", b_scale, b.shape[0])):
        if t.dtype != torch.float32 or tuple(t.shape) != (rows,):
            raise ValueError(f"{name} must be fp32 [{rows}] (got {t.dtype} {list(t.shape)})")
    if bias is not None and tuple(bias.shape) != (b.shape[0],):
        raise ValueError(f"bias must be [N] = [{b.shape[0]}] (got {list(bias.shape)})")


def row_scaled_mm_reference(
    a: Tensor,
    a_scale: Tensor,
    b: Tensor,
    b_scale: Tensor,
    bias: Tensor | None = None,
    *,
    out_dtype: torch.dtype = torch.bfloat16,
) -> Tensor:
    """a [M, K] e4m3, a_scale [M] fp32, b [N, K] e4m3, b_scale [N] fp32, bias [N] or None -> [M, N] out_dtype."""
    check_row_scaled_mm_inputs(a, a_scale, b, b_scale, bias)
    acc = a.float() @ b.float().T
    y = acc * a_scale[:, None] * b_scale[None, :]
    if bias is not None:
        y = y + bias.float()
    return y.to(out_dtype)
