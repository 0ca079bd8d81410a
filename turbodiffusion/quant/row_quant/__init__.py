"""Row-wise FP8 quantiser (one scale per token or per output channel): dispatcher.

``quantize_rows`` picks the Triton kernel (kernel.py) or the PyTorch specification (reference.py).
"""

from __future__ import annotations

from torch import Tensor

from ...errors import require
from ..config import IMPLS, Impl
from .reference import (
    RowQuantized,
    check_row_quant_inputs,
    dequantize_rows_reference,
    quantize_rows_fp32,
    quantize_rows_reference,
)

__all__ = [
    "RowQuantized",
    "dequantize_rows_reference",
    "quantize_rows",
    "quantize_rows_fp32",
    "quantize_rows_reference",
]


def quantize_rows(x: Tensor, gelu: bool = False, impl: Impl = "auto") -> tuple[Tensor, Tensor]:
    """Quantise x [R, C] fp32/bf16/fp16 (last dim contiguous) row-wise to e4m3, after tanh-GELU if ``gelu``.

    impl: "auto" = Triton on CUDA, reference on CPU. Returns (codes [R, C] float8_e4m3fn, scale [R] fp32).
    """
    if impl not in IMPLS:
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_row_quant_inputs(x)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        return quantize_rows_reference(x, gelu)
    require("triton", "kernels", "the Triton row quantiser")
    from .kernel import quantize_rows_triton

    return quantize_rows_triton(x, gelu)
