"""Row-wise FP8 quantiser, the specification: one fp32 scale per row (per token, or per output channel).

The FP8 rule of the block quantiser (act_quant/reference.py) over a whole row instead of a 1x128 tile:

    amax = max(1e-8, max|row|);  mult = 448 / amax (fp32 quotient);
    q = e4m3(clamp(x * mult, -448, 448)) (round to nearest even);  scale = amax / 448

so that X ~ q * scale[:, None]. With ``gelu=True`` the row is first mapped through tanh-GELU in fp32 (the
FFN's hidden state: the up-projection's bf16 output goes through GELU and straight into this quantiser).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..act_quant.reference import AMAX_FLOOR, QMAX

FP8_MAX = QMAX["fp8"]


class RowQuantized(NamedTuple):
    """An activation already quantised row-wise, ready for a row-scaled FP8 GEMM.

    codes: [..., C] float8_e4m3fn, last dim contiguous; scale: [...] fp32 (one per row); dtype: the float
    dtype the tensor had before quantisation, which the consuming linear returns.
    """

    codes: Tensor
    scale: Tensor
    dtype: torch.dtype


def check_row_quant_inputs(x: Tensor) -> None:
    """Checks shared by both impls: rank, dtype, last-dim contiguity."""
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D [R, C] (got shape {tuple(x.shape)}); flatten leading dims first")
    if x.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"x must be float32, bfloat16 or float16 (got {x.dtype})")
    if x.shape[1] == 0:
        raise ValueError("x must have at least one column")
    if x.shape[1] > 1 and x.stride(1) != 1:
        raise ValueError(
            f"x must have a contiguous last dim (got strides {tuple(x.stride())}); call .contiguous()"
        )


def quantize_rows_fp32(xf: Tensor) -> tuple[Tensor, Tensor]:
    """The rule on an fp32 matrix xf [R, C]: returns (codes [R, C] float8_e4m3fn, scale [R] fp32)."""
    amax = xf.abs().amax(dim=1).clamp_min(AMAX_FLOOR)
    qmax = torch.full_like(amax, FP8_MAX)
    # fp32 quotient first, then one product per element: the order the kernels reproduce. Tensor / tensor
    # on purpose (a Python-scalar divisor goes through its reciprocal on CUDA).
    codes = (xf * (qmax / amax)[:, None]).clamp_(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return codes, amax / qmax


def quantize_rows_reference(x: Tensor, gelu: bool = False) -> tuple[Tensor, Tensor]:
    """Quantise x [R, C] fp32/bf16/fp16 row-wise to e4m3 (after tanh-GELU in fp32 when ``gelu``).

    Returns (codes [R, C] float8_e4m3fn, scale [R] fp32) with x ~ codes * scale[:, None].
    """
    check_row_quant_inputs(x)
    xf = x.float()
    if gelu:
        xf = F.gelu(xf, approximate="tanh")
    return quantize_rows_fp32(xf)


def dequantize_rows_reference(codes: Tensor, scale: Tensor) -> Tensor:
    """codes [..., C] e4m3 and scale [...] fp32 -> fp32 [..., C] = codes * scale."""
    if tuple(scale.shape) != tuple(codes.shape[:-1]):
        raise ValueError(
            f"scale must be the codes' leading shape {list(codes.shape[:-1])} (got {list(scale.shape)})"
        )
    return codes.float() * scale.float()[..., None]
