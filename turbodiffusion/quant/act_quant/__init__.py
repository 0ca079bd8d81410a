"""Block quantiser for weights and activations (quantization.md §2): dispatcher.

``quantize_blockwise`` picks the Triton kernel (kernel.py) or the PyTorch specification (reference.py);
both give the same bits.
"""

from __future__ import annotations

from torch import Tensor

from ...errors import require
from ..config import IMPLS, Impl
from .reference import (
    BLOCK,
    Fmt,
    check_quant_inputs,
    dequantize_blockwise_reference,
    quantize_blockwise_reference,
)

__all__ = [
    "BLOCK",
    "dequantize_blockwise_reference",
    "quantize_blockwise",
    "quantize_blockwise_reference",
]


def quantize_blockwise(
    x: Tensor, tile_rows: int = BLOCK, fmt: Fmt = "int8", impl: Impl = "auto"
) -> tuple[Tensor, Tensor]:
    """Quantise x [R, C] in tiles of tile_rows x 128 (C % 128 == 0).

    x: [R, C] fp32/bf16/fp16, last dim contiguous. tile_rows: 128 (INT8, FP8 weights) or 1 (FP8
    activations). fmt: "int8" or "fp8" (e4m3). impl: "auto" = Triton on CUDA, reference on CPU.
    Returns (codes [R, C] int8 or float8_e4m3fn, scales [ceil(R / tile_rows), C / 128] fp32).
    """
    if impl not in IMPLS:
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_quant_inputs(x, tile_rows, fmt)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        return quantize_blockwise_reference(x, tile_rows, fmt)
    require("triton", "kernels", "the Triton block quantiser")
    from .kernel import quantize_blockwise_triton

    return quantize_blockwise_triton(x, tile_rows, fmt)
