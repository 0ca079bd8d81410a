"""Row-scaled FP8 GEMM: dispatcher between PyTorch's row-wise ``torch._scaled_mm`` and reference.py.

There is no Triton kernel here: on Hopper PyTorch's row-wise FP8 GEMM runs Wan's shapes at 1.4-1.7x its
bf16 GEMM (benchmarks/runs/h200-2026-12-02g), which is what this mode is for.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .reference import check_row_scaled_mm_inputs, row_scaled_mm_reference

__all__ = ["row_scaled_mm", "row_scaled_mm_reference"]

# K and N must be multiples of 16 for the FP8 tensor-core GEMM.
ALIGN = 16


def row_scaled_mm(
    a: Tensor,
    a_scale: Tensor,
    b: Tensor,
    b_scale: Tensor,
    bias: Tensor | None = None,
    *,
    out_dtype: torch.dtype = torch.bfloat16,
    fast_accum: bool = False,
    impl: Literal["auto", "torch", "reference"] = "auto",
) -> Tensor:
    """Y [M, N] = (a * a_scale[:, None]) @ (b * b_scale[:, None])^T + bias, in out_dtype.

    a: [M, K] float8_e4m3fn, row-major; a_scale: [M] fp32; b: [N, K] float8_e4m3fn (nn.Linear layout,
    contiguous); b_scale: [N] fp32; bias: [N] or None. K and N multiples of 16 on CUDA. fast_accum: let
    the tensor cores accumulate without periodic fp32 promotion (faster, less exact over long K).
    impl: "auto" = ``torch._scaled_mm`` on CUDA (bf16 out, cast to out_dtype), the reference on CPU.
    """
    if impl not in ("auto", "torch", "reference"):
        raise ValueError(f'impl must be "auto", "torch" or "reference" (got {impl!r})')
    check_row_scaled_mm_inputs(a, a_scale, b, b_scale, bias)
    if impl == "reference" or (impl == "auto" and not a.is_cuda):
        return row_scaled_mm_reference(a, a_scale, b, b_scale, bias, out_dtype=out_dtype)
    if a.shape[1] % ALIGN or b.shape[0] % ALIGN:
        raise ValueError(
            f"the FP8 GEMM needs K and N multiples of {ALIGN} (got K={a.shape[1]}, N={b.shape[0]}); keep "
            "this layer in float (add its name to the config's skip list)"
        )
    if a.stride(1) != 1:
        a = a.contiguous()
    # Row-wise scaling produces bf16 (with a bf16 bias); other dtypes are one cast away.
    y = torch._scaled_mm(
        a,
        b.t(),
        scale_a=a_scale.view(-1, 1),
        scale_b=b_scale.view(1, -1),
        bias=None if bias is None else bias.to(torch.bfloat16),
        out_dtype=torch.bfloat16,
        use_fast_accum=fast_accum,
    )
    return y if out_dtype == torch.bfloat16 else y.to(out_dtype)
