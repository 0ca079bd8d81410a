"""RMSNorm over the full last dim, the specification (quantization.md §6, models.md §1 step 4).

    y = x * rsqrt(mean(x^2) + eps) * weight        # fp32 statistics and products, one cast at the end

Used for Wan's q/k norms, which act on the whole model width before the head split (eps 1e-6). The
weight is applied in fp32 before the single cast back, as TurboDiffusion's fused norm does; the official
Wan module casts first and then multiplies (one more rounding in bf16).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_float_dtype, check_out_like


def check_rms_norm_inputs(x: Tensor, weight: Tensor, out: Tensor | None) -> None:
    """Shape, dtype and device checks shared by both impls; raises ValueError naming the tensor."""
    if x.dim() < 1 or x.shape[-1] == 0:
        raise ValueError(f"x must be [..., dim] with dim > 0 (got shape {tuple(x.shape)})")
    check_float_dtype(x)
    if tuple(weight.shape) != (x.shape[-1],):
        raise ValueError(f"weight must be [dim] = [{x.shape[-1]}] (got {list(weight.shape)})")
    if weight.device != x.device:
        raise ValueError(f"x and weight must be on one device (got {x.device} and {weight.device})")
    check_out_like(out, x)


def rms_norm_reference(x: Tensor, weight: Tensor, eps: float = 1e-6) -> Tensor:
    """x: [..., dim] fp32/bf16/fp16; weight: [dim] any float dtype. Returns [..., dim] in x's dtype."""
    check_rms_norm_inputs(x, weight, None)
    xf = x.float()  # fp32 statistics on purpose: bf16 squares lose the mean over thousands of channels
    y = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps) * weight.float()
    return y.to(x.dtype)
