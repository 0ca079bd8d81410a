"""Gated residual add ``x + y * gate`` (the block's residual updates): dispatcher."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from ...errors import require
from .reference import check_gated_residual_inputs, gated_residual_reference

__all__ = ["gated_residual", "gated_residual_reference"]


def gated_residual(
    x: Tensor,
    y: Tensor,
    gate: Tensor,
    *,
    out: Tensor | None = None,
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> Tensor:
    """out = x + y * gate in fp32, returned in x's dtype.

    x, y: [B, L, dim]; gate: [B, 1, dim] or [B, L, dim] (fp32 in Wan). out: optional [B, L, dim] buffer in
    x's dtype; ``out=x`` updates the residual stream in place. impl: "auto" = Triton on CUDA, reference
    on CPU.
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_gated_residual_inputs(x, y, gate, out)
    if impl == "reference" or (impl == "auto" and not x.is_cuda):
        res = gated_residual_reference(x, y, gate)
        return res if out is None else out.copy_(res)
    require("triton", "kernels", "the Triton gated residual")
    from .kernel import gated_residual_triton

    return gated_residual_triton(x, y, gate, out=out)
