"""Input checks every fused op shares (raising ValueError with the same words from each op)."""

from __future__ import annotations

import torch
from torch import Tensor

FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def check_float_dtype(x: Tensor) -> None:
    """x must be float32, bfloat16 or float16: the dtypes the kernels compute from."""
    if x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"x must be float32, bfloat16 or float16 (got {x.dtype})")


def check_out_like(out: Tensor | None, x: Tensor) -> None:
    """An ``out=`` buffer, when given, must have x's shape, dtype and device."""
    if out is not None and (out.shape != x.shape or out.dtype != x.dtype or out.device != x.device):
        raise ValueError(
            f"out must match x: shape {tuple(x.shape)}, {x.dtype} on {x.device} "
            f"(got {tuple(out.shape)}, {out.dtype} on {out.device})"
        )
