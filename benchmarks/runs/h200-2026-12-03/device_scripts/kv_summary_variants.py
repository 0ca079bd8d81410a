"""Experimental copies of ``_kv_summary_kernel`` (at f1df61d) for the call-5 sweep: v1 = exp2 of a
log2(e)-scaled argument (Triton's exp2 is one MUFU.EX2; its exp adds a denormal range check) and phi =
e * (1 / sum) instead of e / sum; v2 = v1 with kv^T = v^T phi; v3 = the
current kernel with kv^T = v^T phi; v4 = v1 with k * log2(e) - max * log2(e) in one FMA and padded rows
zeroed through the row's reciprocal instead of a select per element."""

import triton
import triton.language as tl

from turbodiffusion.attention.sla.kernel_fwd import cast, mma

LOG2E = tl.constexpr(1.4426950408889634)


@triton.jit
def _kv_summary_kernel(
    K, V, KV, KSUM, KCOL, VMAX,
    skb, skl, skh, svb, svl, svh,
    H, L, ROWS_PER_SPLIT, SPLITS,
    D: tl.constexpr, BLOCK_L: tl.constexpr, STATE: tl.constexpr, STATS: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    """Partials over one split of the tokens. STATE: KV_part = phi(k)^T v [D, D], ksum_part = sum phi(k) [D].
    STATS: the column sums of k and the column maxima of |v| [D]."""
    pid_s = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    kv = tl.zeros([D, D], dtype=tl.float32)
    ksum = tl.zeros([D], dtype=tl.float32)
    kcol = tl.zeros([D], dtype=tl.float32)
    vmax = tl.zeros([D], dtype=tl.float32)
    start = pid_s * ROWS_PER_SPLIT
    for off in range(0, ROWS_PER_SPLIT, BLOCK_L):
        rows = start + off + tl.arange(0, BLOCK_L)
        ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        k = tl.load(k_base + rows[:, None] * skl + dims[None, :], mask=ok[:, None], other=0.0).to(tl.float32)
        v = tl.load(v_base + rows[:, None] * svl + dims[None, :], mask=ok[:, None], other=0.0)
        if STATS:  # masked rows load as zeros: they add nothing to either
            kcol += tl.sum(k, 0)
            vmax = tl.maximum(vmax, tl.max(tl.abs(v.to(tl.float32)), 0))
        if STATE:
            e = tl.exp(k - tl.max(k, 1)[:, None])
            phi = e / tl.sum(e, 1)[:, None]
            phi = tl.where(ok[:, None], phi, 0.0)  # padded rows would add a uniform 1/D each
            ksum += tl.sum(phi, 0)
            kv = mma(tl.trans(cast(phi, v.dtype, PRECISION)), v, kv, PRECISION)
    out = pid_bh.to(tl.int64) * SPLITS + pid_s
    if STATE:
        tl.store(KV + out * D * D + dims[:, None] * D + dims[None, :], kv)
        tl.store(KSUM + out * D + dims, ksum)
    if STATS:
        tl.store(KCOL + out * D + dims, kcol)
        tl.store(VMAX + out * D + dims, vmax)


@triton.jit
def _kv_summary_kernel_v1(
    K, V, KV, KSUM, KCOL, VMAX,
    skb, skl, skh, svb, svl, svh,
    H, L, ROWS_PER_SPLIT, SPLITS,
    D: tl.constexpr, BLOCK_L: tl.constexpr, STATE: tl.constexpr, STATS: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    """Partials over one split of the tokens. STATE: KV_part = phi(k)^T v [D, D], ksum_part = sum phi(k) [D].
    STATS: the column sums of k and the column maxima of |v| [D]."""
    pid_s = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    kv = tl.zeros([D, D], dtype=tl.float32)
    ksum = tl.zeros([D], dtype=tl.float32)
    kcol = tl.zeros([D], dtype=tl.float32)
    vmax = tl.zeros([D], dtype=tl.float32)
    start = pid_s * ROWS_PER_SPLIT
    for off in range(0, ROWS_PER_SPLIT, BLOCK_L):
        rows = start + off + tl.arange(0, BLOCK_L)
        ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        k = tl.load(k_base + rows[:, None] * skl + dims[None, :], mask=ok[:, None], other=0.0).to(tl.float32)
        v = tl.load(v_base + rows[:, None] * svl + dims[None, :], mask=ok[:, None], other=0.0)
        if STATS:  # masked rows load as zeros: they add nothing to either
            kcol += tl.sum(k, 0)
            vmax = tl.maximum(vmax, tl.max(tl.abs(v.to(tl.float32)), 0))
        if STATE:
            e = tl.exp2((k - tl.max(k, 1)[:, None]) * LOG2E)
            phi = e * (1.0 / tl.sum(e, 1))[:, None]
            phi = tl.where(ok[:, None], phi, 0.0)  # padded rows would add a uniform 1/D each
            ksum += tl.sum(phi, 0)
            kv = mma(tl.trans(cast(phi, v.dtype, PRECISION)), v, kv, PRECISION)
    out = pid_bh.to(tl.int64) * SPLITS + pid_s
    if STATE:
        tl.store(KV + out * D * D + dims[:, None] * D + dims[None, :], kv)
        tl.store(KSUM + out * D + dims, ksum)
    if STATS:
        tl.store(KCOL + out * D + dims, kcol)
        tl.store(VMAX + out * D + dims, vmax)


@triton.jit
def _kv_summary_kernel_v2(
    K, V, KV, KSUM, KCOL, VMAX,
    skb, skl, skh, svb, svl, svh,
    H, L, ROWS_PER_SPLIT, SPLITS,
    D: tl.constexpr, BLOCK_L: tl.constexpr, STATE: tl.constexpr, STATS: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    """Partials over one split of the tokens. STATE: KV_part = phi(k)^T v [D, D], ksum_part = sum phi(k) [D].
    STATS: the column sums of k and the column maxima of |v| [D]."""
    pid_s = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    kv = tl.zeros([D, D], dtype=tl.float32)
    ksum = tl.zeros([D], dtype=tl.float32)
    kcol = tl.zeros([D], dtype=tl.float32)
    vmax = tl.zeros([D], dtype=tl.float32)
    start = pid_s * ROWS_PER_SPLIT
    for off in range(0, ROWS_PER_SPLIT, BLOCK_L):
        rows = start + off + tl.arange(0, BLOCK_L)
        ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        k = tl.load(k_base + rows[:, None] * skl + dims[None, :], mask=ok[:, None], other=0.0).to(tl.float32)
        v = tl.load(v_base + rows[:, None] * svl + dims[None, :], mask=ok[:, None], other=0.0)
        if STATS:  # masked rows load as zeros: they add nothing to either
            kcol += tl.sum(k, 0)
            vmax = tl.maximum(vmax, tl.max(tl.abs(v.to(tl.float32)), 0))
        if STATE:
            e = tl.exp2((k - tl.max(k, 1)[:, None]) * LOG2E)
            phi = e * (1.0 / tl.sum(e, 1))[:, None]
            phi = tl.where(ok[:, None], phi, 0.0)  # padded rows would add a uniform 1/D each
            ksum += tl.sum(phi, 0)
            kv = mma(tl.trans(v), cast(phi, v.dtype, PRECISION), kv, PRECISION)  # kv^T
    out = pid_bh.to(tl.int64) * SPLITS + pid_s
    if STATE:
        tl.store(KV + out * D * D + dims[:, None] * D + dims[None, :], kv)
        tl.store(KSUM + out * D + dims, ksum)
    if STATS:
        tl.store(KCOL + out * D + dims, kcol)
        tl.store(VMAX + out * D + dims, vmax)


@triton.jit
def _kv_summary_kernel_v3(
    K, V, KV, KSUM, KCOL, VMAX,
    skb, skl, skh, svb, svl, svh,
    H, L, ROWS_PER_SPLIT, SPLITS,
    D: tl.constexpr, BLOCK_L: tl.constexpr, STATE: tl.constexpr, STATS: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    """Partials over one split of the tokens. STATE: KV_part = phi(k)^T v [D, D], ksum_part = sum phi(k) [D].
    STATS: the column sums of k and the column maxima of |v| [D]."""
    pid_s = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    kv = tl.zeros([D, D], dtype=tl.float32)
    ksum = tl.zeros([D], dtype=tl.float32)
    kcol = tl.zeros([D], dtype=tl.float32)
    vmax = tl.zeros([D], dtype=tl.float32)
    start = pid_s * ROWS_PER_SPLIT
    for off in range(0, ROWS_PER_SPLIT, BLOCK_L):
        rows = start + off + tl.arange(0, BLOCK_L)
        ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        k = tl.load(k_base + rows[:, None] * skl + dims[None, :], mask=ok[:, None], other=0.0).to(tl.float32)
        v = tl.load(v_base + rows[:, None] * svl + dims[None, :], mask=ok[:, None], other=0.0)
        if STATS:  # masked rows load as zeros: they add nothing to either
            kcol += tl.sum(k, 0)
            vmax = tl.maximum(vmax, tl.max(tl.abs(v.to(tl.float32)), 0))
        if STATE:
            e = tl.exp(k - tl.max(k, 1)[:, None])
            phi = e / tl.sum(e, 1)[:, None]
            phi = tl.where(ok[:, None], phi, 0.0)  # padded rows would add a uniform 1/D each
            ksum += tl.sum(phi, 0)
            kv = mma(tl.trans(v), cast(phi, v.dtype, PRECISION), kv, PRECISION)  # kv^T
    out = pid_bh.to(tl.int64) * SPLITS + pid_s
    if STATE:
        tl.store(KV + out * D * D + dims[:, None] * D + dims[None, :], kv)
        tl.store(KSUM + out * D + dims, ksum)
    if STATS:
        tl.store(KCOL + out * D + dims, kcol)
        tl.store(VMAX + out * D + dims, vmax)


@triton.jit
def _kv_summary_kernel_v4(
    K, V, KV, KSUM, KCOL, VMAX,
    skb, skl, skh, svb, svl, svh,
    H, L, ROWS_PER_SPLIT, SPLITS,
    D: tl.constexpr, BLOCK_L: tl.constexpr, STATE: tl.constexpr, STATS: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    """Partials over one split of the tokens. STATE: KV_part = phi(k)^T v [D, D], ksum_part = sum phi(k) [D].
    STATS: the column sums of k and the column maxima of |v| [D]."""
    pid_s = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    kv = tl.zeros([D, D], dtype=tl.float32)
    ksum = tl.zeros([D], dtype=tl.float32)
    kcol = tl.zeros([D], dtype=tl.float32)
    vmax = tl.zeros([D], dtype=tl.float32)
    start = pid_s * ROWS_PER_SPLIT
    for off in range(0, ROWS_PER_SPLIT, BLOCK_L):
        rows = start + off + tl.arange(0, BLOCK_L)
        ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        k = tl.load(k_base + rows[:, None] * skl + dims[None, :], mask=ok[:, None], other=0.0).to(tl.float32)
        v = tl.load(v_base + rows[:, None] * svl + dims[None, :], mask=ok[:, None], other=0.0)
        if STATS:  # masked rows load as zeros: they add nothing to either
            kcol += tl.sum(k, 0)
            vmax = tl.maximum(vmax, tl.max(tl.abs(v.to(tl.float32)), 0))
        if STATE:
            e = tl.exp2(k * LOG2E - (tl.max(k, 1) * LOG2E)[:, None])
            phi = e * tl.where(ok, 1.0 / tl.sum(e, 1), 0.0)[:, None]  # padded rows: 0, not a uniform 1/D
            ksum += tl.sum(phi, 0)
            kv = mma(tl.trans(cast(phi, v.dtype, PRECISION)), v, kv, PRECISION)
    out = pid_bh.to(tl.int64) * SPLITS + pid_s
    if STATE:
        tl.store(KV + out * D * D + dims[:, None] * D + dims[None, :], kv)
        tl.store(KSUM + out * D + dims, ksum)
    if STATS:
        tl.store(KCOL + out * D + dims, kcol)
        tl.store(VMAX + out * D + dims, vmax)
