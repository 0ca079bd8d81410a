"""Triton RMSNorm + RoPE: q or k read from memory once, written once (reference.py is the spec).

A program owns BLOCK_R rows and walks them in chunks of BLOCK_H whole heads, twice: the first walk sums the
squares, the second (its loads mostly L1 and L2 hits) normalises, rotates and stores. Each head's channel
pairs split in registers and one row of angles serves every head of the chunk. The kernel before held whole
rows padded to a power of two in registers: at 14B's 5,120 lanes (padded to 8,192) that compiled to 144
registers a thread with an angle gather per channel pair and a layout conversion through shared memory for
the pair split; this one takes 40 registers and 128-bit loads and stores (local sm_90 compile, Triton 3.6).

Bytes: each row is read once from memory and written once (4 bytes per element in bf16) plus the row's
cos/sin (D/2 each, fp32, shared by all heads). The floor is the copy bandwidth over 4 bytes per element.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, check_kernel_device
from .reference import check_rms_norm_rope_inputs


@triton.jit
def _rms_norm_rope_kernel(
    x_ptr,
    w_ptr,
    cos_ptr,
    sin_ptr,
    y_ptr,
    R,
    L,
    NUM_HEADS,
    stride_xr,
    eps,
    HALF_HEAD: tl.constexpr,  # channel pairs a head
    BLOCK_R: tl.constexpr,
    BLOCK_H: tl.constexpr,  # heads a chunk
    BLOCK_P: tl.constexpr,  # HALF_HEAD padded to a power of two
):
    HEAD: tl.constexpr = 2 * HALF_HEAD
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rows < R
    rows64 = rows.to(tl.int64)
    heads = tl.arange(0, BLOCK_H)
    pairs = tl.arange(0, BLOCK_P)
    pmask = pairs < HALF_HEAD
    # A chunk is [BLOCK_R, BLOCK_H, 2 * BLOCK_P]: lane l of head h is channel l of that head (l < HEAD).
    lanes = tl.arange(0, 2 * BLOCK_P)
    chan = (heads[:, None] * HEAD + lanes[None, :])[None]
    x_rows = x_ptr + rows64[:, None, None] * stride_xr
    y_rows = y_ptr + rows64[:, None, None] * (NUM_HEADS * HEAD)
    keep = rmask[:, None, None] & (lanes < HEAD)[None, None, :]
    squares = tl.zeros([BLOCK_R, BLOCK_H, 2 * BLOCK_P], dtype=tl.float32)
    for h0 in range(0, NUM_HEADS, BLOCK_H):
        mask = keep & ((h0 + heads) < NUM_HEADS)[None, :, None]
        x = tl.load(x_rows + h0 * HEAD + chan, mask=mask, other=0.0).to(tl.float32)
        squares += x * x
    # Masked lanes load zeros: they add nothing to the sum of squares, which is divided by the true width.
    rstd = 1.0 / tl.sqrt(tl.sum(tl.sum(squares, axis=2), axis=1) / (NUM_HEADS * HEAD) + eps)
    # The angle row is the token's position in its sequence; one row serves every head.
    angle = (rows64 % L)[:, None] * HALF_HEAD + pairs[None, :]
    amask = rmask[:, None] & pmask[None, :]
    c = tl.load(cos_ptr + angle, mask=amask, other=0.0)[:, None, :]
    s = tl.load(sin_ptr + angle, mask=amask, other=0.0)[:, None, :]
    for h0 in range(0, NUM_HEADS, BLOCK_H):
        hmask = ((h0 + heads) < NUM_HEADS)[None, :, None]
        mask = keep & hmask
        x = tl.load(x_rows + h0 * HEAD + chan, mask=mask, other=0.0).to(tl.float32)
        # The weight loaded in x's shape (once a row, from L1): a [1, BLOCK_H, lanes] load would take a
        # layout conversion through shared memory, with barriers, every chunk.
        w = tl.load(w_ptr + h0 * HEAD + chan + 0 * rows[:, None, None], mask=mask, other=0.0)
        x = x * rstd[:, None, None] * w.to(tl.float32)
        a, b = tl.split(tl.reshape(x, [BLOCK_R, BLOCK_H, BLOCK_P, 2]))  # channels 2j and 2j + 1
        y = tl.reshape(tl.join(a * c - b * s, a * s + b * c), [BLOCK_R, BLOCK_H, 2 * BLOCK_P])
        tl.store(y_rows + h0 * HEAD + chan, y.to(y_ptr.dtype.element_ty), mask=mask)


def rms_norm_rope_triton(
    x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, num_heads: int, eps: float = 1e-6
) -> Tensor:
    """Triton version of ``rms_norm_rope_reference``: x [B, L, dim] (rows may be strided, last dim
    contiguous), weight [dim], cos/sin [L, D/2]. On CPU only under TRITON_INTERPRET=1. Returns a new
    contiguous [B, L, num_heads, D] tensor in x's dtype."""
    check_rms_norm_rope_inputs(x, weight, cos, sin, num_heads)
    check_kernel_device(x)
    B, L, dim = x.shape
    x2 = x.reshape(B * L, dim)  # a view when the rows have one stride, else a copy
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    y = torch.empty(B, L, num_heads, dim // num_heads, dtype=x.dtype, device=x.device)
    # Angles in fp32, contiguous: a few MB at most, read by every head of every row.
    _rms_norm_rope_op(
        x2, weight, cos.float().contiguous(), sin.float().contiguous(), y, L, num_heads, float(eps)
    )
    return y


@torch.library.custom_op("turbodiffusion::rms_norm_rope", mutates_args=("y",))
def _rms_norm_rope_op(
    x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, y: Tensor, L: int, num_heads: int, eps: float
) -> None:
    r, dim = x.shape
    if r == 0:
        return
    launch = rms_norm_rope_launch(num_heads, dim // num_heads)
    _rms_norm_rope_kernel[(triton.cdiv(r, launch.block_r),)](
        x, weight, cos, sin, y, r, L, num_heads, x.stride(0), eps,
        HALF_HEAD=dim // num_heads // 2, BLOCK_R=launch.block_r, BLOCK_H=launch.block_h,
        BLOCK_P=triton.next_power_of_2(dim // num_heads // 2), num_warps=launch.num_warps, **FP_FUSION,
    )  # fmt: skip


@dataclass(frozen=True)
class RopeLaunch:
    """Rows a program, heads a chunk, warps."""

    block_r: int
    block_h: int
    num_warps: int


def rms_norm_rope_launch(num_heads: int, head_dim: int) -> RopeLaunch:
    """One row a program, in chunks of the largest power-of-two count of heads that divides ``num_heads``
    (no masked heads) within 1,024 lanes, one 16-byte vector a thread (8 lanes). Best or within 1.5% of the
    best of 53 / 41 launches timed in CUDA graphs on an H200 (benchmarks/runs/h200-2026-12-03g): 0.421 ms at
    75,600 x 5,120 (8 heads, 4 warps; the kernel before: 0.682) and 0.0623 ms at 32,760 x 1,536 (4 heads, 2
    warps; before: 0.0845).
    """
    lanes = 2 * triton.next_power_of_2(head_dim // 2)
    block_h = 1
    while num_heads % (2 * block_h) == 0 and 2 * block_h * lanes <= 1024:
        block_h *= 2
    return RopeLaunch(1, block_h, max(1, min(8, block_h * lanes // 256)))
