"""Device experiment (2026-12-03g): the K/V summary's first kernel with the [D, D] state computed in two
column halves of V (a third grid axis, adjacent programs), so each program's fp32 accumulator is [D, D/2]:
no spills at 4 warps (local sm_90 compile) for the price of evaluating the feature map twice. Writes the
same partials as ``sla.kernel_fwd._kv_summary_kernel`` (each half its columns of KV and of V's maxima;
K's sums from the first half), so ``summarize_kv``'s second kernel is reused unchanged.
"""

import torch
import triton
import triton.language as tl

from turbodiffusion.attention.sla import kernel_fwd as kf
from turbodiffusion.attention.sla.kernel_fwd import cast, feature_map, mma


@triton.jit
def _kv_summary_halves_kernel(
    K, V, KV, KSUM, KCOL, VMAX,
    skb, skl, skh, svb, svl, svh,
    H, L, ROWS_PER_SPLIT, SPLITS,
    D: tl.constexpr, DV: tl.constexpr, BLOCK_L: tl.constexpr, PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    pid_c = tl.program_id(0)
    pid_s = tl.program_id(1)
    pid_bh = tl.program_id(2)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    vcols = pid_c * DV + tl.arange(0, DV)
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    kv = tl.zeros([D, DV], dtype=tl.float32)
    ksum = tl.zeros([D], dtype=tl.float32)
    kcol = tl.zeros([D], dtype=tl.float32)
    vmax = tl.zeros([DV], dtype=tl.float32)
    start = pid_s * ROWS_PER_SPLIT
    for off in range(0, ROWS_PER_SPLIT, BLOCK_L):
        rows = start + off + tl.arange(0, BLOCK_L)
        ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        k = tl.load(k_base + rows[:, None] * skl + dims[None, :], mask=ok[:, None], other=0.0).to(tl.float32)
        v = tl.load(v_base + rows[:, None] * svl + vcols[None, :], mask=ok[:, None], other=0.0)
        kcol += tl.sum(k, 0)
        vmax = tl.maximum(vmax, tl.max(tl.abs(v.to(tl.float32)), 0))
        phi = tl.where(ok[:, None], feature_map(k), 0.0)
        ksum += tl.sum(phi, 0)
        kv = mma(tl.trans(cast(phi, v.dtype, PRECISION)), v, kv, PRECISION)
    out = pid_bh.to(tl.int64) * SPLITS + pid_s
    tl.store(KV + out * D * D + dims[:, None] * D + vcols[None, :], kv)
    tl.store(VMAX + out * D + vcols, vmax)
    if pid_c == 0:
        tl.store(KSUM + out * D + dims, ksum)
        tl.store(KCOL + out * D + dims, kcol)


def summarize_kv_halves(k, v, weight, block_l: int, num_warps: int, num_stages: int, per_sm: int):
    """``kf.summarize_kv(k, v, state=True, stats=True, weight=weight)`` with the column-split first kernel."""
    b, seq, h, d = k.shape
    target = kf.num_programs_target(k.device, per_sm)
    splits = max(1, min(triton.cdiv(seq, block_l), triton.cdiv(target, 2 * b * h)))
    rows = triton.cdiv(triton.cdiv(seq, splits), block_l) * block_l
    splits = triton.cdiv(seq, rows)
    f32 = dict(device=k.device, dtype=torch.float32)
    parts = [torch.empty(b * h, splits, d, d, **f32), torch.empty(b * h, splits, d, **f32)]
    parts += [torch.empty(b * h, splits, d, **f32), torch.empty(b * h, splits, d, **f32)]
    _kv_summary_halves_kernel[(2, splits, b * h)](
        k, v, *parts,
        k.stride(0), k.stride(1), k.stride(2), v.stride(0), v.stride(1), v.stride(2),
        h, seq, rows, splits,
        D=d, DV=d // 2, BLOCK_L=block_l, PRECISION=kf.dot_precision(k.dtype), WIDE=kf.needs_int64(k, v),
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    kv, ksum = torch.empty(b, h, d, d, device=k.device, dtype=k.dtype), torch.empty(b, h, d, **f32)
    k_mean, v_amax = torch.empty(b, h, d, **f32), torch.empty(b, h, d, **f32)
    m = torch.empty(b, h, d, d, device=k.device, dtype=k.dtype)
    kf._kv_summary_finalize_kernel[(b * h, d // 16)](
        *parts, weight.detach().contiguous(), kv, ksum, k_mean, v_amax, m, splits, seq,
        D=d, ROWS=16, STATE=True, STATS=True, PREMULTIPLY=True, PRECISION=kf.dot_precision(k.dtype), num_warps=4,
    )  # fmt: skip
    return kf.KVSummary(kv=kv, ksum=ksum, k_mean=k_mean, v_amax=v_amax, m=m)
