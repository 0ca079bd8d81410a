"""SageSLA forward in Triton: SLA's block map, the Sage kernel over the selected key blocks (INT8 Q.K^T,
FP8 P.V), and SLA's linear branch + proj_l fused into its epilogue (shared/docs/attention.md §5).

The kernel itself is ``sage/kernel.py``'s ``_sage_fwd_kernel`` with SPARSE and LINEAR set; this module is
the launcher. FLOPs: as SLA's forward (sparse part half int8, half fp8); no backward.
"""

from __future__ import annotations

from torch import Tensor

from ..sage.kernel import sage_forward_triton
from ..sage.reference import PV


def sagesla_forward_triton(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    lut: Tensor,
    weight: Tensor,
    bias: Tensor,
    *,
    block_q: int,
    block_k: int,
    pv: PV,
    v_range: float,
    eps: float,
) -> Tensor:
    """q, k, v: [B, L, H, D] bf16/fp16; lut [B, H, ceil(L / block_q), topk] ascending key-block indices;
    weight [D, D], bias [D]: proj_l. Returns o [B, L, H, D] in q's dtype.
    """
    return sage_forward_triton(
        q,
        k,
        v,
        block_q=block_q,
        block_k=block_k,
        pv=pv,
        v_range=v_range,
        lut=lut,
        proj=(weight, bias),
        eps=eps,
    )
