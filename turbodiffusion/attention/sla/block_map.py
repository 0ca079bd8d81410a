"""SLA block selection: which key blocks each query block attends to (shared/docs/attention.md §2.1).

Used by every SLA and SageSLA path (reference and kernels alike), so on one device the reference and the
kernels always see the same block map. Plain PyTorch, except that on CUDA the block pooling is one Triton
pass (pool_kernel.py) and the top-k another (topk_kernel.py). It runs in the dtype the inputs arrive in,
as the official code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor


@dataclass(frozen=True)
class BlockSelection:
    """The selected key blocks of every (batch, head, query block).

    lut: int64 [B, H, Mq, topk], key-block indices in ascending order (the kernels walk them in this order).
    num_key_blocks: Nk, the number of key blocks.
    """

    lut: Tensor
    num_key_blocks: int

    @property
    def topk(self) -> int:
        return self.lut.shape[-1]

    @cached_property
    def block_map(self) -> Tensor:
        """int8 [B, H, Mq, Nk], 1 where the key block is selected. Built on first use: the forward kernels
        read only the lut, the backward pass and the golden checks the map."""
        block_map = torch.zeros(
            (*self.lut.shape[:-1], self.num_key_blocks), dtype=torch.int8, device=self.lut.device
        )
        return block_map.scatter_(-1, self.lut, 1)


def topk_count(topk_ratio: float, num_key_blocks: int) -> int:
    """Number of key blocks each query block keeps: min(Nk, int(topk_ratio * Nk)), at least 1.

    The official code floors a Python double exactly like this (so int(0.29 * 100) == 28) but has no
    minimum: when topk_ratio * Nk < 1 it keeps 0 blocks and its kernel returns NaN rows. We keep at least
    one block instead; this is the only place we differ from it.
    """
    if not 0.0 < topk_ratio <= 1.0:
        raise ValueError(f"topk_ratio must be in (0, 1] (got {topk_ratio}); 0.1 is the usual value")
    if num_key_blocks < 1:
        raise ValueError(f"num_key_blocks must be >= 1 (got {num_key_blocks})")
    return max(1, min(num_key_blocks, int(topk_ratio * num_key_blocks)))


def mean_pool_blocks(x: Tensor, block: int) -> Tensor:
    """Mean of x over consecutive blocks of ``block`` tokens.

    x: [B, L, H, D], any float dtype. Returns [B, H, ceil(L / block), D] in x's dtype. The sums run in fp32
    and a partial last block is divided by its number of real rows, not by ``block`` (the official pooling
    kernel does both; the L=200 golden fixture tells the two divisions apart).
    """
    b, seq, h, d = x.shape
    full = seq // block
    parts = []
    if full:
        body = x[:, : full * block].reshape(b, full, block, h, d)
        parts.append(body.sum(dim=2, dtype=torch.float32) / block)
    tail = seq - full * block
    if tail:
        parts.append(x[:, full * block :].sum(dim=1, keepdim=True, dtype=torch.float32) / tail)
    pooled = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
    return pooled.to(x.dtype).transpose(1, 2)


def _pool_kernel_fits(q: Tensor, k: Tensor, block_q: int, block_k: int) -> bool:
    """Whether pool_kernel.pool_blocks_triton takes q and k (CUDA, contiguous last dim, power-of-two D and
    blocks >= 16)."""
    d = q.shape[-1]
    pow2 = all(n >= 16 and not n & (n - 1) for n in (block_q, block_k))
    contiguous = q.stride(-1) == 1 and k.stride(-1) == 1
    return q.is_cuda and contiguous and d > 0 and not d & (d - 1) and pow2


def pooled_scores(q_pooled: Tensor, k_pooled: Tensor) -> Tensor:
    """q_pooled @ k_pooled^T: [B, H, Mq, D] x [B, H, Nk, D] -> [B, H, Mq, Nk] in their dtype.

    The rows are laid out with a multiple of 8 elements between them (a view of a padded buffer): with Nk
    odd, as at 14B-720p (591 key blocks), cuBLAS otherwise falls back to a kernel for unaligned rows, which
    took 6.2 ms of a 2,471 ms forward on an H200 for 40 products of 7 GFLOP (h200-2026-12-03g's profile).
    Under torch.compile the product is a plain matmul (contiguous rows).
    """
    if torch.compiler.is_compiling():
        # Dynamo cannot trace a matmul into a strided out= (it breaks the graph there, once a layer); compiled,
        # the product and its layout are left to the compiler.
        return torch.matmul(q_pooled, k_pooled.transpose(-1, -2))
    *lead, mq, _ = q_pooled.shape
    nk = k_pooled.shape[-2]
    out = torch.empty((*lead, mq, nk + -nk % 8), dtype=q_pooled.dtype, device=q_pooled.device)[..., :nk]
    return torch.matmul(q_pooled, k_pooled.transpose(-1, -2), out=out)


def block_scores(q: Tensor, k: Tensor, block_q: int, block_k: int, k_mean: Tensor | None = None) -> Tensor:
    """Pooled block scores S = pool(q) @ pool(k - mean_L(k))^T, no scaling, no softmax.

    q, k: [B, L, H, D] in one float dtype; k_mean: k's mean over L, fp32 [B, H, D], when the caller has it
    (``summarize_kv``), else computed here. Returns [B, H, Mq, Nk] in q's dtype. Smoothing K cannot change
    the ranking (it shifts a whole row by pool(q)_i . mean(k)); the official code does it to keep the
    low-precision scores small, so we do it too, in the input dtype, to select the same blocks. On CUDA the
    pooling is one Triton pass per tensor (pool_kernel.py; same arithmetic, its own fp32 summation order).
    """
    # The mean in k's dtype, as the official code's k.mean (fp32 accumulation, rounded once); the pooling
    # kernel rounds a given fp32 mean itself.
    if _pool_kernel_fits(q, k, block_q, block_k):
        from .pool_kernel import pool_blocks_triton

        pooled_k = pool_blocks_triton(k, block_k, k.mean(dim=1) if k_mean is None else k_mean)
        return pooled_scores(pool_blocks_triton(q, block_q), pooled_k)
    mean = k.mean(dim=1) if k_mean is None else k_mean.to(k.dtype)  # [B, H, D]
    ks = k - mean[:, None]
    return pooled_scores(mean_pool_blocks(q, block_q), mean_pool_blocks(ks, block_k))


def topk_lut_reference(scores: Tensor, topk: int) -> Tensor:
    """Indices of each row's ``topk`` largest scores, in ascending order; among scores tied with the k-th
    largest, the lower indices are kept (torch.topk leaves which ones unspecified).

    scores: [..., Nk] float, no NaN; 1 <= topk <= Nk. Returns int64 [..., topk]. The specification of
    topk_kernel.topk_lut_triton (a stable sort puts tied scores in index order).
    """
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    return order[..., :topk].sort(dim=-1).values


def topk_lut_torch(scores: Tensor, topk: int) -> Tensor:
    """The lut as the official code makes it: torch.topk, then its indices sorted ascending. scores
    [..., Nk] float; returns int64 [..., topk]; ties at the k-th score broken as torch.topk breaks them."""
    return torch.topk(scores, topk, dim=-1, sorted=False).indices.sort(dim=-1).values


def _topk_lut(scores: Tensor, topk: int) -> Tensor:
    """The lut of select_blocks: the Triton kernel on CUDA, topk_lut_torch elsewhere."""
    if scores.is_cuda:
        from .topk_kernel import topk_lut_triton

        return topk_lut_triton(scores, topk)
    return topk_lut_torch(scores, topk)


def select_blocks(
    q: Tensor, k: Tensor, block_q: int, block_k: int, topk_ratio: float, *, k_mean: Tensor | None = None
) -> BlockSelection:
    """Block selection of shared/docs/attention.md §2.1: per query block, the top-k key blocks by score.

    q, k: [B, L, H, D], same shape and float dtype; k_mean: optional fp32 [B, H, D] mean of k over L (see
    ``block_scores``). topk = topk_count(topk_ratio, Nk) is shared by every row. On CUDA one Triton
    pass selects them (topk_kernel.py; ties at the k-th score go to the lower indices), elsewhere
    torch.topk does and breaks ties its own way. No gradient flows through the selection.
    """
    if q.shape != k.shape:
        raise ValueError(f"q {tuple(q.shape)} and k {tuple(k.shape)} must have the same [B, L, H, D] shape")
    if q.dtype != k.dtype or not q.dtype.is_floating_point:
        raise ValueError(f"q and k must share one float dtype (got {q.dtype} and {k.dtype})")
    if block_q < 1 or block_k < 1:
        raise ValueError(f"block sizes must be >= 1 (got block_q={block_q}, block_k={block_k})")
    with torch.no_grad():
        if k_mean is not None and k_mean.shape != (q.shape[0], q.shape[2], q.shape[3]):
            raise ValueError(
                f"k_mean must be [B, H, D] = {q.shape[0], q.shape[2], q.shape[3]} (got {tuple(k_mean.shape)})"
            )
        return _select(block_scores(q.detach(), k.detach(), block_q, block_k, k_mean), topk_ratio)


def select_pooled_blocks(q_pooled: Tensor, k_pooled: Tensor, topk_ratio: float) -> BlockSelection:
    """``select_blocks`` from q and k already pooled as ``block_scores`` pools them (q over query blocks, k
    minus its mean over key blocks, e.g. by sage.quant.quantize_int8_pooled_triton while it quantises them).

    q_pooled: [B, H, Mq, D], k_pooled: [B, H, Nk, D], one float dtype."""
    if (
        q_pooled.dim() != 4
        or k_pooled.shape[:2] != q_pooled.shape[:2]
        or k_pooled.shape[3] != q_pooled.shape[3]
    ):
        raise ValueError(
            f"q_pooled [B, H, Mq, D] and k_pooled [B, H, Nk, D] must agree on B, H and D (got "
            f"{tuple(q_pooled.shape)} and {tuple(k_pooled.shape)})"
        )
    with torch.no_grad():
        return _select(pooled_scores(q_pooled, k_pooled), topk_ratio)


def _select(scores: Tensor, topk_ratio: float) -> BlockSelection:
    """The lut of each row's top-k key blocks of scores [B, H, Mq, Nk]."""
    topk = topk_count(topk_ratio, scores.shape[-1])
    return BlockSelection(lut=_topk_lut(scores, topk), num_key_blocks=scores.shape[-1])


def transpose_selection(block_map: Tensor) -> tuple[Tensor, Tensor]:
    """Key-block-major view of a block map, for the dK/dV pass.

    block_map: int8 [B, H, Mq, Nk]. Returns (qlut int32 [B, H, Nk, Mq], count int32 [B, H, Nk]): for key
    block j, qlut[..., j, :count[j]] lists the query blocks that selected it in ascending order (the rest
    of the row is unspecified). Built with cumsum + scatter, so it needs no host synchronisation.
    """
    bt = block_map.transpose(-1, -2).to(torch.int32)  # [B, H, Nk, Mq]
    mq = bt.shape[-1]
    count = bt.sum(dim=-1, dtype=torch.int32)
    slot = torch.cumsum(bt, dim=-1, dtype=torch.int32) - 1
    slot = torch.where(bt.bool(), slot, torch.full_like(slot, mq))  # unselected ones go to a spare column
    qids = torch.arange(mq, device=block_map.device, dtype=torch.int32).expand_as(bt)
    qlut = torch.zeros((*bt.shape[:-1], mq + 1), dtype=torch.int32, device=block_map.device)
    qlut.scatter_(-1, slot.long(), qids)
    return qlut[..., :mq].contiguous(), count.contiguous()
