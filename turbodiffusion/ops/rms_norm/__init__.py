"""RMSNorm over the full last dim (Wan's q/k norms): dispatcher over kernel.py and reference.py."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from ...errors import require
from .reference import check_rms_norm_inputs, rms_norm_reference

__all__ = ["rms_norm", "rms_norm_reference"]


def rms_norm(
    x: Tensor,
    weight: Tensor,
    eps: float = 1e-6,
    *,
    out: Tensor | None = None,
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> Tensor:
    """y = x * rsqrt(mean(x^2) + eps) * weight in fp32, returned in x's dtype.

    x: [..., dim] fp32/bf16/fp16; weight: [dim] (any float dtype, used in fp32); out: optional [..., dim]
    buffer in x's dtype. impl: "auto" = Triton on CUDA, reference on CPU.
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_rms_norm_inputs(x, weight, out)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        y = rms_norm_reference(x, weight, eps)
        return y if out is None else out.copy_(y)
    require("triton", "kernels", "the Triton RMSNorm")
    from .kernel import rms_norm_triton

    return rms_norm_triton(x, weight, eps, out=out)
