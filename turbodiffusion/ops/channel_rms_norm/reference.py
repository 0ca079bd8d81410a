"""RMSNorm over the channel dim of an image or video tensor, optionally followed by SiLU: the specification.

    y = x / max(||x||_2 over C, 1e-12) * sqrt(C) * gamma        # the Wan VAE's RMSNorm (models.md §5)
    y = silu(y)                                                  # when silu=True (every VAE norm is
                                                                 # followed by SiLU except the attention's)

fp32 statistics and products, one cast back at the end. The VAE's eager module computes in x's dtype as
the official code does; this op is its fused, more accurate form (WanVAE.enable_fused_ops).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..checks import check_float_dtype, check_out_like

NORM_EPS = 1e-12  # F.normalize's default floor on the norm


def check_channel_rms_norm_inputs(x: Tensor, gamma: Tensor, out: Tensor | None = None) -> None:
    """Shape, dtype and device checks shared by both impls; raises ValueError naming the tensor."""
    if x.dim() < 2 or x.shape[1] == 0:
        raise ValueError(f"x must be [B, C, ...] with C > 0 (got shape {tuple(x.shape)})")
    check_float_dtype(x)
    if gamma.numel() != x.shape[1] or any(s != 1 for s in gamma.shape[1:]) or gamma.shape[0] != x.shape[1]:
        raise ValueError(f"gamma must be [C, 1, ...] or [C] with C = {x.shape[1]} (got {list(gamma.shape)})")
    if gamma.device != x.device:
        raise ValueError(f"x and gamma must be on one device (got {x.device} and {gamma.device})")
    check_out_like(out, x)


def channels_last_rows(x: Tensor) -> Tensor | None:
    """The [positions, C] view of a channels-last [B, C, ...] tensor (channels contiguous), else None:
    the matrix the kernel reads and writes row by row."""
    moved = x.movedim(1, -1)
    if not moved.is_contiguous():
        return None
    return moved.view(-1, x.shape[1])


def channel_rms_norm_reference(x: Tensor, gamma: Tensor, silu: bool = False) -> Tensor:
    """x: [B, C, ...] fp32/bf16/fp16, any layout; gamma: [C] or [C, 1, ...] any float dtype.
    Returns [B, C, ...] in x's dtype and x's memory layout."""
    check_channel_rms_norm_inputs(x, gamma)
    c = x.shape[1]
    g = gamma.float().reshape(c, *([1] * (x.dim() - 2)))
    y = F.normalize(x.float(), dim=1, eps=NORM_EPS) * (c**0.5) * g
    return (F.silu(y) if silu else y).to(x.dtype)
