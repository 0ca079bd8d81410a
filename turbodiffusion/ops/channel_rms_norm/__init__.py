"""Channel RMSNorm (+ SiLU) of the Wan VAE: dispatcher over kernel.py and reference.py."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from ...errors import require
from .reference import channel_rms_norm_reference, channels_last_rows, check_channel_rms_norm_inputs

__all__ = ["channel_rms_norm", "channel_rms_norm_reference"]


def channel_rms_norm(
    x: Tensor,
    gamma: Tensor,
    *,
    silu: bool = False,
    out: Tensor | None = None,
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> Tensor:
    """y = [silu](x / max(||x|| over C, 1e-12) * sqrt(C) * gamma) in fp32, returned in x's dtype and layout.

    x: [B, C, ...] fp32/bf16/fp16; gamma: [C] or [C, 1, ...]; out: optional buffer shaped and typed like x
    (a view into a larger tensor is fine: the VAE writes a chunk behind its causal context this way),
    channels contiguous for the kernel. impl: "auto" = Triton on CUDA when x and out are channels-last
    (channels contiguous), else the reference; "triton" raises ValueError for other layouts.
    Returns out (or a new tensor).
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_channel_rms_norm_inputs(x, gamma, out)
    rows_ok = channels_last_rows(x) is not None and (out is None or channels_last_rows(out) is not None)
    if impl == "auto" and not (x.is_cuda and rows_ok):
        impl = "reference"
    if impl == "reference":
        y = channel_rms_norm_reference(x, gamma, silu)
        return y if out is None else out.copy_(y)
    require("triton", "kernels", "the Triton channel RMSNorm")
    from .kernel import channel_rms_norm_triton

    return channel_rms_norm_triton(x, gamma, silu, out=out)
