"""Triton block quantiser: the kernel for reference.py's rule, bit for bit.

Memory-bound: it reads X once (2 bytes per element for bf16) and writes the codes (1 byte) and one fp32 per
tile, so its floor is 3 bytes per element over the copy bandwidth.

Exactness (codes and scales must equal the reference bit for bit):
- mult = 128 / amax is the correctly rounded fp32 quotient (``div_rn``); Triton's plain ``/`` is an
  approximate division on NVIDIA GPUs.
- Round-half-even is done with the 1.5 * 2^23 trick: adding and subtracting it leaves |v| < 2^22 rounded to
  an integer by IEEE addition, ties to even, identically on GPUs and in the CPU interpreter (which has no
  ``rint``). Launches pass ``enable_fp_fusion=False``: an fma of ``x * mult + 1.5 * 2^23`` would round once
  instead of twice and change ties.
- FP8: values are rounded onto the e4m3 grid in fp32 (spacing 2^(e-3), subnormal spacing 2^-9) with the
  same trick, so the final cast is exact everywhere (the interpreter's own fp8 cast does not round ties to
  even).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import check_kernel_device
from .reference import AMAX_FLOOR, BLOCK, CODE_DTYPE, QMAX, Fmt, check_quant_inputs


@triton.jit
def _round_half_even(v):
    return (v + 12582912.0) - 12582912.0


@triton.jit
def _round_to_e4m3_grid(v):
    # |v| <= 448 here. Exponent of |v| from its bits; below 2^-6 the e4m3 grid is the subnormal one.
    e = ((v.to(tl.int32, bitcast=True) >> 23) & 0xFF) - 127
    e = tl.maximum(e, -6)
    inv_ulp = ((3 - e + 127) << 23).to(tl.float32, bitcast=True)  # 2^(3 - e): exact scaling
    ulp = ((e - 3 + 127) << 23).to(tl.float32, bitcast=True)
    r = _round_half_even(v * inv_ulp) * ulp
    # The trick returns +0 for small negatives; torch's cast keeps the sign (-0 is its own e4m3 code).
    return tl.where(r == 0.0, v * 0.0, r)


@triton.jit
def _quant_kernel(
    x_ptr,
    q_ptr,
    s_ptr,
    R,
    C,
    stride_xr,
    stride_sr,  # scales: row stride
    stride_sc,  # scales: column stride (per-row FP8 scales are stored K-major for the GEMM)
    QMAX_: tl.constexpr,
    AMAX_FLOOR_: tl.constexpr,
    TILE_R: tl.constexpr,  # rows sharing one scale: 128 or 1
    BLOCK_R: tl.constexpr,  # rows per program: TILE_R when 128, a multiple of rows when TILE_R == 1
    IS_FP8: tl.constexpr,
):
    pid_r = tl.program_id(0)
    pid_c = tl.program_id(1)
    rows = pid_r * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = pid_c * 128 + tl.arange(0, 128)
    mask = (rows < R)[:, None]
    rows64 = rows.to(tl.int64)  # R * C can pass 2^31
    x = tl.load(x_ptr + rows64[:, None] * stride_xr + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    a = tl.abs(x)
    if TILE_R == 1:
        amax = tl.maximum(tl.max(a, axis=1), AMAX_FLOOR_)  # [BLOCK_R]
    else:
        amax = tl.maximum(tl.max(tl.max(a, axis=1), axis=0), AMAX_FLOOR_)  # scalar
    qmax = tl.zeros_like(amax) + QMAX_
    mult = tl.math.div_rn(qmax, amax)
    if TILE_R == 1:
        mult = mult[:, None]
    v = x * mult
    if IS_FP8:
        v = tl.minimum(tl.maximum(v, -QMAX_), QMAX_)
        q = _round_to_e4m3_grid(v).to(tl.float8e4nv)
    else:
        q = tl.minimum(tl.maximum(_round_half_even(v), -128.0), 127.0).to(tl.int8)
    tl.store(q_ptr + rows64[:, None] * C + cols[None, :], q, mask=mask)
    # amax / QMAX correctly rounded, like torch (exact for INT8's power of two).
    scale = tl.math.div_rn(amax, qmax)
    if TILE_R == 1:
        tl.store(s_ptr + rows64 * stride_sr + pid_c * stride_sc, scale, mask=rows < R)
    else:
        tl.store(s_ptr + pid_r * stride_sr + pid_c * stride_sc, scale)


def quantize_blockwise_triton(x: Tensor, tile_rows: int = BLOCK, fmt: Fmt = "int8") -> tuple[Tensor, Tensor]:
    """Triton version of ``quantize_blockwise_reference`` (same arguments, same bits out).

    x: [R, C] fp32/bf16/fp16, last dim contiguous, C % 128 == 0. On CPU it runs only under
    TRITON_INTERPRET=1. Returns (codes [R, C], scales [ceil(R / tile_rows), C / 128] fp32; for tile_rows 1
    a transposed view of a K-major buffer). A ``torch.library`` custom op, so torch.compile traces through it.
    """
    check_quant_inputs(x, tile_rows, fmt)
    check_kernel_device(x)
    return _quantize_op(x, tile_rows, fmt)


@torch.library.custom_op("turbodiffusion::quantize_blockwise", mutates_args=())
def _quantize_op(x: Tensor, tile_rows: int, fmt: str) -> tuple[Tensor, Tensor]:
    rows, cols = x.shape
    codes = torch.empty(rows, cols, dtype=CODE_DTYPE[fmt], device=x.device)
    n_r, n_c = -(-rows // tile_rows), cols // BLOCK
    if tile_rows == 1:
        # Per-row scales are stored K-major ([K/128, R] in memory, returned as its [R, K/128] view): a GEMM
        # tile then reads its BM row scales of one K slice from contiguous memory.
        scales = torch.empty(n_c, n_r, dtype=torch.float32, device=x.device).T
    else:
        scales = torch.empty(n_r, n_c, dtype=torch.float32, device=x.device)
    if rows == 0:
        return codes, scales
    block_r = 128 if tile_rows == 128 else 32
    grid = (triton.cdiv(rows, block_r), cols // BLOCK)
    _quant_kernel[grid](
        x,
        codes,
        scales,
        rows,
        cols,
        x.stride(0),
        scales.stride(0),
        scales.stride(1),
        QMAX_=QMAX[fmt],
        AMAX_FLOOR_=AMAX_FLOOR,
        TILE_R=tile_rows,
        BLOCK_R=block_r,
        IS_FP8=fmt == "fp8",
        num_warps=8 if tile_rows == 128 else 4,
        enable_fp_fusion=False,
    )
    return codes, scales


@_quantize_op.register_fake
def _(x: Tensor, tile_rows: int, fmt: str) -> tuple[Tensor, Tensor]:
    rows, cols = x.shape
    codes = x.new_empty(rows, cols, dtype=CODE_DTYPE[fmt])
    n_r, n_c = -(-rows // tile_rows), cols // BLOCK
    if tile_rows == 1:
        return codes, x.new_empty(n_c, n_r, dtype=torch.float32).T
    return codes, x.new_empty(n_r, n_c, dtype=torch.float32)
