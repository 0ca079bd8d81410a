"""Sage-style dense low-bit attention: INT8 Q.K^T with K smoothing, FP8 P.V (shared/docs/attention.md §4).

``pv="auto"`` picks FP8 (e4m3) P.V on GPUs that have it (compute capability 8.9 and up) and the 16-bit
P.V of SageAttention1 elsewhere, logging one WARNING; on the CPU the reference emulates FP8 exactly.
Forward only: there is no backward, so use ``sla`` or ``sdpa`` for training.
"""

from __future__ import annotations

import os
from typing import Literal

import torch
from torch import Tensor, nn

from ...kernel_device import has_fp8
from ..degraded import WarnsOnDegradedPath
from ..sdpa import check_qkv
from ..sla import HEAD_DIMS, resolve_impl
from .reference import PV, V_RANGE_FULL, V_RANGE_OFFICIAL, sage_attention_reference

Impl = Literal["auto", "triton", "reference"]
PVChoice = Literal["auto", "fp8", "half"]
DEFAULT_BLOCKS = (128, 64)  # (BLKQ, BLKK): SageAttention1's per-block granularity (attention.md §4)
SAGE_DTYPES = (torch.float16, torch.bfloat16)

__all__ = [
    "V_RANGE_FULL",
    "V_RANGE_OFFICIAL",
    "SageAttention",
    "check_sage_args",
    "resolve_pv",
    "sage_attention",
    "sage_attention_reference",
]


def resolve_pv(pv: PVChoice, device: torch.device) -> PV:
    """ "auto" -> "fp8" where the device has FP8 products (and on the CPU, where it is emulated), else "half"."""
    if pv != "auto":
        return pv
    return "fp8" if device.type != "cuda" or has_fp8(device) else "half"


def check_sage_args(
    q: Tensor, k: Tensor, v: Tensor, block_q: int, block_k: int, pv: str, v_range: float
) -> None:
    """Validate Sage/SageSLA inputs; raises ValueError stating the rule and the received value."""
    check_qkv(q, k, v)
    if q.shape != k.shape:
        raise ValueError(
            f"Sage attention is self-attention: q {tuple(q.shape)} and k {tuple(k.shape)} must match"
        )
    if q.dtype not in SAGE_DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        raise ValueError(f"Sage attention takes bf16 or fp16 q, k, v (got {q.dtype}, {k.dtype}, {v.dtype})")
    if q.shape[-1] not in HEAD_DIMS:
        raise ValueError(
            f"Sage attention needs head dim D in {HEAD_DIMS} (got {q.shape[-1]}); use backend 'sdpa'"
        )
    for name, blk in (("block_q", block_q), ("block_k", block_k)):
        if blk not in (16, 32, 64, 128):
            raise ValueError(f"{name} must be 16, 32, 64 or 128 (got {blk})")
    if pv not in ("auto", "fp8", "half"):
        raise ValueError(f'pv must be "auto", "fp8" or "half" (got {pv!r})')
    if not v_range > 0:
        raise ValueError(
            f"v_range must be > 0 (got {v_range}); use {V_RANGE_OFFICIAL} (official) or {V_RANGE_FULL}"
        )
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        raise ValueError(
            "Sage attention has no backward (got inputs that require grad); run it under torch.no_grad() "
            "or use backend 'sla' / 'sdpa' for training"
        )


def dense_tile_k(device: torch.device, block_k: int) -> int:
    """Key tile of the dense kernel: 128 on GPUs, the K block elsewhere (and under the interpreter).

    On an H100 (issue 8) 128-key tiles ran 12.1 ms vs 16.7 ms with 64 at L=32760, H=12. The tile is chosen
    here, not autotuned, because the e4m3 rounding of P~ depends on it; the reference takes the same one.
    """
    interpreted = os.environ.get("TRITON_INTERPRET") == "1"
    return 128 if device.type == "cuda" and not interpreted else block_k


def sage_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    block_q: int = DEFAULT_BLOCKS[0],
    block_k: int = DEFAULT_BLOCKS[1],
    pv: PVChoice = "auto",
    v_range: float = V_RANGE_FULL,
    impl: Impl = "auto",
) -> Tensor:
    """Dense Sage-style attention (INT8 Q.K^T, FP8 or 16-bit P.V).

    q, k, v: [B, L, H, D] bf16 or fp16, D in {64, 128}, any L. Q is quantised per ``block_q`` tokens, K
    (minus its per-channel mean) per ``block_k`` tokens; ``v_range`` is the per-channel V range in e4m3
    (448: all of it, best with fp32 accumulation; 2.25: the official SageAttention2++ numerics).
    Returns o [B, L, H, D] in q's dtype.
    """
    check_sage_args(q, k, v, block_q, block_k, pv, v_range)
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    mode = resolve_pv(pv, q.device)
    tile = dense_tile_k(q.device, block_k)
    if resolve_impl(impl, q.device) == "reference":
        return sage_attention_reference(
            q, k, v, block_q=block_q, block_k=block_k, tile_k=tile, pv=mode, v_range=v_range
        )
    from .kernel import sage_forward_triton

    return sage_forward_triton(
        q, k, v, block_q=block_q, block_k=block_k, tile_k=tile, pv=mode, v_range=v_range
    )


class SageAttention(WarnsOnDegradedPath, nn.Module):
    """Backend module for ``sage``: forward(q, k, v) with [B, L, H, D] -> o [B, L, H, D]; no parameters."""

    def __init__(
        self,
        head_dim: int,
        *,
        block_q: int | None = None,
        block_k: int | None = None,
        pv: PVChoice = "auto",
        v_range: float = V_RANGE_FULL,
        impl: Impl = "auto",
    ) -> None:
        super().__init__()
        if head_dim not in HEAD_DIMS:
            raise ValueError(
                f"Sage attention needs head_dim in {HEAD_DIMS} (got {head_dim}); use backend 'sdpa'"
            )
        self.block_q = DEFAULT_BLOCKS[0] if block_q is None else block_q
        self.block_k = DEFAULT_BLOCKS[1] if block_k is None else block_k
        self.pv: PVChoice = pv
        self.v_range = v_range
        self.impl: Impl = impl

    def degraded_reason(self, device: torch.device) -> str | None:
        if self.impl == "auto" and device.type != "cuda":
            name = type(self).__name__
            return f"{name} on {device} runs the plain-PyTorch reference (slow), not the Triton kernel"
        if self.pv == "auto" and device.type == "cuda" and not has_fp8(device):
            name = type(self).__name__
            return f"{name}: this GPU has no FP8 products; P.V runs in 16 bits (SageAttention1 style)"
        return None

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        self.warn_degraded(q.device)
        return sage_attention(
            q,
            k,
            v,
            block_q=self.block_q,
            block_k=self.block_k,
            pv=self.pv,
            v_range=self.v_range,
            impl=self.impl,
        )

    def extra_repr(self) -> str:
        return f"block_q={self.block_q}, block_k={self.block_k}, pv={self.pv!r}, v_range={self.v_range}, impl={self.impl!r}"
