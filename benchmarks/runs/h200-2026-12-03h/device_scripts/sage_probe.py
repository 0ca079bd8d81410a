"""What bounds the sm_90 sparse Sage kernel? A frozen copy of ``kernel_wgmma._sage_sparse_wgmma_kernel`` at
657d349 (no linear epilogue) with switches that take one resource away at a time:

- ``REFILL=False``: only the first two K / V tiles are loaded; later tiles reuse the ring's stale bytes, so
  the loop reads nothing from L2 (same MMAs and softmax).
- ``SOFTMAX=False``: the tile's softmax is one FMA and the FP8 cast (no max, exp2 or row sum).
- ``MMA=False``: no Q.K^T or P~.V products (the scores are the bias constant, P~.V zero).

Outputs of the switched variants are meaningless; only their times are kept.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03h/device_scripts \
        python benchmarks/runs/h200-2026-12-03h/device_scripts/sage_probe.py OUT.json
"""

import json
import math
import sys

import torch
import triton
from graph_timing import time_ms
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import (
    fence_async_shared,
    mbarrier,
    warpgroup_mma,
    warpgroup_mma_wait,
)
from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

from turbodiffusion.attention.sage import kernel_wgmma as kw
from turbodiffusion.attention.sage.quant import quantize_int8_triton, quantize_v_fp8_triton
from turbodiffusion.attention.sla.block_map import topk_count
from turbodiffusion.attention.sla.kernel_fwd import LOG2E, summarize_kv

_LOG2_FP8_MAX = kw._LOG2_FP8_MAX
_INT32_BIAS = kw._INT32_BIAS
BQ, BK = kw.BLOCK_M, kw.BLOCK_N


@gluon.jit
def _cheap_tile(s, rs, m_i, l_i):
    x = s.to(gl.float32, bitcast=True)
    p = gl.fma(x, rs[:, None], -_INT32_BIAS)
    return p, gl.full(m_i.shape, 1.0, gl.float32, m_i.type.layout), m_i, l_i


@gluon.jit
def _probe_kernel(
    q_desc, k_desc, v_desc, QS, KS, VS, LUT, Out,
    sob, sol, soh, H, L, KP, NQB, NKB, MQ, NT, qk_scale,
    D: gl.constexpr, BLKQ: gl.constexpr, BLKK: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
    STAGES: gl.constexpr, REFILL: gl.constexpr, SOFTMAX: gl.constexpr, MMA: gl.constexpr,
    num_warps: gl.constexpr,
):  # fmt: skip
    pid_m = gl.program_id(0)
    pid_bh = gl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    s_layout: gl.constexpr = gl.NVMMADistributedLayout(
        version=[3, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, BLOCK_N, 32]
    )
    o_layout: gl.constexpr = gl.NVMMADistributedLayout(
        version=[3, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, D, 32]
    )
    p_smem_layout: gl.constexpr = gl.NVMMASharedLayout.get_default_for([BLOCK_M, BLOCK_N], gl.float8e4nv)
    row_layout: gl.constexpr = gl.SliceLayout(1, s_layout)

    q_smem = gl.allocate_shared_memory(gl.int8, [BLOCK_M, D], q_desc.layout)
    k_smem = gl.allocate_shared_memory(gl.int8, [STAGES, BLOCK_N, D], k_desc.layout)
    v_smem = gl.allocate_shared_memory(gl.float8e4nv, [STAGES, D, BLOCK_N], v_desc.layout)
    p_smem = gl.allocate_shared_memory(gl.float8e4nv, [2, BLOCK_M, BLOCK_N], p_smem_layout)
    q_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    k_bars = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    v_bars = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    mbarrier.init(q_bar, count=1)
    for i in gl.static_range(STAGES):
        mbarrier.init(k_bars.index(i), count=1)
        mbarrier.init(v_bars.index(i), count=1)

    lut_row = LUT + (pid_bh.to(gl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * NT
    k_row0 = pid_bh * KP
    v_row0 = pid_bh * D
    mbarrier.expect(q_bar, q_desc.block_type.nbytes)
    kw._tma_load(q_desc, [pid_bh * L + pid_m * BLOCK_M, 0], q_bar, q_smem)
    for i in gl.static_range(STAGES):
        start = kw._tile_start(lut_row, i, NT, BLOCK_N)
        kw._load_tile(k_desc, k_smem, k_bars, start, i, NT, k_row0, True, STAGES)
        kw._load_tile(v_desc, v_smem, v_bars, start, i, NT, v_row0, False, STAGES)

    rows = pid_m * BLOCK_M + gl.arange(0, BLOCK_M, layout=row_layout)
    qs = gl.load(QS + pid_bh.to(gl.int64) * NQB + rows // BLKQ, mask=rows < L, other=1.0) * qk_scale
    ks_base = KS + pid_bh.to(gl.int64) * NKB
    bias = gl.full([BLOCK_M, BLOCK_N], 0x4B400000, gl.int32, s_layout)
    zero_o = gl.zeros([BLOCK_M, D], gl.float32, o_layout)
    m_i = gl.full([BLOCK_M], float("-inf"), gl.float32, row_layout)
    l_i = gl.zeros([BLOCK_M], gl.float32, row_layout)
    o = gl.zeros([BLOCK_M, D], gl.float32, o_layout)

    mbarrier.wait(q_bar, 0)
    mbarrier.wait(k_bars.index(0), 0)
    if MMA:
        s = warpgroup_mma(q_smem, k_smem.index(0).permute((1, 0)), bias, is_async=True)
    else:
        s = bias
    start = kw._tile_start(lut_row, 0, NT, BLOCK_N)
    ks = gl.load(ks_base + start // BLKK)
    start_next = kw._tile_start(lut_row, 1, NT, BLOCK_N)
    ks_next = gl.load(ks_base + start_next // BLKK)
    if MMA:
        s = warpgroup_mma_wait(0, deps=(s,))
    k_start = kw._tile_start(lut_row, STAGES, NT, BLOCK_N)
    if REFILL:
        kw._load_tile(k_desc, k_smem, k_bars, k_start, STAGES, NT, k_row0, True, STAGES)
    k_start = kw._tile_start(lut_row, STAGES + 1, NT, BLOCK_N)
    if SOFTMAX:
        p, alpha, m_i, l_i = kw._softmax_tile(s, start, L, qs * ks, m_i, l_i, BLOCK_N, s_layout)
    else:
        p, alpha, m_i, l_i = _cheap_tile(s, qs * ks, m_i, l_i)
    p_smem.index(0).store(p.to(gl.float8e4nv))
    fence_async_shared()
    for t in range(1, NT):
        slot = t % STAGES
        prev = (t - 1) % STAGES
        start = start_next
        ks = ks_next
        start_next = kw._tile_start(lut_row, t + 1, NT, BLOCK_N)
        ks_next = gl.load(ks_base + start_next // BLKK)
        if REFILL:
            mbarrier.wait(k_bars.index(slot), (t // STAGES) & 1)
        elif t < STAGES:
            mbarrier.wait(k_bars.index(slot), 0)
        if MMA:
            s = warpgroup_mma(q_smem, k_smem.index(slot).permute((1, 0)), bias, is_async=True)
        if REFILL:
            mbarrier.wait(v_bars.index(prev), ((t - 1) // STAGES) & 1)
        elif t - 1 < STAGES:
            mbarrier.wait(v_bars.index(prev), 0)
        if MMA:
            pv = warpgroup_mma(
                p_smem.index((t - 1) % 2), v_smem.index(prev).permute((1, 0)), zero_o, use_acc=False,
                is_async=True,
            )  # fmt: skip
            s = warpgroup_mma_wait(1, deps=(s,))
        else:
            s = bias
            pv = zero_o
        if REFILL:
            kw._load_tile(k_desc, k_smem, k_bars, k_start, t + STAGES, NT, k_row0, True, STAGES)
        k_start = kw._tile_start(lut_row, t + STAGES + 1, NT, BLOCK_N)
        if SOFTMAX:
            p, alpha_t, m_i, l_i = kw._softmax_tile(s, start, L, qs * ks, m_i, l_i, BLOCK_N, s_layout)
        else:
            p, alpha_t, m_i, l_i = _cheap_tile(s, qs * ks, m_i, l_i)
        p_smem.index(t % 2).store(p.to(gl.float8e4nv))
        fence_async_shared()
        if MMA:
            pv = warpgroup_mma_wait(0, deps=(pv,))
        o = o * gl.convert_layout(alpha, gl.SliceLayout(1, o_layout))[:, None] + pv
        if REFILL:
            kw._load_tile(v_desc, v_smem, v_bars, start_next, t - 1 + STAGES, NT, v_row0, False, STAGES)
        alpha = alpha_t
    last = (NT - 1) % STAGES
    if REFILL:
        mbarrier.wait(v_bars.index(last), ((NT - 1) // STAGES) & 1)
    if MMA:
        pv = warpgroup_mma(
            p_smem.index((NT - 1) % 2), v_smem.index(last).permute((1, 0)), zero_o, use_acc=False,
            is_async=True,
        )  # fmt: skip
        pv = warpgroup_mma_wait(0, deps=(pv,))
    else:
        pv = zero_o
    o = o * gl.convert_layout(alpha, gl.SliceLayout(1, o_layout))[:, None] + pv

    rows_o = pid_m * BLOCK_M + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(1, o_layout))
    dims = gl.arange(0, D, layout=gl.SliceLayout(0, o_layout))
    row_ok = (rows_o < L)[:, None]
    o = o / gl.convert_layout(l_i + 1e-30, gl.SliceLayout(1, o_layout))[:, None]
    o = o * gl.load(VS + pid_bh.to(gl.int64) * D + dims)[None, :]
    mbarrier.invalidate(q_bar)
    for i in gl.static_range(STAGES):
        mbarrier.invalidate(k_bars.index(i))
        mbarrier.invalidate(v_bars.index(i))
    o_ptr = Out + b.to(gl.int64) * sob + h * soh + rows_o[:, None] * sol + dims[None, :]
    gl.store(o_ptr, o.to(Out.dtype.element_ty), mask=row_ok)


def run_probe(qi, qs, ki, ks, vq, vs, lut, out, refill=True, softmax=True, mma=True):
    b, h, seq, d = qi.shape
    kp, lp = ki.shape[2], vq.shape[-1]
    mq, nt = lut.shape[2], lut.shape[3]
    q2, k2, v2 = qi.view(b * h * seq, d), ki.view(b * h * kp, d), vq.view(b * h * d, lp)
    default = gl.NVMMASharedLayout.get_default_for
    q_desc = TensorDescriptor(q2, list(q2.shape), list(q2.stride()), [BQ, d], default([BQ, d], gl.int8))
    k_desc = TensorDescriptor(k2, list(k2.shape), list(k2.stride()), [BK, d], default([BK, d], gl.int8))
    v_desc = TensorDescriptor(v2, list(v2.shape), list(v2.stride()), [d, BK], default([d, BK], gl.float8e4nv))
    _probe_kernel[(triton.cdiv(seq, BQ), b * h)](
        q_desc, k_desc, v_desc, qs, ks, vs, lut, out, out.stride(0), out.stride(1), out.stride(2),
        h, seq, kp, qs.shape[-1], ks.shape[-1], mq, nt, LOG2E / math.sqrt(d),
        D=d, BLKQ=BQ, BLKK=BK, BLOCK_M=BQ, BLOCK_N=BK, STAGES=kw.STAGES, REFILL=refill, SOFTMAX=softmax,
        MMA=mma, num_warps=4,
    )  # fmt: skip
    return out


def inputs(b, h, seq, d, topk_ratio, seed):
    g = torch.Generator("cuda").manual_seed(seed)
    q, k, v = (torch.randn(b, seq, h, d, generator=g, device="cuda").to(torch.bfloat16) for _ in range(3))
    mq, nk = triton.cdiv(seq, BQ), triton.cdiv(seq, BK)
    nt = topk_count(topk_ratio, nk)
    scores = torch.rand(b, h, mq, nk, generator=g, device="cuda")
    lut = scores.topk(nt, dim=-1).indices.sort(dim=-1).values.to(torch.int32).contiguous()
    summary = summarize_kv(k, v, state=False, stats=True)
    qi, qs = quantize_int8_triton(q, BQ)
    ki, ks = quantize_int8_triton(k, BK, summary.k_mean, pad_rows=True)
    vq, vs = quantize_v_fp8_triton(v, summary.v_amax, 448.0)
    return q, (qi, qs, ki, ks, vq, vs, lut)


VARIANTS = {
    "probe_full": {},
    "no_refill": dict(refill=False),
    "cheap_softmax": dict(softmax=False),
    "no_mma": dict(mma=False),
    "no_mma_cheap_softmax": dict(mma=False, softmax=False),
    "no_refill_cheap_softmax": dict(refill=False, softmax=False),
    "no_refill_no_mma": dict(refill=False, mma=False),
}


def main(out_path):
    rows = []
    for name, (h, seq) in {"1.3b-480p": (12, 32760), "14b-720p": (40, 75600)}.items():
        q, x = inputs(1, h, seq, 128, 0.1, seed=1)
        o = torch.empty_like(q)
        ref = kw.sage_sparse_wgmma(*x, o.clone(), LOG2E / math.sqrt(128))
        got = run_probe(*x, o)
        row = dict(shape=name, nt=x[-1].shape[-1], probe_equals_kernel=bool(torch.equal(got, ref)))
        row["kernel_ms"] = time_ms(lambda x=x, o=o: kw.sage_sparse_wgmma(*x, o, LOG2E / math.sqrt(128)))
        for vname, flags in VARIANTS.items():
            row[f"{vname}_ms"] = time_ms(lambda x=x, o=o, f=flags: run_probe(*x, o, **f))
        row["kernel_again_ms"] = time_ms(lambda x=x, o=o: kw.sage_sparse_wgmma(*x, o, LOG2E / math.sqrt(128)))
        tiles = x[-1].numel()
        sms = torch.cuda.get_device_properties(0).multi_processor_count
        row["ns_per_tile_per_sm"] = row["kernel_ms"] * 1e6 / (tiles / sms)
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
