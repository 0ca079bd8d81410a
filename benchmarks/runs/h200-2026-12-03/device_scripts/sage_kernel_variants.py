"""Experimental variants of the Sage kernel (2026-12-03 sweep): FOLD takes the int32 -> fp32 bias off in the
row max and the exponent's FMA instead of one float subtract per score. A copy of the kernel at 4ffa7f8."""

import triton
import triton.language as tl

from turbodiffusion.attention.sage.kernel import int32_to_fp32
from turbodiffusion.attention.sage.quant import round_to_e4m3_grid
from turbodiffusion.attention.sla.kernel_fwd import cast, mma

_LOG2_FP8_MAX = tl.constexpr(8.807354922057604)


@triton.jit
def _sage_fwd_kernel(
    QI, QS, KI, KS, VQ, VS, V, LUT, Out,
    svb, svl, svh, sob, sol, soh,
    H, L, LP, KP, NQB, NKB, MQ, NT, qk_scale,
    D: tl.constexpr, BLKQ: tl.constexpr, BLKK: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    SPARSE: tl.constexpr, LINEAR: tl.constexpr, FOLD: tl.constexpr, PV_FP8: tl.constexpr, EMULATE_FP8: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < L
    dims = tl.arange(0, D)
    if WIDE:
        rows = rows.to(tl.int64)
    bh_ld = pid_bh.to(tl.int64) * L * D
    ki_base = KI + pid_bh.to(tl.int64) * KP * D
    qi = tl.load(QI + bh_ld + rows[:, None] * D + dims[None, :], mask=row_ok[:, None], other=0)
    # Per-row dequantisation factor: the row's block scale with the softmax scale and log2(e) folded in.
    qs = tl.load(QS + pid_bh.to(tl.int64) * NQB + rows // BLKQ, mask=row_ok, other=1.0) * qk_scale
    ks_base = KS + pid_bh.to(tl.int64) * NKB
    vq_base = VQ + pid_bh.to(tl.int64) * D * LP
    v_base = V + b.to(tl.int64) * svb + h * svh
    lut_row = LUT + (pid_bh.to(tl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * NT
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, D], dtype=tl.float32)
    for t in range(NT):
        if SPARSE:
            start = tl.load(lut_row + t) * BLOCK_N
        else:
            start = t * BLOCK_N
        cols = start + tl.arange(0, BLOCK_N)
        col_ok = cols < L
        if WIDE:
            cols = cols.to(tl.int64)
        ki = tl.load(ki_base + cols[:, None] * D + dims[None, :])  # rows padded to KP: no mask needed
        if FOLD:  # x holds 1.5 * 2^23 + the dot: the bias comes off in the row max and the exponent's FMA
            x = (tl.dot(qi, tl.trans(ki)) + 0x4B400000).to(tl.float32, bitcast=True)
        else:
            x = int32_to_fp32(tl.dot(qi, tl.trans(ki)))
        if BLOCK_N <= BLKK:  # the tile lies in one scale block: s = x * rs, one scale per row
            rs = qs * tl.load(ks_base + start // BLKK)
        else:
            rs = qs
            x = x * tl.load(ks_base + cols // BLKK, mask=col_ok, other=0.0)[None, :]
        if start + BLOCK_N > L:  # only the last key tile is partial; masking every tile costs ~15%
            x = tl.where(col_ok[None, :], x, float("-inf"))
        if FOLD:
            m_new = tl.maximum(m_i, (tl.max(x, 1) - 12582912.0) * rs)
            bias = 12582912.0 * rs
        else:
            m_new = tl.maximum(m_i, tl.max(x, 1) * rs)  # rs > 0 and rounding is monotonic: = max of s exactly
            bias = 0.0 * rs
        alpha = tl.exp2(m_i - m_new)
        if PV_FP8:
            p = tl.exp2(x * rs[:, None] - (bias + m_new - _LOG2_FP8_MAX)[:, None])  # P~ * 448
            if EMULATE_FP8:
                p8 = round_to_e4m3_grid(p).to(tl.float8e4nv)
            else:
                p8 = p.to(tl.float8e4nv)
            vt = tl.load(vq_base + dims[:, None] * LP + cols[None, :])  # padded to LP: no mask needed
            acc = acc * alpha[:, None] + tl.dot(p8, tl.trans(vt))  # the row sum keeps the unrounded P~
        else:
            p = tl.exp2(x * rs[:, None] - m_new[:, None])
            v = tl.load(v_base + cols[:, None] * svl + dims[None, :], mask=col_ok[:, None], other=0.0)
            acc = mma(cast(p, v.dtype, PRECISION), v, acc * alpha[:, None], PRECISION)
        l_i = l_i * alpha + tl.sum(p, 1)
        m_i = m_new
    o = acc / l_i[:, None]
    if PV_FP8:
        o = o * tl.load(VS + pid_bh.to(tl.int64) * D + dims)[None, :]
    o_ptr = Out + b.to(tl.int64) * sob + h * soh + rows[:, None] * sol + dims[None, :]
    if LINEAR:  # SageSLA: Out holds proj_l(linear branch), written by linear_branch_triton
        o += tl.load(o_ptr, mask=row_ok[:, None], other=0.0).to(tl.float32)
    tl.store(o_ptr, cast(o, Out.dtype.element_ty, PRECISION), mask=row_ok[:, None])


@triton.jit
def _sage_sparse_skewed_kernel(
    QI, QS, KI, KS, VQ, VS, V, LUT, Out,
    svb, svl, svh, sob, sol, soh,
    H, L, LP, KP, NQB, NKB, MQ, NT, qk_scale,
    D: tl.constexpr, BLKQ: tl.constexpr, BLKK: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    SPARSE: tl.constexpr, LINEAR: tl.constexpr, FOLD: tl.constexpr, PV_FP8: tl.constexpr,
    EMULATE_FP8: tl.constexpr, PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    """Sparse, FP8 P.V, BLOCK_N == BLKK only: the Q.K^T of tile t + 1 is issued before tile t's softmax."""
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < L
    dims = tl.arange(0, D)
    bh_ld = pid_bh.to(tl.int64) * L * D
    ki_base = KI + pid_bh.to(tl.int64) * KP * D
    qi = tl.load(QI + bh_ld + rows[:, None] * D + dims[None, :], mask=row_ok[:, None], other=0)
    qs = tl.load(QS + pid_bh.to(tl.int64) * NQB + rows // BLKQ, mask=row_ok, other=1.0) * qk_scale
    ks_base = KS + pid_bh.to(tl.int64) * NKB
    vq_base = VQ + pid_bh.to(tl.int64) * D * LP
    lut_row = LUT + (pid_bh.to(tl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * NT
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, D], dtype=tl.float32)
    start = tl.load(lut_row) * BLOCK_N
    ki = tl.load(ki_base + (start + tl.arange(0, BLOCK_N))[:, None] * D + dims[None, :])
    xi = tl.dot(qi, tl.trans(ki)) + 0x4B400000
    for t in range(NT):
        nxt = tl.load(lut_row + tl.minimum(t + 1, NT - 1)) * BLOCK_N
        ki = tl.load(ki_base + (nxt + tl.arange(0, BLOCK_N))[:, None] * D + dims[None, :])
        xi_next = tl.dot(qi, tl.trans(ki)) + 0x4B400000
        x = xi.to(tl.float32, bitcast=True)
        cols = start + tl.arange(0, BLOCK_N)
        rs = qs * tl.load(ks_base + start // BLKK)
        if start + BLOCK_N > L:
            x = tl.where((cols < L)[None, :], x, float("-inf"))
        m_new = tl.maximum(m_i, (tl.max(x, 1) - 12582912.0) * rs)
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(x * rs[:, None] - (12582912.0 * rs + m_new - _LOG2_FP8_MAX)[:, None])
        if EMULATE_FP8:
            p8 = round_to_e4m3_grid(p).to(tl.float8e4nv)
        else:
            p8 = p.to(tl.float8e4nv)
        vt = tl.load(vq_base + dims[:, None] * LP + cols[None, :])
        acc = acc * alpha[:, None] + tl.dot(p8, tl.trans(vt))
        l_i = l_i * alpha + tl.sum(p, 1)
        m_i = m_new
        xi = xi_next
        start = nxt
    o = acc / l_i[:, None]
    o = o * tl.load(VS + pid_bh.to(tl.int64) * D + dims)[None, :]
    o_ptr = Out + b.to(tl.int64) * sob + h * soh + rows[:, None] * sol + dims[None, :]
    if LINEAR:
        o += tl.load(o_ptr, mask=row_ok[:, None], other=0.0).to(tl.float32)
    tl.store(o_ptr, cast(o, Out.dtype.element_ty, PRECISION), mask=row_ok[:, None])
