"""SLA in plain PyTorch: the specification the kernels are tested against (shared/docs/attention.md §2, §8).

Everything after the block selection runs in ``compute_dtype`` (fp32 unless asked otherwise; the official
code uses bf16 matmuls, which ``compute_dtype=torch.bfloat16`` imitates to measure what eager low precision
loses). Autograd flows through q, k, v and proj_l; the selected blocks are constants.
"""

from __future__ import annotations

import math

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
    Scale 1/sqrt(D), raw (unsmoothed) k. Works through ``query_blocks_per_chunk`` query blocks at a time by
    gathering their selected keys, so memory stays O(chunk * topk * block_k) rather than O(L^2).
    """
    b, h, seq, d = q.shape
    mq, topk = lut.shape[-2:]
    scale = 1.0 / math.sqrt(d)
    pad = mq * block_q - seq
    qp = F.pad(q, (0, 0, 0, pad)).view(b, h, mq, block_q, d)
    offsets = torch.arange(block_k, device=q.device)
    out = []
    for start in range(0, mq, query_blocks_per_chunk):
        blocks = lut[:, :, start : start + query_blocks_per_chunk]  # [B, H, n, topk]
        n = blocks.shape[2]
        tokens = (blocks[..., None] * block_k + offsets).reshape(b, h, n * topk * block_k)
        valid = (tokens < seq).view(b, h, n, 1, topk * block_k)  # tokens past L in a partial last block
        index = tokens.clamp_max(seq - 1)[..., None].expand(-1, -1, -1, d)
        kg = torch.gather(k, 2, index).view(b, h, n, topk * block_k, d)
        vg = torch.gather(v, 2, index).view(b, h, n, topk * block_k, d)
        scores = (qp[:, :, start : start + n] @ kg.transpose(-1, -2)) * scale
        scores = scores.masked_fill(~valid, float("-inf"))
        out.append(scores.softmax(dim=-1) @ vg)  # [B, H, n, block_q, D]
    return torch.cat(out, dim=2).reshape(b, h, mq * block_q, d)[:, :, :seq]


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
