"""SLA backward in Triton: gradients of q, k, v and proj_l (shared/docs/attention.md §2-3).

Three launches, after the forward saved o_s, lse and the linear state (``kernel_fwd.SLASaved``):
1. ``_sla_bwd_linear_kernel``, grid (splits, B*H): the query side of the linear branch and proj_l. Per
   row: delta = rowsum(dO * o_s), o_l recomputed, dq_lin through phi = softmax; per split, partial sums
   of dKV = phi(q)^T dnum, dksum, dW = dO^T o_l and db (summed over splits on the host).
2. ``_sla_bwd_dq_kernel``, grid (ceil(L / BLOCK_M), B*H): the sparse dQ over the lut, plus dq_lin.
3. ``_sla_bwd_dkdv_kernel``, grid (Nk, B*H): each program owns one key block and walks the query blocks
   that selected it (the transposed lut), accumulating dK, dV; then adds the linear branch's key side,
   dk_lin through phi(k) and dv_lin = phi(k) dKV.

FLOPs (executed): the sparse part is 2.5x the forward's (5 products of [rows, BLKK, D] per selected
tile instead of 2), the linear part about 12 * B * H * L * D^2. Gradients do not flow into the selection.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, autotune, interpreting
from .block_map import transpose_selection
from .kernel_fwd import (
    LOG2E,
    SLASaved,
    cast,
    check_kernel_inputs,
    dot_precision,
    feature_map,
    launch,
    mma,
    needs_int64,
)
from .kernel_fwd import num_programs_target as _programs


@triton.jit
def _sla_bwd_linear_kernel(
    Q, DO, OS, KV, KSUM, W, DQLIN, DELTA, DKV, DZ, DW, DB,
    sqb, sql, sqh, sdb, sdl, sdh, sob, sol, soh,
    H, L, ROWS_PER_SPLIT, SPLITS, eps,
    D: tl.constexpr, BLOCK_M: tl.constexpr, PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    # Python floats to fp32 first: torch.compile's Inductor passes them as fp64 (Triton's launcher as fp32).
    eps = tl.cast(eps, tl.float32)
    pid_s = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    mat = dims[:, None] * D + dims[None, :]
    kv = tl.load(KV + pid_bh.to(tl.int64) * D * D + mat)  # KV / L, compute dtype
    ksum = tl.load(KSUM + pid_bh.to(tl.int64) * D + dims)  # ksum / L, fp32
    w = tl.load(W + mat)  # proj_l weight [D_out, D_in], compute dtype
    dkv = tl.zeros([D, D], dtype=tl.float32)
    dw = tl.zeros([D, D], dtype=tl.float32)
    dz = tl.zeros([D], dtype=tl.float32)
    db = tl.zeros([D], dtype=tl.float32)
    q_base = Q + b.to(tl.int64) * sqb + h * sqh
    do_base = DO + b.to(tl.int64) * sdb + h * sdh
    os_base = OS + b.to(tl.int64) * sob + h * soh
    start = pid_s * ROWS_PER_SPLIT
    for off in range(0, ROWS_PER_SPLIT, BLOCK_M):
        rows = start + off + tl.arange(0, BLOCK_M)
        ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        q = tl.load(q_base + rows[:, None] * sql + dims[None, :], mask=ok[:, None], other=0.0)
        do = tl.load(do_base + rows[:, None] * sdl + dims[None, :], mask=ok[:, None], other=0.0)
        o_s = tl.load(os_base + rows[:, None] * sol + dims[None, :], mask=ok[:, None], other=0.0)
        tl.store(
            DELTA + pid_bh.to(tl.int64) * L + rows, tl.sum(do.to(tl.float32) * o_s.to(tl.float32), 1), mask=ok
        )
        phi = feature_map(q.to(tl.float32))
        den = eps + tl.sum(phi * ksum[None, :], 1)
        o_l = (
            mma(cast(phi, kv.dtype, PRECISION), kv, tl.zeros([BLOCK_M, D], tl.float32), PRECISION)
            / den[:, None]
        )
        dol = mma(do, w, tl.zeros([BLOCK_M, D], tl.float32), PRECISION)  # rows past L have dO = 0, so add 0
        dden = -tl.sum(dol * o_l, 1) / den
        dnum = dol / den[:, None]
        dphi = mma(
            cast(dnum, kv.dtype, PRECISION), tl.trans(kv), tl.zeros([BLOCK_M, D], tl.float32), PRECISION
        )
        dphi += dden[:, None] * ksum[None, :]
        dq_lin = phi * (dphi - tl.sum(dphi * phi, 1)[:, None])
        tl.store(
            DQLIN + pid_bh.to(tl.int64) * L * D + rows[:, None] * D + dims[None, :], dq_lin, mask=ok[:, None]
        )
        dkv = mma(tl.trans(cast(phi, kv.dtype, PRECISION)), cast(dnum, kv.dtype, PRECISION), dkv, PRECISION)
        dz += tl.sum(phi * dden[:, None], 0)
        dw = mma(tl.trans(do), cast(o_l, do.dtype, PRECISION), dw, PRECISION)
        db += tl.sum(do.to(tl.float32), 0)
    part = pid_bh.to(tl.int64) * SPLITS + pid_s
    tl.store(DKV + part * D * D + mat, dkv)
    tl.store(DW + part * D * D + mat, dw)
    tl.store(DZ + part * D + dims, dz)
    tl.store(DB + part * D + dims, db)


def _configs(block_m: tuple[int, ...]) -> list[triton.Config]:
    return [
        triton.Config({"BLOCK_M": bm}, num_warps=w, num_stages=s)
        for bm in block_m
        for w, s in ((4, 2), (4, 3), (8, 2), (8, 3))
    ]


def _prune(configs, named_args, **kwargs):
    # Triton passes the positional arguments as named_args and the constexprs (given by keyword) as kwargs.
    block_q = {**named_args, **kwargs}["BLKQ"]
    kept = [c for c in configs if c.kwargs["BLOCK_M"] <= block_q]
    return kept or [triton.Config({"BLOCK_M": block_q}, num_warps=4, num_stages=2)]


@triton.jit
def _sla_bwd_dq_kernel(
    Q, K, V, DO, LUT, LSE, DELTA, DQLIN, DQ,
    sqb, sql, sqh, skb, skl, skh, svb, svl, svh, sdb, sdl, sdh, sgb, sgl, sgh,
    H, L, MQ, TOPK, qk_scale, sm_scale,
    D: tl.constexpr, BLKQ: tl.constexpr, BLKK: tl.constexpr, BLOCK_M: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    # Python floats to fp32 first: torch.compile's Inductor passes them as fp64 (Triton's launcher as fp32).
    qk_scale = tl.cast(qk_scale, tl.float32)
    sm_scale = tl.cast(sm_scale, tl.float32)
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    ok = rows < L
    dims = tl.arange(0, D)
    if WIDE:
        rows = rows.to(tl.int64)
    q = tl.load(
        Q + b.to(tl.int64) * sqb + h * sqh + rows[:, None] * sql + dims[None, :], mask=ok[:, None], other=0.0
    )
    do = tl.load(
        DO + b.to(tl.int64) * sdb + h * sdh + rows[:, None] * sdl + dims[None, :], mask=ok[:, None], other=0.0
    )
    lse = tl.load(LSE + pid_bh.to(tl.int64) * L + rows, mask=ok, other=0.0)
    delta = tl.load(DELTA + pid_bh.to(tl.int64) * L + rows, mask=ok, other=0.0)
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    lut_row = LUT + (pid_bh.to(tl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * TOPK
    dq = tl.zeros([BLOCK_M, D], dtype=tl.float32)
    for t in range(TOPK):
        cols = tl.load(lut_row + t) * BLKK + tl.arange(0, BLKK)
        col_ok = cols < L
        if WIDE:
            cols = cols.to(tl.int64)
        k = tl.load(k_base + cols[:, None] * skl + dims[None, :], mask=col_ok[:, None], other=0.0)
        v = tl.load(v_base + cols[:, None] * svl + dims[None, :], mask=col_ok[:, None], other=0.0)
        s = mma(q, tl.trans(k), tl.zeros([BLOCK_M, BLKK], tl.float32), PRECISION) * qk_scale
        p = tl.where(col_ok[None, :], tl.exp2(s - lse[:, None]), 0.0)
        dp = mma(do, tl.trans(v), tl.zeros([BLOCK_M, BLKK], tl.float32), PRECISION)
        ds = p * (dp - delta[:, None])
        dq = mma(cast(ds, k.dtype, PRECISION), k, dq, PRECISION)
    dq = dq * sm_scale + tl.load(
        DQLIN + pid_bh.to(tl.int64) * L * D + rows[:, None] * D + dims[None, :], mask=ok[:, None], other=0.0
    )
    tl.store(
        DQ + b.to(tl.int64) * sgb + h * sgh + rows[:, None] * sgl + dims[None, :],
        cast(dq, DQ.dtype.element_ty, PRECISION),
        mask=ok[:, None],
    )


@triton.jit
def _sla_bwd_dkdv_kernel(
    Q, K, V, DO, QLUT, QCOUNT, LSE, DELTA, DKV, DKSUM, DK, DV,
    sqb, sql, sqh, skb, skl, skh, svb, svl, svh, sdb, sdl, sdh, sgb, sgl, sgh,
    H, L, NK, MQ, qk_scale, sm_scale,
    D: tl.constexpr, BLKQ: tl.constexpr, BLKK: tl.constexpr, BLOCK_M: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    # Python floats to fp32 first: torch.compile's Inductor passes them as fp64 (Triton's launcher as fp32).
    qk_scale = tl.cast(qk_scale, tl.float32)
    sm_scale = tl.cast(sm_scale, tl.float32)
    pid_n = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    cols = pid_n * BLKK + tl.arange(0, BLKK)
    col_ok = cols < L
    dims = tl.arange(0, D)
    if WIDE:
        cols = cols.to(tl.int64)
    k = tl.load(
        K + b.to(tl.int64) * skb + h * skh + cols[:, None] * skl + dims[None, :],
        mask=col_ok[:, None],
        other=0.0,
    )
    v = tl.load(
        V + b.to(tl.int64) * svb + h * svh + cols[:, None] * svl + dims[None, :],
        mask=col_ok[:, None],
        other=0.0,
    )
    q_base = Q + b.to(tl.int64) * sqb + h * sqh
    do_base = DO + b.to(tl.int64) * sdb + h * sdh
    dk = tl.zeros([BLKK, D], dtype=tl.float32)
    dv = tl.zeros([BLKK, D], dtype=tl.float32)
    lut_row = QLUT + (pid_bh.to(tl.int64) * NK + pid_n) * MQ
    count = tl.load(QCOUNT + pid_bh.to(tl.int64) * NK + pid_n)
    for t in range(count):
        first = tl.load(lut_row + t) * BLKQ
        for sub in tl.static_range(BLKQ // BLOCK_M):
            rows = first + sub * BLOCK_M + tl.arange(0, BLOCK_M)
            ok = rows < L
            if WIDE:
                rows = rows.to(tl.int64)
            q = tl.load(q_base + rows[:, None] * sql + dims[None, :], mask=ok[:, None], other=0.0)
            do = tl.load(do_base + rows[:, None] * sdl + dims[None, :], mask=ok[:, None], other=0.0)
            lse = tl.load(LSE + pid_bh.to(tl.int64) * L + rows, mask=ok, other=float("inf"))  # p = 0 past L
            delta = tl.load(DELTA + pid_bh.to(tl.int64) * L + rows, mask=ok, other=0.0)
            s_t = mma(k, tl.trans(q), tl.zeros([BLKK, BLOCK_M], tl.float32), PRECISION) * qk_scale
            p_t = tl.exp2(s_t - lse[None, :])
            dv = mma(cast(p_t, do.dtype, PRECISION), do, dv, PRECISION)
            dp_t = mma(v, tl.trans(do), tl.zeros([BLKK, BLOCK_M], tl.float32), PRECISION)
            ds_t = p_t * (dp_t - delta[None, :])
            dk = mma(cast(ds_t, q.dtype, PRECISION), q, dk, PRECISION)
    dk *= sm_scale
    # Linear branch, key side: KV = phi(k)^T v and ksum = sum phi(k) feed every query row.
    mat = dims[:, None] * D + dims[None, :]
    dkv = tl.load(DKV + pid_bh.to(tl.int64) * D * D + mat)  # compute dtype
    dksum = tl.load(DKSUM + pid_bh.to(tl.int64) * D + dims)  # fp32
    phi = feature_map(k.to(tl.float32))
    dphi = mma(v, tl.trans(dkv), tl.zeros([BLKK, D], tl.float32), PRECISION) + dksum[None, :]
    dk += phi * (dphi - tl.sum(dphi * phi, 1)[:, None])
    dv = mma(cast(phi, dkv.dtype, PRECISION), dkv, dv, PRECISION)
    tl.store(
        DK + b.to(tl.int64) * sgb + h * sgh + cols[:, None] * sgl + dims[None, :],
        cast(dk, DK.dtype.element_ty, PRECISION),
        mask=col_ok[:, None],
    )
    tl.store(
        DV + b.to(tl.int64) * sgb + h * sgh + cols[:, None] * sgl + dims[None, :],
        cast(dv, DV.dtype.element_ty, PRECISION),
        mask=col_ok[:, None],
    )


_sla_bwd_dq_tuned = autotune(
    configs=_configs((64, 128)),
    key=["D", "BLKQ", "BLKK", "WIDE"],
    prune_configs_by={"early_config_prune": _prune},
)(_sla_bwd_dq_kernel)
_sla_bwd_dkdv_tuned = autotune(
    configs=_configs((32, 64)),
    key=["D", "BLKQ", "BLKK", "WIDE"],
    prune_configs_by={"early_config_prune": _prune},
)(_sla_bwd_dkdv_kernel)


def sla_backward_triton(
    do: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    lut: Tensor,
    block_map: Tensor,
    weight: Tensor,
    saved: SLASaved,
    *,
    block_q: int,
    block_k: int,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients of SLA. do, q, k, v: [B, L, H, D]; lut [B, H, Mq, topk]; block_map int8 [B, H, Mq, Nk].

    Returns (dq, dk, dv in the inputs' dtype and [B, L, H, D] contiguous, dW [D, D] and db [D] fp32).
    """
    check_kernel_inputs(q, k, v)
    do = do.contiguous()
    if do.shape != q.shape or do.dtype != q.dtype:
        raise ValueError(f"do must be {tuple(q.shape)} {q.dtype} (got {tuple(do.shape)} {do.dtype})")
    b, seq, h, d = q.shape
    mq, nk = block_map.shape[-2:]
    wide = needs_int64(q, k, v, do)
    precision = dot_precision(q.dtype)
    qk_scale, sm_scale = LOG2E / math.sqrt(d), 1.0 / math.sqrt(d)

    # 1. Linear branch, query side, and delta.
    block_m = 64 if interpreting() else 32
    splits = max(1, min(triton.cdiv(seq, block_m), triton.cdiv(_programs(q.device), b * h)))
    rows = triton.cdiv(triton.cdiv(seq, splits), block_m) * block_m
    splits = triton.cdiv(seq, rows)
    delta = torch.empty((b, h, seq), device=q.device, dtype=torch.float32)
    dq_lin = torch.empty((b, h, seq, d), device=q.device, dtype=torch.float32)
    part = dict(device=q.device, dtype=torch.float32)
    dkv_p, dw_p = torch.empty((b * h, splits, d, d), **part), torch.empty((b * h, splits, d, d), **part)
    dz_p, db_p = torch.empty((b * h, splits, d), **part), torch.empty((b * h, splits, d), **part)
    w = weight.detach().to(q.dtype).contiguous()
    o_s = saved.o_s
    _sla_bwd_linear_kernel[(splits, b * h)](
        q, do, o_s, saved.kv, saved.ksum, w, dq_lin, delta, dkv_p, dz_p, dw_p, db_p,
        q.stride(0), q.stride(1), q.stride(2), do.stride(0), do.stride(1), do.stride(2),
        o_s.stride(0), o_s.stride(1), o_s.stride(2),
        h, seq, rows, splits, saved.eps,
        D=d, BLOCK_M=block_m, PRECISION=precision, WIDE=wide, num_warps=8 if d == 128 else 4, num_stages=2,
        **FP_FUSION,
    )  # fmt: skip
    # The forward used KV / L and ksum / L, so their true gradients carry another 1 / L.
    dkv = (dkv_p.sum(1) / seq).to(q.dtype).contiguous()
    dksum = (dz_p.sum(1) / seq).contiguous()
    dw, db = dw_p.sum((0, 1)), db_p.sum((0, 1))

    # 2. Sparse dQ (+ dq_lin).
    dq = torch.empty_like(q, memory_format=torch.contiguous_format)
    lut32 = lut.to(dtype=torch.int32).contiguous()
    grid = lambda meta: (triton.cdiv(seq, meta["BLOCK_M"]), b * h)  # noqa: E731
    launch(
        _sla_bwd_dq_kernel, _sla_bwd_dq_tuned, grid,
        q, k, v, do, lut32, saved.lse, delta, dq_lin, dq,
        q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2), do.stride(0), do.stride(1), do.stride(2),
        dq.stride(0), dq.stride(1), dq.stride(2),
        h, seq, mq, lut.shape[3], qk_scale, sm_scale,
        D=d, BLKQ=block_q, BLKK=block_k, PRECISION=precision, WIDE=wide,
    )  # fmt: skip

    # 3. Sparse dK, dV over the transposed selection (+ the linear branch's key side).
    qlut, qcount = transpose_selection(block_map)
    dk = torch.empty_like(k, memory_format=torch.contiguous_format)
    dv = torch.empty_like(v, memory_format=torch.contiguous_format)
    launch(
        _sla_bwd_dkdv_kernel, _sla_bwd_dkdv_tuned, (nk, b * h),
        q, k, v, do, qlut, qcount, saved.lse, delta, dkv, dksum, dk, dv,
        q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2), do.stride(0), do.stride(1), do.stride(2),
        dk.stride(0), dk.stride(1), dk.stride(2),
        h, seq, nk, mq, qk_scale, sm_scale,
        D=d, BLKQ=block_q, BLKK=block_k, PRECISION=precision, WIDE=wide,
    )  # fmt: skip
    return dq, dk, dv, dw, db
