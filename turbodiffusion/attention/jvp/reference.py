"""Reference (the spec) of dense attention and its forward-mode derivative, plain PyTorch.

shared/docs/sampling-and-training.md §4 ("What needs a JVP-capable attention"): with
``P = softmax(Q Kᵀ/√D)`` and ``dS = (dQ Kᵀ + Q dKᵀ)/√D`` the tangent of ``O = P V`` is

    dO_i = Σ_j P_ij dS_ij V_j − (Σ_j P_ij dS_ij) O_i + Σ_j P_ij dV_j

It materialises the [B, H, Lq, Lk] probabilities: fine for tests and short sequences; ``kernel.py``
computes the same in one FlashAttention-style pass.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..sdpa import check_qkv


def _up(t: Tensor) -> Tensor:
    """fp32 for half types, float64 kept (finite-difference checks run in float64)."""
    return t if t.dtype == torch.float64 else t.float()


def attention_reference(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Dense softmax attention in fp32 (the spec of this module's op).

    q: [B, Lq, H, D]; k, v: [B, Lk, H, D], any float dtype (fp32 inside, float64 kept).
    Returns o: [B, Lq, H, D] in q's dtype.
    """
    check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1])
    # fp32 on purpose: the tangent subtracts two nearly equal terms, which bf16 would swamp.
    s = torch.einsum("bqhd,bkhd->bhqk", _up(q), _up(k)) * scale
    p = torch.softmax(s, dim=-1)
    return torch.einsum("bhqk,bkhd->bqhd", p, _up(v)).to(q.dtype)


def attention_jvp_reference(
    q: Tensor, k: Tensor, v: Tensor, dq: Tensor, dk: Tensor, dv: Tensor
) -> tuple[Tensor, Tensor]:
    """Attention output and its tangent along (dq, dk, dv), by the closed form above, fp32 inside.

    q, dq: [B, Lq, H, D]; k, v, dk, dv: [B, Lk, H, D]. Returns (o, do), both [B, Lq, H, D] in q's dtype.
    Raises ValueError when a tangent's shape differs from its primal's.
    """
    check_qkv(q, k, v)
    for name, t, p in (("dq", dq, q), ("dk", dk, k), ("dv", dv, v)):
        if t.shape != p.shape:
            raise ValueError(
                f"tangent {name} must have its primal's shape {tuple(p.shape)} (got {tuple(t.shape)})"
            )
    scale = 1.0 / math.sqrt(q.shape[-1])
    qf, kf, vf = _up(q), _up(k), _up(v)
    p = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", qf, kf) * scale, dim=-1)
    o = torch.einsum("bhqk,bkhd->bhqd", p, vf)
    ds = (torch.einsum("bqhd,bkhd->bhqk", _up(dq), kf) + torch.einsum("bqhd,bkhd->bhqk", qf, _up(dk))) * scale
    pds = p * ds
    do = (
        torch.einsum("bhqk,bkhd->bhqd", pds, vf)
        - pds.sum(-1, keepdim=True) * o
        + torch.einsum("bhqk,bkhd->bhqd", p, _up(dv))
    )
    return o.transpose(1, 2).to(q.dtype), do.transpose(1, 2).to(q.dtype)


__all__ = ["attention_jvp_reference", "attention_reference"]
