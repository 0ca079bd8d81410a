"""Linear + tanh GELU (the first half of Wan's FFN), the specification: ``gelu_tanh(x @ W^T + b)``.

The eager module rounds the linear's output to x's dtype before the GELU and rounds again after it; the
fused form (cuBLASLt's GELU epilogue) applies the GELU to the fp32 accumulator and rounds once.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..checks import check_float_dtype


def check_linear_gelu_inputs(x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """Shape, dtype and device checks shared by both impls; raises ValueError naming the tensor."""
    check_float_dtype(x)
    if x.dim() < 1 or weight.dim() != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"x [..., in] and weight [out, in] must agree on in (got x {tuple(x.shape)}, "
            f"weight {tuple(weight.shape)})"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must be [out] = [{weight.shape[0]}] (got {tuple(bias.shape)})")
    tensors = [x, weight] + ([bias] if bias is not None else [])
    if len({t.dtype for t in tensors}) != 1 or len({t.device for t in tensors}) != 1:
        raise ValueError(
            "x, weight and bias must share one dtype and device (got "
            + ", ".join(f"{t.dtype} on {t.device}" for t in tensors)
            + ")"
        )


def linear_gelu_reference(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x [..., in], weight [out, in], bias [out] or None, one float dtype. Returns [..., out] in x's dtype."""
    check_linear_gelu_inputs(x, weight, bias)
    return F.gelu(F.linear(x, weight, bias), approximate="tanh")
