"""SageSLA: SLA's block selection and linear branch with the sparse branch in Sage-style low precision
(INT8 Q.K^T, FP8 P.V; shared/docs/attention.md §5). Forward only, the default for inference.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ..sage import PVChoice, SageAttention, check_sage_args, resolve_pv
from ..sage.reference import V_RANGE_FULL, V_RANGE_OFFICIAL, sage_attention_reference
from ..sla import HEAD_DIMS, SLALinearBranch, resolve_impl
from ..sla.block_map import BlockSelection, select_blocks
from ..sla.reference import LINEAR_EPS, linear_branch_reference

Impl = Literal["auto", "triton", "reference"]
BLOCKS_SM90 = (64, 128)  # (BLKQ, BLKK) of the official sm90 kernel
BLOCKS_OTHER = (128, 64)  # (BLKQ, BLKK) everywhere else

__all__ = ["SageSLAAttention", "V_RANGE_FULL", "V_RANGE_OFFICIAL", "default_blocks", "sagesla_attention"]


def default_blocks(device: torch.device) -> tuple[int, int]:
    """(BLKQ, BLKK) the official code uses on this device: (64, 128) on sm90, (128, 64) elsewhere."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device)[0] == 9:
        return BLOCKS_SM90
    return BLOCKS_OTHER


def sagesla_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    proj_l: nn.Linear,
    *,
    topk: float,
    block_q: int | None = None,
    block_k: int | None = None,
    pv: PVChoice = "auto",
    v_range: float = V_RANGE_OFFICIAL,
    impl: Impl = "auto",
    selection: BlockSelection | None = None,
) -> Tensor:
    """SageSLA: o = sage_sparse(q, k, v over the selected blocks) + proj_l(linear(q, k, v)).

    q, k, v: [B, L, H, D] bf16 or fp16, D in {64, 128}, any L. Block sizes default to the device's
    official ones (``default_blocks``); Q is quantised per query block, K per key block. ``v_range``
    defaults to the official 2.25. Returns o [B, L, H, D] in q's dtype.
    """
    check_sage_args(q, k, v, block_q or 16, block_k or 16, pv, v_range)
    if not 0.0 < topk <= 1.0:
        raise ValueError(f"topk must be in (0, 1] (got {topk}); 0.1 is the default")
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    bq, bk = default_blocks(q.device)
    block_q, block_k = block_q or bq, block_k or bk
    mode = resolve_pv(pv, q.device)
    if resolve_impl(impl, q.device) == "reference":
        if selection is None:
            selection = select_blocks(q, k, block_q, block_k, topk)
        o_s = sage_attention_reference(
            q, k, v, block_q=block_q, block_k=block_k, lut=selection.lut, pv=mode, v_range=v_range,
            out_dtype=torch.float32,
        )  # fmt: skip
        qf, kf, vf = (t.transpose(1, 2).float() for t in (q, k, v))
        o_l = linear_branch_reference(qf, kf, vf, LINEAR_EPS).transpose(1, 2)
        return (o_s + proj_l(o_l.to(proj_l.weight.dtype)).float()).to(q.dtype)
    from .kernel import sagesla_forward_triton

    return sagesla_forward_triton(
        q, k, v, proj_l.weight, proj_l.bias, topk=topk, block_q=block_q, block_k=block_k, pv=mode,
        v_range=v_range, eps=LINEAR_EPS, selection=selection,
    )  # fmt: skip


class SageSLAAttention(SageAttention):
    """Backend module for ``sagesla``: forward(q, k, v) [B, L, H, D] -> o; owns ``local_attn.proj_l``."""

    def __init__(
        self,
        head_dim: int,
        *,
        topk: float,
        block_q: int | None = None,
        block_k: int | None = None,
        pv: PVChoice = "auto",
        v_range: float = V_RANGE_OFFICIAL,
        impl: Impl = "auto",
    ) -> None:
        if head_dim not in HEAD_DIMS:
            raise ValueError(f"SageSLA needs head_dim in {HEAD_DIMS} (got {head_dim}); use backend 'sdpa'")
        if not 0.0 < topk <= 1.0:
            raise ValueError(f"topk must be in (0, 1] (got {topk}); 0.1 is the default")
        super().__init__(head_dim, pv=pv, v_range=v_range, impl=impl)
        # None = the device's official blocks, resolved per call since the device comes with the inputs.
        self.block_q, self.block_k = block_q, block_k
        self.topk = topk
        self.local_attn = SLALinearBranch(head_dim)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        self.warn_degraded(q.device)
        return sagesla_attention(
            q, k, v, self.local_attn.proj_l, topk=self.topk, block_q=self.block_q, block_k=self.block_k,
            pv=self.pv, v_range=self.v_range, impl=self.impl,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"topk={self.topk}, {super().extra_repr()}"
