"""Frozen copy of the Sage attention kernel as it was at 1dad1f8 (before the int32 -> fp32 conversion by an
integer add and the one-FMA exponent), so sage_sweep.py can time both on the same inputs in one run."""

import triton
import triton.language as tl

from turbodiffusion.attention.sage.quant import round_to_e4m3_grid
from turbodiffusion.attention.sage.reference import LOG2_FP8_MAX
from turbodiffusion.attention.sla.kernel_fwd import cast, mma

_LOG2_FP8_MAX = tl.constexpr(LOG2_FP8_MAX)


@triton.jit
def _sage_fwd_kernel(
    QI, QS, KI, KS, VQ, VS, V, LUT, Out,
    svb, svl, svh, sob, sol, soh,
    H, L, LP, KP, NQB, NKB, MQ, NT, qk_scale,
    D: tl.constexpr, BLKQ: tl.constexpr, BLKK: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    SPARSE: tl.constexpr, LINEAR: tl.constexpr, PV_FP8: tl.constexpr, EMULATE_FP8: tl.constexpr,
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
    qs = tl.load(QS + pid_bh.to(tl.int64) * NQB + rows // BLKQ, mask=row_ok, other=0.0) * qk_scale
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
        if BLOCK_N <= BLKK:  # the tile lies in one scale block: one scalar, not a gather
            s = tl.dot(qi, tl.trans(ki)).to(tl.float32) * qs[:, None] * tl.load(ks_base + start // BLKK)
        else:
            ks = tl.load(ks_base + cols // BLKK, mask=col_ok, other=0.0)
            s = tl.dot(qi, tl.trans(ki)).to(tl.float32) * qs[:, None] * ks[None, :]
        if start + BLOCK_N > L:  # only the last key tile is partial; masking every tile costs ~15%
            s = tl.where(col_ok[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        alpha = tl.exp2(m_i - m_new)
        if PV_FP8:
            p = tl.exp2(s - (m_new - _LOG2_FP8_MAX)[:, None])  # P~ * 448: e4m3's whole range
            if EMULATE_FP8:
                p8 = round_to_e4m3_grid(p).to(tl.float8e4nv)
            else:
                p8 = p.to(tl.float8e4nv)
            vt = tl.load(vq_base + dims[:, None] * LP + cols[None, :])  # padded to LP: no mask needed
            acc = acc * alpha[:, None] + tl.dot(p8, tl.trans(vt))  # the row sum keeps the unrounded P~
        else:
            p = tl.exp2(s - m_new[:, None])
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


def _configs() -> list[triton.Config]:
    return [
        triton.Config({"BLOCK_M": bm}, num_warps=w, num_stages=s)
        for bm, w, s in ((128, 8, 2), (128, 8, 3), (64, 8, 2), (64, 8, 3), (64, 4, 3), (64, 4, 4))
    ]


def _prune(configs, named_args, **kwargs):
    # Triton passes the positional arguments as named_args and the constexprs (given by keyword) as kwargs.
    args = {**named_args, **kwargs}
    if not args["SPARSE"]:
        return configs
    kept = [c for c in configs if c.kwargs["BLOCK_M"] <= args["BLKQ"]]
    return kept or [triton.Config({"BLOCK_M": args["BLKQ"]}, num_warps=4, num_stages=2)]


_sage_fwd_tuned = triton.autotune(
    configs=_configs(),
    key=["D", "BLKQ", "BLKK", "BLOCK_N", "SPARSE", "LINEAR", "PV_FP8", "WIDE"],
    prune_configs_by={"early_config_prune": _prune},
    restore_value=["Out"],  # Out may hold the linear branch going in: each trial must start from it
)(_sage_fwd_kernel)
