"""The K/V summary kernel with the state computed in two column halves (a third grid axis), compiled
only (commands.sh): state only, not wired anywhere."""

import triton
import triton.language as tl

from turbodiffusion.attention.sla.kernel_fwd import cast, feature_map, mma


@triton.jit
def _kv_summary_kernel(
    K,
    V,
    KV,
    KSUM,
    KCOL,
    VMAX,
    skb,
    skl,
    skh,
    svb,
    svl,
    svh,
    H,
    L,
    ROWS_PER_SPLIT,
    SPLITS,
    D: tl.constexpr,
    BLOCK_L: tl.constexpr,
    STATE: tl.constexpr,
    STATS: tl.constexpr,
    PRECISION: tl.constexpr,
    WIDE: tl.constexpr,
    DV: tl.constexpr,
):
    pid_s = tl.program_id(0)
    pid_bh = tl.program_id(1)
    pid_c = tl.program_id(2)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    vcols = pid_c * DV + tl.arange(0, DV)
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    kv = tl.zeros([D, DV], dtype=tl.float32)
    ksum = tl.zeros([D], dtype=tl.float32)
    start = pid_s * ROWS_PER_SPLIT
    for off in range(0, ROWS_PER_SPLIT, BLOCK_L):
        rows = start + off + tl.arange(0, BLOCK_L)
        ok = rows < L
        k = tl.load(k_base + rows[:, None] * skl + dims[None, :], mask=ok[:, None], other=0.0).to(tl.float32)
        v = tl.load(v_base + rows[:, None] * svl + vcols[None, :], mask=ok[:, None], other=0.0)
        phi = tl.where(ok[:, None], feature_map(k), 0.0)
        ksum += tl.sum(phi, 0)
        kv = mma(tl.trans(cast(phi, v.dtype, PRECISION)), v, kv, PRECISION)
    out = (pid_bh.to(tl.int64) * SPLITS + pid_s) * 2 + pid_c
    tl.store(KV + out * D * DV + dims[:, None] * DV + tl.arange(0, DV)[None, :], kv)
    tl.store(KSUM + out * D + dims, ksum)
