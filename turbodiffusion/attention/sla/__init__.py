"""Sparse-Linear Attention (SLA): block top-k sparse softmax attention plus a linear branch through a
learned ``proj_l`` (shared/docs/attention.md §2). Dispatch between the Triton kernels and the reference.

``impl="auto"`` runs the Triton kernels on CUDA and the reference on the CPU; ``"triton"`` on the CPU needs
TRITON_INTERPRET=1; ``"reference"`` runs the plain-PyTorch specification anywhere. Both are trainable:
gradients reach q, k, v and proj_l (never the block selection).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ...errors import require
from ..degraded import WarnsOnDegradedPath
from ..sdpa import check_qkv
from .block_map import BlockSelection, select_blocks, topk_count
from .reference import LINEAR_EPS, sla_reference

Impl = Literal["auto", "triton", "reference"]
HEAD_DIMS = (64, 128)
BLOCK_SIZES = (16, 32, 64, 128)
DEFAULT_BLOCKS = (128, 64)  # (BLKQ, BLKK) of the official `--attention_type sla` inference path

__all__ = [
    "BlockSelection",
    "SLAAttention",
    "SLALinearBranch",
    "select_blocks",
    "sla_attention",
    "sla_reference",
    "topk_count",
]


def check_sla_args(
    q: Tensor, k: Tensor, v: Tensor, topk: float, block_q: int, block_k: int, impl: str
) -> None:
    """Validate what every SLA path needs; raises ValueError stating the rule and the received value."""
    check_qkv(q, k, v)
    if q.shape != k.shape:
        raise ValueError(
            f"SLA is self-attention: q {tuple(q.shape)} and k {tuple(k.shape)} must have one shape"
        )
    if q.dtype != k.dtype or k.dtype != v.dtype:
        raise ValueError(f"q, k, v must share one dtype (got {q.dtype}, {k.dtype}, {v.dtype})")
    if not q.dtype.is_floating_point:
        raise ValueError(f"q, k, v must be floating point (got {q.dtype}); use bf16, fp16 or fp32")
    if q.shape[-1] not in HEAD_DIMS:
        raise ValueError(f"SLA needs head dim D in {HEAD_DIMS} (got {q.shape[-1]}); use backend 'sdpa'")
    if not 0.0 < topk <= 1.0:
        raise ValueError(f"topk must be in (0, 1] (got {topk}); 0.1 is the default")
    if block_q not in BLOCK_SIZES or block_k not in BLOCK_SIZES:
        raise ValueError(f"block_q and block_k must be in {BLOCK_SIZES} (got {block_q}, {block_k})")
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')


def resolve_impl(impl: Impl, device: torch.device) -> Literal["triton", "reference"]:
    """ "auto" -> "triton" on CUDA, "reference" elsewhere; "triton" needs the triton package."""
    chosen = ("triton" if device.type == "cuda" else "reference") if impl == "auto" else impl
    if chosen == "triton":
        require("triton", "kernels", "the SLA/Sage Triton kernels")
    return chosen


class _SLAFunction(torch.autograd.Function):
    """Triton SLA forward/backward; gradients for q, k, v, proj_l.weight and proj_l.bias."""

    @staticmethod
    def forward(ctx, q, k, v, weight, bias, lut, block_map, block_q, block_k):
        from .kernel_fwd import sla_forward_triton

        train = any(ctx.needs_input_grad[:5])
        o, saved = sla_forward_triton(
            q,
            k,
            v,
            lut,
            weight,
            bias,
            block_q=block_q,
            block_k=block_k,
            eps=LINEAR_EPS,
            save_for_backward=train,
        )
        if train:
            ctx.saved = saved
            ctx.blocks = (block_q, block_k)
            ctx.save_for_backward(q, k, v, weight, lut, block_map)
        return o

    @staticmethod
    def backward(ctx, do):
        from .kernel_bwd import sla_backward_triton

        q, k, v, weight, lut, block_map = ctx.saved_tensors
        block_q, block_k = ctx.blocks
        dq, dk, dv, dw, db = sla_backward_triton(
            do, q, k, v, lut, block_map, weight, ctx.saved, block_q=block_q, block_k=block_k
        )
        ctx.saved = None
        return dq, dk, dv, dw.to(weight.dtype), db.to(weight.dtype), None, None, None, None


def sla_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    proj_l: nn.Linear,
    *,
    topk: float,
    block_q: int = DEFAULT_BLOCKS[0],
    block_k: int = DEFAULT_BLOCKS[1],
    impl: Impl = "auto",
    selection: BlockSelection | None = None,
) -> Tensor:
    """Sparse-linear attention (shared/docs/attention.md §2).

    q, k, v: [B, L, H, D] in one float dtype (bf16, fp16 or fp32), D in {64, 128}, any L; the kernels also
    need a contiguous last dim. proj_l: nn.Linear(D, D). Returns o [B, L, H, D] in q's dtype. The block
    selection runs in the input dtype; the kernels then compute in it too (fp32 accumulation), while the
    reference computes in fp32. ``selection`` reuses a precomputed block map (from ``select_blocks``).
    Raises ValueError on unsupported inputs (D, dtypes, shapes, topk outside (0, 1]).
    """
    check_sla_args(q, k, v, topk, block_q, block_k, impl)
    if selection is None:
        selection = select_blocks(q, k, block_q, block_k, topk)
    if resolve_impl(impl, q.device) == "reference":
        return sla_reference(
            q, k, v, proj_l.weight, proj_l.bias, topk_ratio=topk, block_q=block_q, block_k=block_k,
            selection=selection,
        )  # fmt: skip
    return _SLAFunction.apply(
        q, k, v, proj_l.weight, proj_l.bias, selection.lut, selection.block_map, block_q, block_k
    )


class SLALinearBranch(nn.Module):
    """Holds SLA's learned projection under the official name ``local_attn.proj_l`` (checkpoint contract).

    proj_l: nn.Linear(D, D) in fp32, zero-initialised (weight and bias), so a freshly inserted SLA layer
    is pure block-sparse attention until fine-tuned.
    """

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        self.proj_l = nn.Linear(head_dim, head_dim, dtype=torch.float32)
        nn.init.zeros_(self.proj_l.weight)
        nn.init.zeros_(self.proj_l.bias)


class SLAAttention(WarnsOnDegradedPath, nn.Module):
    """Backend module for ``sla``: forward(q, k, v) with q, k, v [B, L, H, D] -> o [B, L, H, D]."""

    def __init__(
        self,
        head_dim: int,
        *,
        topk: float,
        block_q: int | None = None,
        block_k: int | None = None,
        impl: Impl = "auto",
    ) -> None:
        super().__init__()
        if head_dim not in HEAD_DIMS:
            raise ValueError(f"SLA needs head_dim in {HEAD_DIMS} (got {head_dim}); use backend 'sdpa'")
        if not 0.0 < topk <= 1.0:
            raise ValueError(f"topk must be in (0, 1] (got {topk}); 0.1 is the default")
        self.topk = topk
        self.block_q = DEFAULT_BLOCKS[0] if block_q is None else block_q
        self.block_k = DEFAULT_BLOCKS[1] if block_k is None else block_k
        self.impl: Impl = impl
        self.local_attn = SLALinearBranch(head_dim)

    def degraded_reason(self, device: torch.device) -> str | None:
        if self.impl == "auto" and device.type != "cuda":
            return f"SLA on {device} runs the plain-PyTorch reference, not the Triton kernels"
        return None

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        self.warn_degraded(q.device)
        return sla_attention(
            q, k, v, self.local_attn.proj_l, topk=self.topk, block_q=self.block_q, block_k=self.block_k,
            impl=self.impl,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"topk={self.topk}, block_q={self.block_q}, block_k={self.block_k}, impl={self.impl!r}"
