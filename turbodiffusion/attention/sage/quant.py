"""Triton quantisers for Sage-style attention (shared/docs/attention.md §4-5); references in ``reference.py``.

- ``quantize_int8_triton``: [B, L, H, D] -> int8 codes [B, H, L, D] + fp32 scales [B, H, ceil(L / BLK)],
  per block of BLK tokens, optionally minus a per-channel mean (K smoothing). One read, one int8 write.
  K's codes can be row-padded like V^T (``pad_rows``), so key tiles load without masks.
  ``quantize_int8_pooled_triton`` also writes each block's mean as SLA's block selection pools it, from the
  same read (SageSLA's selection then reads no q or k of its own).
- ``quantize_v_fp8_triton``: [B, L, H, D] -> e4m3 V^T [B, H, D, L_pad] (tokens contiguous, as the FP8
  P.V product wants its K-major operand; L_pad a multiple of 128, zero-filled) and its per-channel scale,
  from the channel maxima.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, interpreting
from ..sla.kernel_fwd import cast, dot_precision, needs_int64
from .reference import INT8_SCALE_EPS

_INT8_SCALE_EPS = tl.constexpr(INT8_SCALE_EPS)  # kernels read module globals only as constexpr
V_PAD = 128  # V^T's token axis is padded to a multiple of this, so key tiles of up to 128 need no mask
# Warps of the V quantiser (128 x D a program). With 4, a D = 128 tile took 255 registers a thread and spilled
# 72-80 bytes on Triton 3.6 (167 registers on 3.9); with 16, 81 (63 on 3.9) and no spill. On an H100 the
# codes are the same and 16 warps cost 0.8-2.3% of the call: 0.0602 / 0.1820 / 0.4062 ms against 0.0597 /
# 0.1779 / 0.4015 at 1.3B-480p / 14B-480p / 14B-720p, at most 0.2 ms of a 14B-720p forward
# (benchmarks/runs/gpu-2026-12-06e); 8 warps were slower than 16.
V_QUANT_WARPS = 16


@triton.jit
def round_to_e4m3_grid(x):
    """Round fp32 x (|x| <= 448) to the nearest e4m3 value, ties to even, staying in fp32.

    Only for the CPU interpreter, whose own fp32 -> e4m3 cast is wrong on some inputs (Triton 3.9 rounds
    ties away from zero and drops the carry into the exponent, e.g. 31.0 -> 16). A value already on the
    grid then casts exactly. GPUs use the hardware cast (cvt.rn.satfinite), which this reproduces.
    """
    a = tl.abs(x)
    bits = a.to(tl.int32, bitcast=True)
    lsb = (bits >> 20) & 1
    normal = ((bits + 0x7FFFF + lsb) & -1048576).to(tl.float32, bitcast=True)  # keep 3 mantissa bits
    subnormal = (a + 16384.0) - 16384.0  # multiples of 2^-9 below 2^-6: fp32's own rounding does it
    r = tl.where(a < 0.015625, subnormal, normal)
    return tl.where(x < 0, -r, r)


@triton.jit
def _quantize_int8_kernel(
    X, MEAN, XQ, SCALE, POOLED,
    sxb, sxl, sxh,
    H, L, LC, NB,
    D: tl.constexpr, BLK: tl.constexpr, SMOOTH: tl.constexpr, WIDE: tl.constexpr, POOL: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    pid_blk = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    rows = pid_blk * BLK + tl.arange(0, BLK)
    ok = rows < L
    dims = tl.arange(0, D)
    if WIDE:
        rows = rows.to(tl.int64)
    x = tl.load(
        X + b.to(tl.int64) * sxb + h * sxh + rows[:, None] * sxl + dims[None, :], mask=ok[:, None], other=0.0
    )
    x = x.to(tl.float32)
    mean = tl.load(MEAN + pid_bh.to(tl.int64) * D + dims) if SMOOTH else None
    if POOL:
        # SLA's block selection pools the same rows (pool_kernel.py's arithmetic: k - mean rounded to x's
        # dtype, fp32 sums, the mean over the block's real rows), so it needs no read of its own.
        xp = x
        if SMOOTH:
            mean_x = cast(mean, X.dtype.element_ty, PRECISION).to(tl.float32)
            xp = cast(x - mean_x[None, :], X.dtype.element_ty, PRECISION).to(tl.float32)
            xp = tl.where(ok[:, None], xp, 0.0)
        count = tl.minimum(L - pid_blk * BLK, BLK).to(tl.float32)
        pooled = tl.math.div_rn(tl.sum(xp, 0), tl.zeros([D], dtype=tl.float32) + count)
        tl.store(
            POOLED + (pid_bh.to(tl.int64) * NB + pid_blk) * D + dims,
            cast(pooled, X.dtype.element_ty, PRECISION),
        )
    if SMOOTH:
        x = x - mean[None, :]
    x = tl.where(ok[:, None], x, 0.0)
    # IEEE division for the block's scale and its reciprocal, then one multiply per element (a division
    # per element cost more than the memory traffic): the reference does the same, so the codes match.
    scale = tl.math.div_rn(tl.max(tl.max(tl.abs(x), 1), 0), 127.0) + _INT8_SCALE_EPS
    c = x * tl.math.div_rn(1.0, scale)
    codes = (c + tl.where(c >= 0, 0.5, -0.5)).to(tl.int8)  # the cast truncates: round half away from zero
    # Rows past L (zeros: their x loaded as 0) are stored up to the padded length LC too.
    tl.store(
        XQ + pid_bh.to(tl.int64) * LC * D + rows[:, None] * D + dims[None, :],
        codes,
        mask=(rows < LC)[:, None],
    )
    tl.store(SCALE + pid_bh.to(tl.int64) * NB + pid_blk, scale)


def quantizer_warps(block: int) -> int:
    """Warps of the INT8 quantiser for blocks of ``block`` rows: one per 8 rows (2 to 16).

    On an H200 (benchmarks/runs/h200-2026-12-02g, sweep 3), K's 128-row blocks took 0.065 ms with 16 warps
    against 0.097 with 4 at 1.3B-480p (0.436 against 0.655 at 14B-720p); Q's 64-row blocks 0.058 with 8
    against 0.061 (0.389 against 0.396). The codes do not depend on it.
    """
    return max(2, block // 8)


def quantize_int8_triton(
    x: Tensor, block: int, mean: Tensor | None = None, *, pad_rows: bool = False
) -> tuple[Tensor, Tensor]:
    """Kernel twin of ``reference.quantize_int8_reference``: x [B, L, H, D] float, last dim contiguous;
    mean fp32 [B, H, D] or None. Returns (codes int8 [B, H, L, D], scale fp32 [B, H, ceil(L / block)]).

    pad_rows: codes are [B, H, L_pad, D] instead (L_pad = ceil(L / 128) * 128, zero rows past L), so the
    attention kernel can load whole key tiles of up to 128 rows without a mask.
    """
    codes, scale, _ = _quantize_int8(x, block, mean, pad_rows, pool=False)
    return codes, scale


def quantize_int8_pooled_triton(
    x: Tensor, block: int, mean: Tensor | None = None, *, pad_rows: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """``quantize_int8_triton`` that also pools each block as SLA's block selection does, from the same read
    of x: (codes, scale, pooled [B, H, ceil(L / block), D] in x's dtype), pooled equal to
    ``pool_kernel.pool_blocks_triton(x, block, mean)`` but for the fp32 summation order (a pooled value may
    differ by one unit in the last place of x's dtype). D must be a power of two."""
    return _quantize_int8(x, block, mean, pad_rows, pool=True)


def _quantize_int8(
    x: Tensor, block: int, mean: Tensor | None, pad_rows: bool, pool: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    b, seq, h, d = x.shape
    if x.stride(-1) != 1:
        raise ValueError(f"x must have a contiguous last dim (got strides {x.stride()})")
    if block not in (16, 32, 64, 128):
        raise ValueError(f"block must be 16, 32, 64 or 128 (got {block})")
    if mean is not None and (mean.shape != (b, h, d) or mean.dtype != torch.float32):
        raise ValueError(f"mean must be fp32 [{b}, {h}, {d}] (got {mean.dtype} {tuple(mean.shape)})")
    nb = triton.cdiv(seq, block)
    rows = triton.cdiv(seq, V_PAD) * V_PAD if pad_rows else seq
    codes = torch.empty((b, h, rows, d), device=x.device, dtype=torch.int8)
    codes[:, :, nb * block :].zero_()  # padding past the last block (none when block = 128)
    scale = torch.empty((b, h, nb), device=x.device, dtype=torch.float32)
    pooled = torch.empty((b, h, nb, d), device=x.device, dtype=x.dtype) if pool else None
    _quantize_int8_kernel[(nb, b * h)](
        x, mean if mean is not None else scale, codes, scale, pooled if pool else scale,
        x.stride(0), x.stride(1), x.stride(2),
        h, seq, rows, nb,
        D=d, BLK=block, SMOOTH=mean is not None, WIDE=needs_int64(x, codes), POOL=pool,
        PRECISION=dot_precision(x.dtype), num_warps=quantizer_warps(block), **FP_FUSION,
    )  # fmt: skip
    return codes, scale, pooled


@triton.jit
def _quantize_v_fp8_kernel(
    V, VA, VS, VQ,
    svb, svl, svh,
    H, L, LP, v_range,
    D: tl.constexpr, BLOCK_L: tl.constexpr, EMULATE: tl.constexpr, PERMUTE_KEYS: tl.constexpr,
    WIDE: tl.constexpr,
):  # fmt: skip
    # Python floats to fp32 first: torch.compile's Inductor passes them as fp64, which div_rn refuses.
    v_range = tl.cast(v_range, tl.float32)
    pid_l = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    rows = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    ok = rows < L
    dims = tl.arange(0, D)
    if WIDE:
        rows = rows.to(tl.int64)
    # The channel scales amax / v_range (1 for an all-zero channel), as reference.v_scale_of_amax.
    scale = tl.math.div_rn(tl.load(VA + pid_bh.to(tl.int64) * D + dims), tl.zeros([D], tl.float32) + v_range)
    scale = tl.where(scale > 0, scale, 1.0)
    if pid_l == 0:
        tl.store(VS + pid_bh.to(tl.int64) * D + dims, scale)
    v = tl.load(
        V + b.to(tl.int64) * svb + h * svh + rows[:, None] * svl + dims[None, :], mask=ok[:, None], other=0.0
    )
    x = v.to(tl.float32) * tl.math.div_rn(tl.full([D], 1.0, tl.float32), scale)[None, :]  # as the reference
    if EMULATE:
        x = round_to_e4m3_grid(x)
    vq_head = VQ + pid_bh.to(tl.int64) * D * LP
    if PERMUTE_KEYS:
        # key 16 jh + 8 j0 + 2 r + e of the tile to column 16 jh + 4 r + 2 j0 + e (key_permutation), done on
        # the transposed tile in registers so that the stores stay contiguous along the keys.
        xt = tl.trans(x.to(tl.float8e4nv))
        xt = xt.reshape([D, BLOCK_L // 16, 2, 4, 2]).permute(0, 1, 3, 2, 4).reshape([D, BLOCK_L])
        tl.store(vq_head + dims[:, None] * LP + (pid_l * BLOCK_L + tl.arange(0, BLOCK_L))[None, :], xt)
    else:
        tl.store(vq_head + dims[None, :] * LP + rows[:, None], x.to(tl.float8e4nv))


def key_permutation(block: int = V_PAD) -> Tensor:
    """sigma int64 [block]: with ``permute_keys``, key k of each tile of ``block`` keys sits at column
    sigma[k]: key 16 jh + 8 j0 + 2 r + e at 16 jh + 4 r + 2 j0 + e, so that the P~ values a thread of the sm_90
    kernel holds in the scores' accumulator layout are the ones it holds as the P~.V MMA's A operand
    (``kernel_wgmma._p_pack``)."""
    k = torch.arange(block)
    jh, j0, r, e = k // 16, (k // 8) % 2, (k // 2) % 4, k % 2
    return 16 * jh + 4 * r + 2 * j0 + e


def quantize_v_fp8_triton(
    v: Tensor, amax: Tensor, v_range: float, *, permute_keys: bool = False
) -> tuple[Tensor, Tensor]:
    """Kernel twin of ``reference.quantize_v_fp8_reference`` with its scale, transposed and padded.

    v: [B, L, H, D], last dim contiguous; amax: fp32 [B, H, D], max_L |v| per channel (``summarize_kv``).
    Returns (e4m3 V^T [B, H, D, L_pad], L_pad = ceil(L / 128) * 128, zeros past L; the scale fp32
    [B, H, D] = ``reference.v_scale_of_amax(amax, v_range)``), the scale computed in the same launch.
    ``permute_keys``: the keys of each 128-key tile in ``key_permutation``'s order (``kernel_wgmma``'s).
    """
    b, seq, h, d = v.shape
    if v.stride(-1) != 1:
        raise ValueError(f"v must have a contiguous last dim (got strides {v.stride()})")
    if amax.shape != (b, h, d) or amax.dtype != torch.float32:
        raise ValueError(f"amax must be fp32 [{b}, {h}, {d}] (got {amax.dtype} {tuple(amax.shape)})")
    lp = triton.cdiv(seq, V_PAD) * V_PAD
    vq = torch.empty((b, h, d, lp), device=v.device, dtype=torch.float8_e4m3fn)
    scale = torch.empty((b, h, d), device=v.device, dtype=torch.float32)
    _quantize_v_fp8_kernel[(lp // V_PAD, b * h)](
        v, amax.contiguous(), scale, vq,
        v.stride(0), v.stride(1), v.stride(2),
        h, seq, lp, float(v_range),
        D=d, BLOCK_L=V_PAD, EMULATE=interpreting(), PERMUTE_KEYS=permute_keys, WIDE=needs_int64(v, vq),
        num_warps=V_QUANT_WARPS, **FP_FUSION,
    )  # fmt: skip
    return vq, scale
