"""SageSLA forward in Triton: SLA's block map, the Sage kernel over the selected key blocks (INT8 Q.K^T,
FP8 P.V), and SLA's linear branch + proj_l added in its epilogue (shared/docs/attention.md §5).

The kernel itself is ``sage/kernel.py``'s ``_sage_fwd_kernel`` with SPARSE and LINEAR set (the branch from
``linear_branch_triton``), or on sm_90 ``sage/kernel_wgmma.py``'s, which computes the branch itself; this
module is the launcher. One pass over k and v (``summarize_kv``) gives the block selection its K mean and
the Sage quantisers their K mean and V maxima along with the linear branch's state and, proj_l's weight
folded in, m = KV W^T when the sm_90 kernel will read it. The block selection pools q and k in a pass of its
own (``select_blocks``). With ``pooled_selection`` the INT8 quantisers pool them instead as they read them
(``quantize_int8_pooled_triton``), which saves that pass's reads but was slower on an H100: a 1.3B-480p
layer 1.364 against 1.297 ms, a whole forward 150.1 against 149.2 ms, 14B-720p 2,561 against 2,532 ms
(benchmarks/runs/h100-2026-12-05). FLOPs: as SLA's forward (sparse part half int8, half fp8); no backward.
"""

from __future__ import annotations

from torch import Tensor

from ..sage.kernel import SAGE_DTYPES, sage_forward_triton, uses_wgmma_kernel
from ..sage.quant import quantize_int8_pooled_triton
from ..sage.reference import PV
from ..sla.block_map import BlockSelection, select_blocks, select_pooled_blocks
from ..sla.kernel_fwd import check_kernel_inputs, check_proj, summarize_kv


def sagesla_forward_triton(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    weight: Tensor,
    bias: Tensor,
    *,
    topk: float,
    block_q: int,
    block_k: int,
    pv: PV,
    v_range: float,
    eps: float,
    selection: BlockSelection | None = None,
    pooled_selection: bool = False,
) -> Tensor:
    """q, k, v: [B, L, H, D] bf16/fp16; weight [D, D], bias [D]: proj_l; ``selection``: a precomputed block
    map (else ``select_blocks``'s at ``topk``; with ``pooled_selection``, the same map pooled by the INT8
    quantisers). Returns o [B, L, H, D] in q's dtype.
    """
    check_kernel_inputs(q, k, v, SAGE_DTYPES)  # before summarize_kv reads k and v
    check_proj(weight, bias, q.shape[-1])
    # With the weight the summary also holds m = KV W^T, which only the sm_90 kernel's epilogue reads.
    wgmma = uses_wgmma_kernel(q, k, v, True, pv, block_q, block_k)
    summary = summarize_kv(k, v, state=True, stats=True, weight=weight if wgmma else None)
    quantized_qk = None
    if selection is None and not pooled_selection:
        selection = select_blocks(q, k, block_q, block_k, topk, k_mean=summary.k_mean)
    elif selection is None:
        # The INT8 quantisers pool q and k for the selection in the same read.
        qi, qs, q_pooled = quantize_int8_pooled_triton(q, block_q)
        ki, ks, k_pooled = quantize_int8_pooled_triton(k, block_k, summary.k_mean, pad_rows=True)
        selection = select_pooled_blocks(q_pooled, k_pooled, topk)
        quantized_qk = (qi, qs, ki, ks)
    return sage_forward_triton(
        q,
        k,
        v,
        block_q=block_q,
        block_k=block_k,
        pv=pv,
        v_range=v_range,
        lut=selection.lut,
        proj=(weight, bias),
        eps=eps,
        summary=summary,
        quantized_qk=quantized_qk,
    )
