"""Triton RMSNorm + RoPE: one pass over q or k (reference.py is the spec).

Bytes: each row is read once and written once (4 bytes per element in bf16) plus the row's cos/sin
(D/2 each, fp32, shared by all heads, mostly from L2); the plain path reads and writes the row about five
times in fp32 temporaries. The floor is the copy bandwidth over 4 bytes per element.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl
from torch import Tensor

from turbodiffusion.ops.rms_norm.kernel import row_launch_config
from turbodiffusion.ops.rms_norm_rope.reference import check_rms_norm_rope_inputs


@triton.jit
def _rms_norm_rope_kernel(
    x_ptr,
    w_ptr,
    cos_ptr,
    sin_ptr,
    y_ptr,
    R,
    L,
    HALF_DIM,
    HALF_HEAD,
    stride_xr,
    eps,
    BLOCK_R: tl.constexpr,
    BLOCK_D: tl.constexpr,  # the padded row width: BLOCK_D // 2 channel pairs
):
    BLOCK_H: tl.constexpr = BLOCK_D // 2
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    pairs = tl.arange(0, BLOCK_H)  # channel pair j holds channels 2j and 2j + 1
    cols = tl.arange(0, 2 * BLOCK_H)
    rmask = rows < R
    pmask = pairs < HALF_DIM
    mask = rmask[:, None] & pmask[None, :]
    cmask = rmask[:, None] & (cols < 2 * HALF_DIM)[None, :]
    rows64 = rows.to(tl.int64)
    # One contiguous (vectorised) load of the rows, split into the even and odd channels in registers:
    # two stride-2 loads would move the same bytes in half-width transactions.
    x = tl.load(x_ptr + rows64[:, None] * stride_xr + cols[None, :], mask=cmask, other=0.0).to(tl.float32)
    a, b = tl.split(tl.reshape(x, [BLOCK_R, BLOCK_H, 2]))
    # Padded lanes load zeros: they add nothing to the sum of squares, which is divided by the true width.
    rstd = 1.0 / tl.sqrt((tl.sum(a * a, axis=1) + tl.sum(b * b, axis=1)) / (2 * HALF_DIM) + eps)
    wa = tl.load(w_ptr + 2 * pairs, mask=pmask, other=0.0).to(tl.float32)
    wb = tl.load(w_ptr + 2 * pairs + 1, mask=pmask, other=0.0).to(tl.float32)
    a = a * rstd[:, None] * wa[None, :]
    b = b * rstd[:, None] * wb[None, :]
    # Pair j is pair j % HALF_HEAD of its head; the angle row is the token's position in its sequence.
    angle = (rows64 % L)[:, None] * HALF_HEAD + (pairs % HALF_HEAD)[None, :]
    c = tl.load(cos_ptr + angle, mask=mask, other=0.0).to(tl.float32)
    s = tl.load(sin_ptr + angle, mask=mask, other=0.0).to(tl.float32)
    y = tl.reshape(tl.join(a * c - b * s, a * s + b * c), [BLOCK_R, 2 * BLOCK_H])
    y_row = y_ptr + rows64[:, None] * (2 * HALF_DIM)
    tl.store(y_row + cols[None, :], y.to(y_ptr.dtype.element_ty), mask=cmask)


def rms_norm_rope_triton(
    x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, num_heads: int, eps: float = 1e-6
) -> Tensor:
    """Triton version of ``rms_norm_rope_reference``: x [B, L, dim] (rows may be strided, last dim
    contiguous), weight [dim], cos/sin [L, D/2]. On CPU only under TRITON_INTERPRET=1. Returns a new
    contiguous [B, L, num_heads, D] tensor in x's dtype."""
    check_rms_norm_rope_inputs(x, weight, cos, sin, num_heads)
    if x.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        raise ValueError('impl="triton" on CPU needs TRITON_INTERPRET=1 set before triton is imported')
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


@torch.library.custom_op("turbodiffusion_03g::rms_norm_rope_at_8fcf703", mutates_args=("y",))
def _rms_norm_rope_op(
    x: Tensor, weight: Tensor, cos: Tensor, sin: Tensor, y: Tensor, L: int, num_heads: int, eps: float
) -> None:
    r, dim = x.shape
    if r == 0:
        return
    block_r, block_d, num_warps = rms_norm_rope_launch(dim)
    _rms_norm_rope_kernel[(triton.cdiv(r, block_r),)](
        x, weight, cos, sin, y, r, L, dim // 2, dim // num_heads // 2, x.stride(0), eps,
        BLOCK_R=block_r, BLOCK_D=block_d, num_warps=num_warps,
    )  # fmt: skip


def rms_norm_rope_launch(dim: int) -> tuple[int, int, int]:
    """(BLOCK_R, BLOCK_D, num_warps): the row kernels' heuristic, but two rows of 8 warps a program for rows
    of 8192 lanes and more: 0.710 against 0.912 ms at 75600 x 5120 on an H200 (benchmarks/runs/
    h200-2026-12-03e), the best launch there also in CUDA graphs (0.689 ms, h200-2026-12-03f). The 1536-wide
    rows keep the heuristic's (2, 8): 03e's eager timing put it ahead of (1, 4) (0.093 against 0.136 ms), but
    those times carried host overhead; in graphs (1, 4) is ahead, 0.077 against 0.086 ms (03f), not yet
    measured inside a forward."""
    block_r, block_d, num_warps = row_launch_config(dim)
    if block_d >= 8192:
        return 2, block_d, 8
    return block_r, block_d, num_warps
