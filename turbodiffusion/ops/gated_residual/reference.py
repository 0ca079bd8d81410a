"""Gated residual add, the specification (models.md §1 step 4: ``x = x + f(h) * gate``).

    out = x + y * gate          # computed in fp32, one cast to x's dtype at the end

TurboDiffusion's eager code casts the fp32 gate to bf16 first and rounds the product and the sum in bf16
(three roundings); the official Wan code promotes the residual stream to fp32. We keep the stream in x's
dtype, like TurboDiffusion, and round once.
"""

from __future__ import annotations

from torch import Tensor

from ..checks import check_float_dtype, check_out_like


def check_gated_residual_inputs(x: Tensor, y: Tensor, gate: Tensor, out: Tensor | None) -> None:
    """Shape, dtype and device checks shared by both impls; raises ValueError naming the tensor."""
    if x.dim() != 3 or x.shape[-1] == 0:
        raise ValueError(f"x must be [B, L, dim] with dim > 0 (got shape {tuple(x.shape)})")
    check_float_dtype(x)
    if y.shape != x.shape:
        raise ValueError(f"y must have x's shape {list(x.shape)} (got {list(y.shape)})")
    b, length, d = x.shape
    if gate.dim() != 3 or gate.shape[0] != b or gate.shape[1] not in (1, length) or gate.shape[2] != d:
        raise ValueError(
            f"gate must be [B, 1, dim] or [B, L, dim] = [{b}, 1|{length}, {d}] (got {list(gate.shape)})"
        )
    if not (x.device == y.device == gate.device):
        raise ValueError(f"x, y, gate must be on one device (got {x.device}, {y.device}, {gate.device})")
    check_out_like(out, x)


def gated_residual_reference(x: Tensor, y: Tensor, gate: Tensor) -> Tensor:
    """x, y: [B, L, dim] (y any float dtype); gate: [B, 1, dim] or [B, L, dim]. Returns x's dtype."""
    check_gated_residual_inputs(x, y, gate, None)
    return (x.float() + y.float() * gate.float()).to(x.dtype)
