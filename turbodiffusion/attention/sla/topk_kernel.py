"""Triton twin of ``block_map.topk_lut_reference``: each row's top-k key blocks, ascending, in one pass.

``torch.topk`` followed by a sort of the indices is two kernels that cost 2.4 ms of a 1.3B-480p forward on
an H200 (~80 us a layer for 6,144 rows of 256 scores), far more than reading 3 MB of scores. Here a program
holds whole rows in registers and finds each row's k-th largest score by a bitwise search over the scores'
order-preserving integer keys (32 count steps; 16 for bf16 scores, 19 for fp16), then writes the selected
indices in ascending order from a prefix count, so no sort is needed. Exact: the same set as the reference,
ties at the k-th score going to the lower indices.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, interpreting

# Low bits of the fp32 pattern that a score of this dtype always has zero (bf16 is fp32's top 16 bits; fp16's
# 11 significant bits leave fp32's low 13 mantissa bits zero, subnormals included): the search skips them.
# For bf16 rows, sm_90 code of 2,048 instructions instead of 3,200 (256 scores) and 2,352 instead of 3,680
# (1,024; local compiles, benchmarks/runs/h200-2026-12-03c); on an H200 0.0144 / 0.405 ms at 1.3B-480p /
# 14B-720p against 0.0341 / 0.641 with the full 32-bit search (benchmarks/runs/h200-2026-12-03d).
ZERO_LOW_BITS = {torch.float32: 0, torch.bfloat16: 16, torch.float16: 13}
# Lanes a program holds (rows x padded columns): 8 rows of 256 scores, 2 rows of 1,024.
LANES = 2048
NUM_WARPS = 4


@triton.jit
def order_key(x):
    """Unsigned integer keys of fp32 scores x whose order is the scores' order (-0.0 counted as +0.0)."""
    x = tl.where(x == 0.0, 0.0, x)
    bits = x.to(tl.int32, bitcast=True)
    # Negative floats: flipping the 31 magnitude bits reverses their order; then the sign bit is flipped so
    # that unsigned order puts negatives below positives.
    bits = tl.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    return bits.to(tl.uint32, bitcast=True) ^ 0x80000000


@triton.jit
def _topk_lut_kernel(
    S, LUT, R, NK, K, stride_s,
    BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr, LOW_BITS: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    if WIDE:
        rows = rows.to(tl.int64)
    cols = tl.arange(0, BLOCK_N)
    valid = (rows < R)[:, None] & (cols < NK)[None, :]
    x = tl.load(S + rows[:, None] * stride_s + cols[None, :], mask=valid, other=0.0).to(tl.float32)
    key = order_key(x)
    key = tl.where(valid, key, tl.zeros_like(key))
    # The k-th largest key of each row, built from the top bit down: keep a bit when at least K keys are
    # >= the threshold with it set.
    thresh = tl.zeros([BLOCK_R], dtype=tl.uint32)
    for bit in tl.static_range(31, LOW_BITS - 1, -1):
        cand = thresh | (1 << bit)
        count = tl.sum((valid & (key >= cand[:, None])).to(tl.int32), axis=1)
        thresh = tl.where(count >= K, cand, thresh)
    if LOW_BITS > 0:
        # 16-bit scores: every key's low LOW_BITS bits are 0 (scores >= 0) or all ones (negative scores, whose
        # magnitude bits were flipped), so the k-th key's low bits follow from its top bit.
        low = tl.zeros_like(thresh) + ((1 << LOW_BITS) - 1)
        thresh = tl.where((thresh >> 31) == 1, thresh, thresh | low)
    above = valid & (key > thresh[:, None])
    tied = valid & (key == thresh[:, None])
    need = K - tl.sum(above.to(tl.int32), axis=1)  # >= 1: the k-th key itself is tied with the threshold
    chosen = above | (tied & (tl.cumsum(tied.to(tl.int32), axis=1) <= need[:, None]))
    slot = tl.cumsum(chosen.to(tl.int32), axis=1) - 1
    ptrs = LUT + rows[:, None] * K + slot
    tl.store(ptrs, tl.broadcast_to(cols[None, :], [BLOCK_R, BLOCK_N]).to(tl.int64), mask=chosen)


def topk_lut_triton(scores: Tensor, topk: int, *, lanes: int = LANES, num_warps: int = NUM_WARPS) -> Tensor:
    """Indices of each row's ``topk`` largest scores, ascending; ties at the k-th score go to lower indices.

    scores: [..., Nk] fp32/bf16/fp16 with a contiguous last dim, no NaN; 1 <= topk <= Nk. Returns int64
    [..., topk]. CUDA, or the CPU under TRITON_INTERPRET=1. ``lanes`` (rows x padded columns a program
    holds, a power of two) and ``num_warps`` are the launch's; the lut does not depend on them
    (benchmarks/block_selection.py times them).
    """
    if lanes < 1 or lanes & (lanes - 1) or num_warps not in (1, 2, 4, 8):
        raise ValueError(
            f"lanes must be a power of two and num_warps 1, 2, 4 or 8 (got {lanes}, {num_warps})"
        )
    nk = scores.shape[-1]
    if not 1 <= topk <= nk:
        raise ValueError(f"topk must be in [1, {nk}] (got {topk})")
    if scores.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"scores must be fp32, bf16 or fp16 (got {scores.dtype})")
    if scores.device.type != "cuda" and not interpreting():
        raise ValueError(
            f"the top-k kernel needs CUDA tensors (got {scores.device}); set TRITON_INTERPRET=1 to interpret "
            "it on the CPU, or use block_map.topk_lut_reference"
        )
    flat = scores.reshape(-1, nk)
    if nk > 1 and flat.stride(-1) != 1:
        flat = flat.contiguous()
    rows = flat.shape[0]
    lut = torch.empty(rows, topk, dtype=torch.int64, device=scores.device)
    if rows:
        block_n = triton.next_power_of_2(nk)
        block_r = max(1, min(lanes // block_n, triton.next_power_of_2(rows)))
        wide = rows * max(flat.stride(0), topk) >= 2**31
        _topk_lut_kernel[(triton.cdiv(rows, block_r),)](
            flat, lut, rows, nk, topk, flat.stride(0),
            BLOCK_R=block_r, BLOCK_N=block_n, LOW_BITS=ZERO_LOW_BITS[scores.dtype], WIDE=wide, num_warps=num_warps,
            **FP_FUSION,
        )  # fmt: skip
    return lut.view(*scores.shape[:-1], topk)
