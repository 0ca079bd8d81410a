"""Row-wise FP8 quantiser, the specification: one fp32 scale per row (per token, or per output channel).

The FP8 rule of the block quantiser (act_quant/reference.py) over a whole row instead of a 1x128 tile:

    amax = max(1e-8, max|row|);  mult = 448 / amax (fp32 quotient);
    q = e4m3(clamp(x * mult, -448, 448)) (round to nearest even);  scale = amax / 448

so that X ~ q * scale[:, None]. With ``gelu=True`` the values quantised are tanh-GELU(x) in fp32 (the FFN's
hidden state: the up-projection's bf16 output goes through GELU and straight into this quantiser), and the
row's amax is taken from its largest input instead of from every GELU value:

    amax = max(GELU(max_j x_j), 0.171)

GELU increases from x = -0.7525 on, and below that it lies in [-0.17004, 0], so this amax bounds every
|GELU(x_j)| (nothing clips) and is exact whenever the row's largest GELU value exceeds 0.171, as it does in
a Wan FFN. What it buys: the kernel evaluates the GELU once per element instead of twice (a first pass for
the amax, a second for the codes), and the GELU is what bounds that kernel's speed.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..act_quant.reference import AMAX_FLOOR, QMAX

FP8_MAX = QMAX["fp8"]
# Bounds |GELU(x)| for every x < 0 (its minimum is -0.170041 at x = -0.7525), so max(GELU(max x), this)
# bounds a whole row's |GELU|.
GELU_NEGATIVE_BOUND = 0.171


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


def quantize_rows_fp32(xf: Tensor, amax: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The rule on an fp32 matrix xf [R, C]: returns (codes [R, C] float8_e4m3fn, scale [R] fp32).

    amax: [R] fp32 to use instead of the rows' own max |xf| (the GELU rule's bound), or None."""
    if amax is None:
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
    if not gelu:
        return quantize_rows_fp32(xf)
    amax = F.gelu(xf.amax(dim=1), approximate="tanh").clamp_min(GELU_NEGATIVE_BOUND)
    return quantize_rows_fp32(F.gelu(xf, approximate="tanh"), amax)


def dequantize_rows_reference(codes: Tensor, scale: Tensor) -> Tensor:
    """codes [..., C] e4m3 and scale [...] fp32 -> fp32 [..., C] = codes * scale."""
    if tuple(scale.shape) != tuple(codes.shape[:-1]):
        raise ValueError(
            f"scale must be the codes' leading shape {list(codes.shape[:-1])} (got {list(scale.shape)})"
        )
    return codes.float() * scale.float()[..., None]
