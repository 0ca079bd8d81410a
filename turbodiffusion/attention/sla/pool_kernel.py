"""Triton twin of ``block_map.mean_pool_blocks`` (with its K smoothing): one read of x, one small write.

SLA's block selection pools q over query blocks and k - mean_L(k) over key blocks. In PyTorch that is a
broadcast subtraction writing a full copy of k, then two reductions; here each program reads one block of
rows once, subtracts the mean and rounds to x's dtype as the reference does, sums in fp32 and writes the
block's mean. Only the fp32 summation order differs from the reference, so a pooled value can differ by
one ulp of x's dtype where the two sums straddle a rounding boundary.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION
from .kernel_fwd import cast, dot_precision, needs_int64

ROWS = 64  # rows summed per step: a 128-row block is walked in two steps, not loaded at once
# One warp a program: on an H200 (benchmarks/runs/h200-2026-12-02g, sweep 3) 0.036 ms against 0.069 with
# four at 1.3B-480p and 0.195 against 0.467 at 14B-720p, for q and k alike (more warps were slower at every
# ROWS tried); the pooled values were the same.
NUM_WARPS = 1


@triton.jit
def _pool_blocks_kernel(
    X, MEAN, OUT,
    sxb, sxl, sxh,
    H, L, NB,
    D: tl.constexpr, BLK: tl.constexpr, ROWS: tl.constexpr, SMOOTH: tl.constexpr, PRECISION: tl.constexpr,
    WIDE: tl.constexpr,
):  # fmt: skip
    pid_blk = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    base = X + b.to(tl.int64) * sxb + h * sxh
    if SMOOTH:  # the mean rounded to x's dtype first (a no-op when it comes in that dtype)
        mean = cast(tl.load(MEAN + pid_bh.to(tl.int64) * D + dims), X.dtype.element_ty, PRECISION).to(
            tl.float32
        )
    acc = tl.zeros([D], dtype=tl.float32)
    for off in range(0, BLK, ROWS):
        rows = pid_blk * BLK + off + tl.arange(0, ROWS)
        ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        x = tl.load(base + rows[:, None] * sxl + dims[None, :], mask=ok[:, None], other=0.0).to(tl.float32)
        if SMOOTH:  # k - mean rounded to k's dtype, as the reference's subtraction in that dtype
            x = cast(x - mean[None, :], X.dtype.element_ty, PRECISION).to(tl.float32)
            x = tl.where(ok[:, None], x, 0.0)
        acc += tl.sum(x, 0)
    count = tl.minimum(L - pid_blk * BLK, BLK).to(tl.float32)  # a partial last block: its real rows
    out = cast(tl.math.div_rn(acc, tl.zeros([D], dtype=tl.float32) + count), OUT.dtype.element_ty, PRECISION)
    tl.store(OUT + (pid_bh.to(tl.int64) * NB + pid_blk) * D + dims, out)


def pool_blocks_triton(x: Tensor, block: int, mean: Tensor | None = None) -> Tensor:
    """Mean of x (minus ``mean``, rounded to x's dtype) over consecutive blocks of ``block`` tokens.

    x: [B, L, H, D] fp32/bf16/fp16 with a contiguous last dim, D a power of two; block a power of two
    >= 16; mean: [B, H, D] in x's dtype or fp32 (then rounded to x's dtype, as the reference's
    ``k.mean`` in k's dtype is) or None. Returns [B, H, ceil(L / block), D] in x's dtype.
    """
    b, seq, h, d = x.shape
    if x.stride(-1) != 1:
        raise ValueError(f"x must have a contiguous last dim (got strides {tuple(x.stride())})")
    if d & (d - 1) or block < 16 or block & (block - 1):
        raise ValueError(
            f"the pooling kernel needs D and block powers of two, block >= 16 (got {d}, {block})"
        )
    if mean is not None and (mean.shape != (b, h, d) or mean.dtype not in (x.dtype, torch.float32)):
        raise ValueError(
            f"mean must be [{b}, {h}, {d}] in {x.dtype} or float32 (got {mean.dtype} {tuple(mean.shape)})"
        )
    nb = triton.cdiv(seq, block)
    out = torch.empty((b, h, nb, d), device=x.device, dtype=x.dtype)
    _pool_blocks_kernel[(nb, b * h)](
        x, mean.contiguous() if mean is not None else out, out,
        x.stride(0), x.stride(1), x.stride(2),
        h, seq, nb,
        D=d, BLK=block, ROWS=min(ROWS, block), SMOOTH=mean is not None, PRECISION=dot_precision(x.dtype),
        WIDE=needs_int64(x), num_warps=NUM_WARPS, **FP_FUSION,
    )  # fmt: skip
    return out
