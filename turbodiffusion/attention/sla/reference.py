"""SLA in plain PyTorch: the specification the kernels are tested against (shared/docs/attention.md §2, §8).

Everything after the block selection runs in ``compute_dtype`` (fp32 unless asked otherwise;
``compute_dtype=torch.bfloat16`` gives eager PyTorch's bf16 attention and matmuls, to measure what eager low
precision loses). The sparse branch attends with ``scaled_dot_product_attention``, PyTorch's exact attention,
which is also the fast path on the CPU, where this reference is what SLA runs. Autograd flows through q, k,
v and proj_l; the selected blocks are constants.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .block_map import BlockSelection, select_blocks

LINEAR_EPS = 1e-5  # SLA's eps in the linear branch's denominator (attention.md §2.3)


def sparse_branch_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    lut: Tensor,
    block_q: int,
    block_k: int,
    *,
    query_blocks_per_chunk: int = 64,
) -> Tensor:
    """Exact softmax attention of each query block over the real tokens of its selected key blocks (§2.2).

    q, k, v: [B, H, L, D] in one float dtype; lut: int64 [B, H, Mq, topk]. Returns o_s [B, H, L, D].
    Scale 1/sqrt(D), raw (unsmoothed) k. Works through ``query_blocks_per_chunk`` query blocks at a time:
    each block's selected key blocks are gathered whole, padding tokens past L masked out, and one
    ``scaled_dot_product_attention`` call attends over them, so memory stays O(chunk * topk * block_k)
    rather than O(L^2).
    """
    b, h, seq, d = q.shape
    mq, topk = lut.shape[-2:]
    mk = -(-seq // block_k)
    qb = F.pad(q, (0, 0, 0, mq * block_q - seq)).reshape(b * h, mq, block_q, d)
    kb = F.pad(k, (0, 0, 0, mk * block_k - seq)).reshape(b * h * mk, block_k, d)  # every key block a row
    vb = F.pad(v, (0, 0, 0, mk * block_k - seq)).reshape(b * h * mk, block_k, d)
    rows = lut.reshape(b * h, mq, topk) + mk * torch.arange(b * h, device=q.device)[:, None, None]
    out = []
    for start in range(0, mq, query_blocks_per_chunk):
        blocks = rows[:, start : start + query_blocks_per_chunk]  # [B*H, n, topk]
        n = blocks.shape[1]
        kg = kb.index_select(0, blocks.flatten()).view(b * h, n, topk * block_k, d)
        vg = vb.index_select(0, blocks.flatten()).view(b * h, n, topk * block_k, d)
        valid = None  # only a partial last key block has padding tokens to mask
        if seq % block_k:
            tokens = (blocks % mk)[..., None] * block_k + torch.arange(block_k, device=q.device)
            valid = (tokens < seq).view(b * h, n, 1, topk * block_k)
        # 4-D on purpose: PyTorch's fused CPU attention takes [N, heads, L, D] (5-D falls back to the
        # unfused maths, 3x slower); the query blocks of a chunk stand in for heads.
        out.append(F.scaled_dot_product_attention(qb[:, start : start + n], kg, vg, attn_mask=valid))
    return torch.cat(out, dim=1).view(b, h, mq * block_q, d)[:, :, :seq]


def linear_branch_reference(q: Tensor, k: Tensor, v: Tensor, eps: float = LINEAR_EPS) -> Tensor:
    """Linear attention over all L tokens with phi = softmax over the head dimension (§2.3).

    q, k, v: [B, H, L, D]. Returns o_l [B, H, L, D] = phi(q) (phi(k)^T v) / (eps + phi(q) . sum_t phi(k_t)).
    """
    phi_q, phi_k = q.softmax(dim=-1), k.softmax(dim=-1)
    kv = phi_k.transpose(-1, -2) @ v  # [B, H, D, D]
    ksum = phi_k.sum(dim=-2, keepdim=True)  # [B, H, 1, D]
    return (phi_q @ kv) / (eps + (phi_q * ksum).sum(dim=-1, keepdim=True))


def sla_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    proj_weight: Tensor,
    proj_bias: Tensor,
    *,
    topk_ratio: float,
    block_q: int,
    block_k: int,
    selection: BlockSelection | None = None,
    compute_dtype: torch.dtype = torch.float32,
    eps: float = LINEAR_EPS,
) -> Tensor:
    """Sparse-linear attention: o = sparse(q, k, v) + proj_l(linear(q, k, v)) (attention.md §2, §8).

    q, k, v: [B, L, H, D], one float dtype, any L (the last block may be partial). proj_weight [D, D] and
    proj_bias [D] are proj_l's parameters. The block selection runs in q's dtype (or comes in as
    ``selection``); both branches, the projection and the sum run in ``compute_dtype``.
    Returns [B, L, H, D] in q's dtype.
    """
    if selection is None:
        selection = select_blocks(q, k, block_q, block_k, topk_ratio)
    qc, kc, vc = (t.transpose(1, 2).to(compute_dtype) for t in (q, k, v))  # [B, H, L, D]
    o_s = sparse_branch_reference(qc, kc, vc, selection.lut, block_q, block_k)
    o_l = linear_branch_reference(qc, kc, vc, eps)
    o = o_s + F.linear(o_l, proj_weight.to(compute_dtype), proj_bias.to(compute_dtype))
    return o.transpose(1, 2).to(q.dtype)
