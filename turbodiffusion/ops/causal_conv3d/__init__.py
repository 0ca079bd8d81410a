"""The convolution of a causal 3D convolution, its past frames in place (the Wan VAE's): dispatcher over
kernel.py and reference.py."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ...errors import require
from .reference import causal_conv3d_reference, check_causal_conv3d_inputs

__all__ = ["causal_conv3d", "causal_conv3d_reference", "kernel_reads"]


def kernel_reads(x: Tensor) -> bool:
    """Whether the kernel can read x [B, C, T, H, W]: channels-last (``torch.channels_last_3d``: [B, T, H, W, C]
    in memory) with rows of channels a multiple of 16 bytes at a 16-byte aligned address, as its
    tensor-memory-accelerator loads need."""
    return (
        x.dim() == 5
        and x.is_contiguous(memory_format=torch.channels_last_3d)
        and (x.shape[1] * x.element_size()) % 16 == 0
        and x.data_ptr() % 16 == 0
    )


def causal_conv3d(
    x: Tensor, weight: Tensor, bias: Tensor | None, *, impl: Literal["auto", "triton", "reference"] = "auto"
) -> Tensor:
    """conv3d(x, weight, bias) with stride 1 and padding (0, KH // 2, KW // 2) (reference.py).

    x: [B, C_in, T, H, W] fp32/bf16/fp16; weight: [C_out, C_in, KT, KH, KW]; bias: [C_out] or None. Returns
    [B, C_out, T - KT + 1, H, W] in x's dtype. impl: "auto" = the Triton kernel on CUDA where it reads x
    (``kernel_reads``), else the reference; "triton" raises ValueError where it does not.
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_causal_conv3d_inputs(x, weight, bias)
    if impl == "auto" and not (x.is_cuda and kernel_reads(x)):
        impl = "reference"
    if impl == "reference":
        return causal_conv3d_reference(x, weight, bias)
    require("triton", "kernels", "the Triton causal 3D convolution")
    from .kernel import causal_conv3d_triton

    return causal_conv3d_triton(x, weight, bias)
