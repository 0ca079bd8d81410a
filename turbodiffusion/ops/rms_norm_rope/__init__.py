"""RMSNorm over the full width + per-head RoPE (Wan's q/k path): dispatcher over kernel.py and reference.py."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from ...errors import require
from .reference import check_rms_norm_rope_inputs, rms_norm_rope_reference

__all__ = ["rms_norm_rope", "rms_norm_rope_reference"]


def rms_norm_rope(
    x: Tensor,
    weight: Tensor,
    cos: Tensor,
    sin: Tensor,
    num_heads: int,
    eps: float = 1e-6,
    *,
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> Tensor:
    """RoPE(RMSNorm(x) * weight) per head in fp32, returned in x's dtype as [B, L, num_heads, D].

    x: [B, L, dim] fp32/bf16/fp16; weight: [dim]; cos, sin: [L, D/2] with D = dim / num_heads.
    impl: "auto" = Triton on CUDA, reference on CPU. Inference only (no autograd through the kernel).
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_rms_norm_rope_inputs(x, weight, cos, sin, num_heads)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        return rms_norm_rope_reference(x, weight, cos, sin, num_heads, eps)
    require("triton", "kernels", "the Triton RMSNorm + RoPE")
    from .kernel import rms_norm_rope_triton

    return rms_norm_rope_triton(x, weight, cos, sin, num_heads, eps)
