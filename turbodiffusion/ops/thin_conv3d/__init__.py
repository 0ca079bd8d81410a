"""3D convolution with few output channels (the Wan VAE decoder's last, 96 -> 3): dispatcher over kernel.py and
reference.py."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ...errors import require
from .reference import MAX_OUT_CHANNELS, check_thin_conv3d_inputs, thin_conv3d_reference

__all__ = ["MAX_OUT_CHANNELS", "thin_conv3d", "thin_conv3d_reference"]


def thin_conv3d(
    x: Tensor, weight: Tensor, bias: Tensor | None, *, impl: Literal["auto", "triton", "reference"] = "auto"
) -> Tensor:
    """conv3d(x, weight, bias) with stride 1 and padding (0, KH // 2, KW // 2) (reference.py), for C_out <= 16.

    x: [B, C_in, T, H, W] fp32/bf16/fp16; weight: [C_out, C_in, KT, KH, KW]; bias: [C_out] or None. Returns
    [B, C_out, T - KT + 1, H, W] in x's dtype. impl: "auto" = the Triton kernel on CUDA for channels-last x
    (``torch.channels_last_3d``), else the reference; "triton" raises ValueError for other layouts.
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_thin_conv3d_inputs(x, weight, bias)
    channels_last = x.is_contiguous(memory_format=torch.channels_last_3d)
    if impl == "auto" and not (x.is_cuda and channels_last):
        impl = "reference"
    if impl == "reference":
        return thin_conv3d_reference(x, weight, bias)
    require("triton", "kernels", "the Triton thin 3D convolution")
    from .kernel import thin_conv3d_triton

    return thin_conv3d_triton(x, weight, bias)
