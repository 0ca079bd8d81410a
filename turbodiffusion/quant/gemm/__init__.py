"""Block-scaled W8A8 GEMM, INT8 or FP8 e4m3 (quantization.md §3): dispatcher.

``scaled_mm`` picks the Triton kernel (kernel.py) or the PyTorch specification (reference.py). The code
dtype chooses the mode: int8 codes run the INT8 GEMM (TurboWan), float8_e4m3fn codes the FP8 one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...errors import require
from ..config import IMPLS, Impl
from .reference import BLOCK, check_scaled_mm_inputs, scaled_mm_reference

__all__ = ["scaled_mm", "scaled_mm_reference"]


def scaled_mm(
    a: Tensor,
    a_scale: Tensor,
    b: Tensor,
    b_scale: Tensor,
    bias: Tensor | None = None,
    *,
    out_dtype: torch.dtype = torch.bfloat16,
    a_tile_rows: int = BLOCK,
    impl: Impl = "auto",
) -> Tensor:
    """Y [M, N] = (a · a_scale) @ (b · b_scale)^T + bias, folded per 128-wide K slice.

    a: [M, K] int8 or float8_e4m3fn codes; a_scale: [ceil(M / a_tile_rows), K/128] fp32 (a_tile_rows 128
    for INT8 activations, 1 for FP8). b: [N, K] codes (nn.Linear layout); b_scale: [ceil(N/128), K/128]
    fp32. bias: [N] or None, cast to out_dtype before the add. K % 128 == 0 is required.
    impl: "auto" = Triton on CUDA, reference on CPU. Returns [M, N] in out_dtype.
    """
    if impl not in IMPLS:
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_scaled_mm_inputs(a, a_scale, b, b_scale, bias, a_tile_rows)
    if impl == "reference" or (impl == "auto" and not a.is_cuda):
        return scaled_mm_reference(a, a_scale, b, b_scale, bias, out_dtype=out_dtype, a_tile_rows=a_tile_rows)
    require("triton", "kernels", "the Triton W8A8 GEMM")
    from .kernel import scaled_mm_triton

    return scaled_mm_triton(a, a_scale, b, b_scale, bias, out_dtype=out_dtype, a_tile_rows=a_tile_rows)
