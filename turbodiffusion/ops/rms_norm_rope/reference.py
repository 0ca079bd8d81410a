"""RMSNorm over the full width followed by 3D RoPE per head, the specification of the fused kernel.

Wan's self-attention normalises q and k over the whole model width (before the head split), then rotates
each head's interleaved channel pairs by the token's RoPE angles (models.md §1 step 4):

    y = x * rsqrt(mean(x^2) + eps) * weight                       # [B, L, dim], fp32
    (a, b) = (y[..., 2i], y[..., 2i+1]) per head, i < D/2
    out = (a cos - b sin, a sin + b cos)                          # fp32, one cast to x's dtype at the end

The plain model path rounds to x's dtype between the two steps; the fused op rounds once, like the other
fused ops (one rounding fewer, no less accurate against fp32).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..rms_norm.reference import check_rms_norm_inputs


def check_rms_norm_rope_inputs(x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, num_heads: int) -> None:
    """Shape, dtype and device checks shared by both impls; raises ValueError naming the tensor."""
    if x.dim() != 3:
        raise ValueError(f"x must be [B, L, dim] (got shape {tuple(x.shape)})")
    check_rms_norm_inputs(x, weight, None)
    dim = x.shape[-1]
    if not isinstance(num_heads, int) or num_heads < 1 or dim % num_heads or (dim // num_heads) % 2:
        raise ValueError(
            f"num_heads must divide dim={dim} into heads of even size (got num_heads={num_heads!r})"
        )
    expected = (x.shape[1], dim // num_heads // 2)
    for name, t in (("cos", cos), ("sin", sin)):
        if tuple(t.shape) != expected:
            raise ValueError(f"{name} must be [L, D/2] = {list(expected)} (got {list(t.shape)})")
        if t.device != x.device:
            raise ValueError(f"{name} must be on x's device {x.device} (got {t.device})")


def rms_norm_rope_reference(
    x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, num_heads: int, eps: float = 1e-6
) -> Tensor:
    """x: [B, L, dim] fp32/bf16/fp16; weight: [dim]; cos, sin: [L, D/2] (D = dim / num_heads), any float
    dtype. Returns [B, L, num_heads, D] in x's dtype."""
    check_rms_norm_rope_inputs(x, weight, cos, sin, num_heads)
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps) * weight.float()
    a, b = y.unflatten(-1, (num_heads, -1, 2)).unbind(-1)  # each [B, L, H, D/2]
    c, s = cos.float()[:, None, :], sin.float()[:, None, :]
    return torch.stack((a * c - b * s, a * s + b * c), dim=-1).flatten(-2).to(x.dtype)
