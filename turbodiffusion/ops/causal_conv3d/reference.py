"""The convolution of a causal 3D convolution once its past frames are in place: the specification.

    y = conv3d(x, weight, bias, stride 1, padding (0, KH // 2, KW // 2))

No temporal padding: the Wan VAE's causal convolutions hand over their input with the past frames already
in front (vae_blocks.CausalConv3d), so T_out = T - KT + 1. The spatial padding is zeros, the same on both
sides. Computed in x's dtype, as the convolution it stands for (cuDNN accumulates in fp32).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ..checks import check_float_dtype


def check_causal_conv3d_inputs(x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """Shape, dtype and device checks shared by both impls; raises ValueError naming the tensor."""
    if x.dim() != 5:
        raise ValueError(f"x must be [B, C_in, T, H, W] (got shape {tuple(x.shape)})")
    check_float_dtype(x)
    if weight.dim() != 5 or weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight must be [C_out, C_in, KT, KH, KW] with C_in = {x.shape[1]} (got {tuple(weight.shape)})"
        )
    c_out, _, kt, kh, kw = weight.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"the spatial kernel must be odd, padded by half on each side (got {kh} x {kw})")
    if x.shape[2] < kt:
        raise ValueError(f"x has {x.shape[2]} frames, fewer than the kernel's {kt} (its context included)")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"bias must be [C_out] = [{c_out}] (got {tuple(bias.shape)})")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.device != x.device:
            raise ValueError(f"x and {name} must be on one device (got {x.device} and {t.device})")


def causal_conv3d_reference(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x: [B, C_in, T, H, W]; weight: [C_out, C_in, KT, KH, KW] (KH and KW odd); bias: [C_out] or None. Returns
    [B, C_out, T - KT + 1, H, W] in x's dtype (and x's memory layout, as F.conv3d keeps it)."""
    check_causal_conv3d_inputs(x, weight, bias)
    kh, kw = weight.shape[3:]
    w = weight.to(x.dtype)
    return F.conv3d(x, w, None if bias is None else bias.to(x.dtype), padding=(0, kh // 2, kw // 2))
