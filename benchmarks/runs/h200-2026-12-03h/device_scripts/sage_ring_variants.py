"""Two candidate restructurings of the sm_90 sparse Sage kernel (``kernel_wgmma`` at 657d349, no linear
epilogue), each meant to give the same outputs bit for bit:

- ``_ring_kernel``: separate ring depths for K (``SK``) and V (``SV``); (2, 2) is the kernel as it is. At
  two programs an SM, (2, 3) and (3, 2) still fit (104 KB of shared memory a program): V's refill of the
  kernel lands one tile before its use, K's two.
- ``PERM_P``: P~ stored with its keys permuted (``_store_p``: four 16-byte stores a thread instead of 32
  two-byte ones); V^T's keys must come permuted the same way (``permute_v``).
- ``_ws_kernel``: the TMA loads move to two one-warp worker partitions (``gl.warp_specialize``), one for K
  and one for V, each running ahead of the compute warpgroup as far as its ring allows; the compute
  warpgroup only waits for full slots and arrives on empty ones (no lut reads for coordinates, no
  barriers around the TMA issues in its loop).
"""

import math

import torch
import triton
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
from turbodiffusion.attention.sla.kernel_fwd import LOG2E

BQ, BK = kw.BLOCK_M, kw.BLOCK_N


@gluon.jit
def _epilogue(o, l_i, VS, Out, sob, sol, soh, b, h, pid_m, pid_bh, L, D: gl.constexpr,
              BLOCK_M: gl.constexpr, o_layout: gl.constexpr):  # fmt: skip
    rows_o = pid_m * BLOCK_M + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(1, o_layout))
    dims = gl.arange(0, D, layout=gl.SliceLayout(0, o_layout))
    row_ok = (rows_o < L)[:, None]
    o = o / gl.convert_layout(l_i, gl.SliceLayout(1, o_layout))[:, None]
    o = o * gl.load(VS + pid_bh.to(gl.int64) * D + dims)[None, :]
    o_ptr = Out + b.to(gl.int64) * sob + h * soh + rows_o[:, None] * sol + dims[None, :]
    gl.store(o_ptr, o.to(Out.dtype.element_ty), mask=row_ok)


@gluon.jit
def _store_p(dst, p, PERM_P: gl.constexpr):
    """P~ to shared memory in e4m3; with PERM_P its keys permuted so that each thread's 32 values of a row
    are contiguous: key 8j + 2c + e (c the thread's column pair in the accumulator layout) goes to column
    32c + 2j + e. V^T's keys must be permuted the same way for the product to be P~.V (timing only here)."""
    q = p.to(gl.float8e4nv)
    if PERM_P:
        m: gl.constexpr = p.shape[0]
        q = q.reshape([m, 16, 4, 2]).permute((0, 2, 1, 3)).reshape([m, 128])
    dst.store(q)


@gluon.jit
def _ring_kernel(
    q_desc, k_desc, v_desc, QS, KS, VS, LUT, Out,
    sob, sol, soh, H, L, KP, NQB, NKB, MQ, NT, qk_scale,
    D: gl.constexpr, BLKQ: gl.constexpr, BLKK: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
    SK: gl.constexpr, SV: gl.constexpr, PERM_P: gl.constexpr, num_warps: gl.constexpr,
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
    k_smem = gl.allocate_shared_memory(gl.int8, [SK, BLOCK_N, D], k_desc.layout)
    v_smem = gl.allocate_shared_memory(gl.float8e4nv, [SV, D, BLOCK_N], v_desc.layout)
    p_smem = gl.allocate_shared_memory(gl.float8e4nv, [2, BLOCK_M, BLOCK_N], p_smem_layout)
    q_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    k_bars = gl.allocate_shared_memory(gl.int64, [SK, 1], mbarrier.MBarrierLayout())
    v_bars = gl.allocate_shared_memory(gl.int64, [SV, 1], mbarrier.MBarrierLayout())
    mbarrier.init(q_bar, count=1)
    for i in gl.static_range(SK):
        mbarrier.init(k_bars.index(i), count=1)
    for i in gl.static_range(SV):
        mbarrier.init(v_bars.index(i), count=1)

    lut_row = LUT + (pid_bh.to(gl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * NT
    k_row0 = pid_bh * KP
    v_row0 = pid_bh * D
    mbarrier.expect(q_bar, q_desc.block_type.nbytes)
    kw._tma_load(q_desc, [pid_bh * L + pid_m * BLOCK_M, 0], q_bar, q_smem)
    for i in gl.static_range(SK):
        kw._load_tile(
            k_desc, k_smem, k_bars, kw._tile_start(lut_row, i, NT, BLOCK_N), i, NT, k_row0, True, SK
        )
    for i in gl.static_range(SV):
        kw._load_tile(
            v_desc, v_smem, v_bars, kw._tile_start(lut_row, i, NT, BLOCK_N), i, NT, v_row0, False, SV
        )  # fmt: skip

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
    s = warpgroup_mma(q_smem, k_smem.index(0).permute((1, 0)), bias, is_async=True)
    start = kw._tile_start(lut_row, 0, NT, BLOCK_N)
    ks = gl.load(ks_base + start // BLKK)
    start_next = kw._tile_start(lut_row, 1, NT, BLOCK_N)
    ks_next = gl.load(ks_base + start_next // BLKK)
    s = warpgroup_mma_wait(0, deps=(s,))
    kw._load_tile(k_desc, k_smem, k_bars, kw._tile_start(lut_row, SK, NT, BLOCK_N), SK, NT, k_row0, True, SK)
    k_start = kw._tile_start(lut_row, SK + 1, NT, BLOCK_N)  # the lut entries a tile early (latency)
    v_start = kw._tile_start(lut_row, SV, NT, BLOCK_N)
    p, alpha, m_i, l_i = kw._softmax_tile(s, start, L, qs * ks, m_i, l_i, BLOCK_N, s_layout)
    _store_p(p_smem.index(0), p, PERM_P)
    fence_async_shared()
    for t in range(1, NT):
        k_slot = t % SK
        v_prev = (t - 1) % SV
        start = start_next
        ks = ks_next
        start_next = kw._tile_start(lut_row, t + 1, NT, BLOCK_N)
        ks_next = gl.load(ks_base + start_next // BLKK)
        mbarrier.wait(k_bars.index(k_slot), (t // SK) & 1)
        s = warpgroup_mma(q_smem, k_smem.index(k_slot).permute((1, 0)), bias, is_async=True)
        mbarrier.wait(v_bars.index(v_prev), ((t - 1) // SV) & 1)
        pv = warpgroup_mma(
            p_smem.index((t - 1) % 2), v_smem.index(v_prev).permute((1, 0)), zero_o, use_acc=False,
            is_async=True,
        )  # fmt: skip
        s = warpgroup_mma_wait(1, deps=(s,))
        kw._load_tile(k_desc, k_smem, k_bars, k_start, t + SK, NT, k_row0, True, SK)
        k_start = kw._tile_start(lut_row, t + SK + 1, NT, BLOCK_N)
        p, alpha_t, m_i, l_i = kw._softmax_tile(s, start, L, qs * ks, m_i, l_i, BLOCK_N, s_layout)
        _store_p(p_smem.index(t % 2), p, PERM_P)
        fence_async_shared()
        pv = warpgroup_mma_wait(0, deps=(pv,))
        o = o * gl.convert_layout(alpha, gl.SliceLayout(1, o_layout))[:, None] + pv
        kw._load_tile(v_desc, v_smem, v_bars, v_start, t - 1 + SV, NT, v_row0, False, SV)
        v_start = kw._tile_start(lut_row, t + SV, NT, BLOCK_N)
        alpha = alpha_t
    last = (NT - 1) % SV
    mbarrier.wait(v_bars.index(last), ((NT - 1) // SV) & 1)
    pv = warpgroup_mma(
        p_smem.index((NT - 1) % 2), v_smem.index(last).permute((1, 0)), zero_o, use_acc=False, is_async=True
    )
    pv = warpgroup_mma_wait(0, deps=(pv,))
    o = o * gl.convert_layout(alpha, gl.SliceLayout(1, o_layout))[:, None] + pv
    mbarrier.invalidate(q_bar)
    for i in gl.static_range(SK):
        mbarrier.invalidate(k_bars.index(i))
    for i in gl.static_range(SV):
        mbarrier.invalidate(v_bars.index(i))
    _epilogue(o, l_i, VS, Out, sob, sol, soh, b, h, pid_m, pid_bh, L, D, BLOCK_M, o_layout)


@gluon.jit
def _ws_loader(
    desc, smem, ready, empty, lut_row, NT, row0, BLOCK_N: gl.constexpr, KEYS_ON_ROWS: gl.constexpr
):
    """Worker partition (one warp): every tile of one operand into its ring, as soon as a slot is empty."""
    S: gl.constexpr = smem.type.shape[0]
    for t in range(NT):
        slot = t % S
        mbarrier.wait(empty.index(slot), ((t // S) & 1) ^ 1)  # a fresh barrier counts as released
        start = gl.load(lut_row + t) * BLOCK_N
        mbarrier.expect(ready.index(slot), desc.block_type.nbytes)
        if KEYS_ON_ROWS:
            kw._tma_load(desc, [row0 + start, 0], ready.index(slot), smem.index(slot))
        else:
            kw._tma_load(desc, [row0, start], ready.index(slot), smem.index(slot))


@gluon.jit
def _ws_k_loader(k_desc, v_desc, k_smem, v_smem, k_ready, k_empty, v_ready, v_empty, lut_row, NT, k_row0,
                 v_row0, BLOCK_N: gl.constexpr):  # fmt: skip
    _ws_loader(k_desc, k_smem, k_ready, k_empty, lut_row, NT, k_row0, BLOCK_N, True)


@gluon.jit
def _ws_v_loader(k_desc, v_desc, k_smem, v_smem, k_ready, k_empty, v_ready, v_empty, lut_row, NT, k_row0,
                 v_row0, BLOCK_N: gl.constexpr):  # fmt: skip
    _ws_loader(v_desc, v_smem, v_ready, v_empty, lut_row, NT, v_row0, BLOCK_N, False)


@gluon.jit
def _ws_compute(q_smem, k_smem, v_smem, p_smem, q_bar, k_ready, k_empty, v_ready, v_empty, QS, KS, VS, Out,
                lut_row, sob, sol, soh, b, h, pid_m, pid_bh, L, NQB, NKB, NT, qk_scale,
                D: gl.constexpr, BLKQ: gl.constexpr, BLKK: gl.constexpr, BLOCK_M: gl.constexpr,
                BLOCK_N: gl.constexpr, PERM_P: gl.constexpr, num_warps: gl.constexpr):  # fmt: skip
    SK: gl.constexpr = k_smem.type.shape[0]
    SV: gl.constexpr = v_smem.type.shape[0]
    s_layout: gl.constexpr = gl.NVMMADistributedLayout(
        version=[3, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, BLOCK_N, 32]
    )
    o_layout: gl.constexpr = gl.NVMMADistributedLayout(
        version=[3, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, D, 32]
    )
    row_layout: gl.constexpr = gl.SliceLayout(1, s_layout)
    rows = pid_m * BLOCK_M + gl.arange(0, BLOCK_M, layout=row_layout)
    qs = gl.load(QS + pid_bh.to(gl.int64) * NQB + rows // BLKQ, mask=rows < L, other=1.0) * qk_scale
    ks_base = KS + pid_bh.to(gl.int64) * NKB
    bias = gl.full([BLOCK_M, BLOCK_N], 0x4B400000, gl.int32, s_layout)
    zero_o = gl.zeros([BLOCK_M, D], gl.float32, o_layout)
    m_i = gl.full([BLOCK_M], float("-inf"), gl.float32, row_layout)
    l_i = gl.zeros([BLOCK_M], gl.float32, row_layout)
    o = gl.zeros([BLOCK_M, D], gl.float32, o_layout)

    mbarrier.wait(q_bar, 0)
    mbarrier.wait(k_ready.index(0), 0)
    s = warpgroup_mma(q_smem, k_smem.index(0).permute((1, 0)), bias, is_async=True)
    start = kw._tile_start(lut_row, 0, NT, BLOCK_N)
    ks = gl.load(ks_base + start // BLKK)
    start_next = kw._tile_start(lut_row, 1, NT, BLOCK_N)
    ks_next = gl.load(ks_base + start_next // BLKK)
    s = warpgroup_mma_wait(0, deps=(s,))
    mbarrier.arrive(k_empty.index(0), count=1)
    p, alpha, m_i, l_i = kw._softmax_tile(s, start, L, qs * ks, m_i, l_i, BLOCK_N, s_layout)
    _store_p(p_smem.index(0), p, PERM_P)
    fence_async_shared()
    for t in range(1, NT):
        k_slot = t % SK
        v_prev = (t - 1) % SV
        start = start_next
        ks = ks_next
        start_next = kw._tile_start(lut_row, t + 1, NT, BLOCK_N)
        ks_next = gl.load(ks_base + start_next // BLKK)
        mbarrier.wait(k_ready.index(k_slot), (t // SK) & 1)
        s = warpgroup_mma(q_smem, k_smem.index(k_slot).permute((1, 0)), bias, is_async=True)
        mbarrier.wait(v_ready.index(v_prev), ((t - 1) // SV) & 1)
        pv = warpgroup_mma(
            p_smem.index((t - 1) % 2), v_smem.index(v_prev).permute((1, 0)), zero_o, use_acc=False,
            is_async=True,
        )  # fmt: skip
        s = warpgroup_mma_wait(1, deps=(s,))
        mbarrier.arrive(k_empty.index(k_slot), count=1)
        p, alpha_t, m_i, l_i = kw._softmax_tile(s, start, L, qs * ks, m_i, l_i, BLOCK_N, s_layout)
        _store_p(p_smem.index(t % 2), p, PERM_P)
        fence_async_shared()
        pv = warpgroup_mma_wait(0, deps=(pv,))
        mbarrier.arrive(v_empty.index(v_prev), count=1)
        o = o * gl.convert_layout(alpha, gl.SliceLayout(1, o_layout))[:, None] + pv
        alpha = alpha_t
    last = (NT - 1) % SV
    mbarrier.wait(v_ready.index(last), ((NT - 1) // SV) & 1)
    pv = warpgroup_mma(
        p_smem.index((NT - 1) % 2), v_smem.index(last).permute((1, 0)), zero_o, use_acc=False, is_async=True
    )
    pv = warpgroup_mma_wait(0, deps=(pv,))
    o = o * gl.convert_layout(alpha, gl.SliceLayout(1, o_layout))[:, None] + pv
    _epilogue(o, l_i, VS, Out, sob, sol, soh, b, h, pid_m, pid_bh, L, D, BLOCK_M, o_layout)


@gluon.jit
def _ws_kernel(
    q_desc, k_desc, v_desc, QS, KS, VS, LUT, Out,
    sob, sol, soh, H, L, KP, NQB, NKB, MQ, NT, qk_scale,
    D: gl.constexpr, BLKQ: gl.constexpr, BLKK: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
    SK: gl.constexpr, SV: gl.constexpr, PERM_P: gl.constexpr, LOADER_REGS: gl.constexpr,
    num_warps: gl.constexpr,
):  # fmt: skip
    pid_m = gl.program_id(0)
    pid_bh = gl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    p_smem_layout: gl.constexpr = gl.NVMMASharedLayout.get_default_for([BLOCK_M, BLOCK_N], gl.float8e4nv)
    q_smem = gl.allocate_shared_memory(gl.int8, [BLOCK_M, D], q_desc.layout)
    k_smem = gl.allocate_shared_memory(gl.int8, [SK, BLOCK_N, D], k_desc.layout)
    v_smem = gl.allocate_shared_memory(gl.float8e4nv, [SV, D, BLOCK_N], v_desc.layout)
    p_smem = gl.allocate_shared_memory(gl.float8e4nv, [2, BLOCK_M, BLOCK_N], p_smem_layout)
    q_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    k_ready = gl.allocate_shared_memory(gl.int64, [SK, 1], mbarrier.MBarrierLayout())
    k_empty = gl.allocate_shared_memory(gl.int64, [SK, 1], mbarrier.MBarrierLayout())
    v_ready = gl.allocate_shared_memory(gl.int64, [SV, 1], mbarrier.MBarrierLayout())
    v_empty = gl.allocate_shared_memory(gl.int64, [SV, 1], mbarrier.MBarrierLayout())
    mbarrier.init(q_bar, count=1)
    for i in gl.static_range(SK):
        mbarrier.init(k_ready.index(i), count=1)
        mbarrier.init(k_empty.index(i), count=1)
    for i in gl.static_range(SV):
        mbarrier.init(v_ready.index(i), count=1)
        mbarrier.init(v_empty.index(i), count=1)
    lut_row = LUT + (pid_bh.to(gl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * NT
    k_row0 = pid_bh * KP
    v_row0 = pid_bh * D
    mbarrier.expect(q_bar, q_desc.block_type.nbytes)
    kw._tma_load(q_desc, [pid_bh * L + pid_m * BLOCK_M, 0], q_bar, q_smem)
    loader_args = (
        k_desc, v_desc, k_smem, v_smem, k_ready, k_empty, v_ready, v_empty, lut_row, NT, k_row0, v_row0,
        BLOCK_N,
    )  # fmt: skip
    gl.warp_specialize(
        [
            (
                _ws_compute,
                (
                    q_smem,
                    k_smem,
                    v_smem,
                    p_smem,
                    q_bar,
                    k_ready,
                    k_empty,
                    v_ready,
                    v_empty,
                    QS,
                    KS,
                    VS,
                    Out,
                    lut_row,
                    sob,
                    sol,
                    soh,
                    b,
                    h,
                    pid_m,
                    pid_bh,
                    L,
                    NQB,
                    NKB,
                    NT,
                    qk_scale,
                    D,
                    BLKQ,
                    BLKK,
                    BLOCK_M,
                    BLOCK_N,
                    PERM_P,
                    num_warps,
                ),
            ),  # fmt: skip
            (_ws_k_loader, loader_args),
            (_ws_v_loader, loader_args),
        ],
        [1, 1],
        [LOADER_REGS, LOADER_REGS],
    )


def _descs(qi, ki, vq):
    b, h, seq, d = qi.shape
    kp, lp = ki.shape[2], vq.shape[-1]
    q2, k2, v2 = qi.view(b * h * seq, d), ki.view(b * h * kp, d), vq.view(b * h * d, lp)
    default = gl.NVMMASharedLayout.get_default_for
    q_desc = TensorDescriptor(q2, list(q2.shape), list(q2.stride()), [BQ, d], default([BQ, d], gl.int8))
    k_desc = TensorDescriptor(k2, list(k2.shape), list(k2.stride()), [BK, d], default([BK, d], gl.int8))
    v_desc = TensorDescriptor(v2, list(v2.shape), list(v2.stride()), [d, BK], default([d, BK], gl.float8e4nv))
    return q_desc, k_desc, v_desc


def run_ring(qi, qs, ki, ks, vq, vs, lut, out, sk=2, sv=2, perm_p=False):
    b, h, seq, d = qi.shape
    _ring_kernel[(triton.cdiv(seq, BQ), b * h)](
        *_descs(qi, ki, vq), qs, ks, vs, lut, out, out.stride(0), out.stride(1), out.stride(2),
        h, seq, ki.shape[2], qs.shape[-1], ks.shape[-1], lut.shape[2], lut.shape[3], LOG2E / math.sqrt(d),
        D=d, BLKQ=BQ, BLKK=BK, BLOCK_M=BQ, BLOCK_N=BK, SK=sk, SV=sv, PERM_P=perm_p, num_warps=4,
    )  # fmt: skip
    return out


def run_ws(qi, qs, ki, ks, vq, vs, lut, out, sk=2, sv=2, perm_p=False, maxnreg=128, loader_regs=24):
    b, h, seq, d = qi.shape
    _ws_kernel[(triton.cdiv(seq, BQ), b * h)](
        *_descs(qi, ki, vq), qs, ks, vs, lut, out, out.stride(0), out.stride(1), out.stride(2),
        h, seq, ki.shape[2], qs.shape[-1], ks.shape[-1], lut.shape[2], lut.shape[3], LOG2E / math.sqrt(d),
        D=d, BLKQ=BQ, BLKK=BK, BLOCK_M=BQ, BLOCK_N=BK, SK=sk, SV=sv, PERM_P=perm_p, LOADER_REGS=loader_regs, num_warps=4,
        maxnreg=maxnreg,
    )  # fmt: skip
    return out


def key_permutation(block_n=128):
    """sigma as an index tensor: key k of a tile goes to column sigma[k] (``_store_p``)."""
    k = torch.arange(block_n)
    return (k % 8) // 2 * (block_n // 4) + 2 * (k // 8) + k % 2


def permute_v(vq, block_n=128):
    """V^T [B, H, D, LP] with each tile's keys moved to sigma's columns (what PERM_P's P~ needs)."""
    sigma = key_permutation(block_n).to(vq.device)
    b, h, d, lp = vq.shape
    tiles = vq.view(torch.uint8).view(b, h, d, lp // block_n, block_n)  # fp8 has no index_put
    out = torch.empty_like(tiles)
    out[..., sigma] = tiles
    return out.view(b, h, d, lp).view(vq.dtype)
