"""The sm_90 Sage kernel with P~ handed to its P~.V product in registers (device script, 2026-12-05b; not yet
run on a GPU). ``kernel_wgmma`` stores P~ to shared memory and fences it before each P~.V; here P~ is the
warpgroup MMA's A operand in registers (FP8 A may come from registers when it is K-major, as P~ is).

The conversion from the scores' accumulator layout to the A operand's costs no data movement when each
thread's values land in its own registers: a thread holding accumulator columns 8j + 2r + e (j < 16, r its
column pair, e < 2) of a row must hold A columns 32c + 16h + 4r + e' (c < 4, h < 2, e' < 4). Writing
j = 2 jh + j0, the keys go to column 16 jh + 4 r + 2 j0 + e (``key_permutation_preg``): a reshape and a
permute that keep every value in its thread, so the layout conversion after it is an identity. V^T's keys
must come in that order (the device script permutes them; ``quant.py`` would get the order as an option).

Only the compute partition and the kernel that names it differ from ``kernel_wgmma``; ``sage_sparse_wgmma``
here runs the module's launcher with this kernel swapped in.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl
from torch import Tensor
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import mbarrier, warpgroup_mma, warpgroup_mma_wait

from turbodiffusion.attention.gluon_hopper import tma_load
from turbodiffusion.attention.sage import kernel as sage_kernel
from turbodiffusion.attention.sage import kernel_wgmma as kw
from turbodiffusion.attention.sage import quant
from turbodiffusion.attention.sage.kernel_wgmma import (
    _k_loader,
    _linear_branch,
    _ring_as,
    _ring_as_m,
    _softmax_tile,
    _tile_start,
    _v_loader,
)
from turbodiffusion.attention.sage.kernel_wgmma import sage_sparse_wgmma as _module_launcher
from turbodiffusion.kernel_device import interpreting


def key_permutation_preg(block: int = 128) -> Tensor:
    """sigma int64 [block]: key 16 jh + 8 j0 + 2 r + e of a tile goes to column 16 jh + 4 r + 2 j0 + e."""
    k = torch.arange(block)
    jh, j0, r, e = k // 16, (k // 8) % 2, (k // 2) % 4, k % 2
    return 16 * jh + 4 * r + 2 * j0 + e


# Four fp32 values -> four e4m3 in one int32, the first in the lowest byte (PTX's cvt puts its first source
# in the upper byte); the rounding of ``.to(gl.float8e4nv)`` on sm_90 (cvt.rn.satfinite).
_E4M3X4 = gl.constexpr("""{
.reg .b16 lo, hi;
cvt.rn.satfinite.e4m3x2.f32 lo, $2, $1;
cvt.rn.satfinite.e4m3x2.f32 hi, $4, $3;
mov.b32 $0, {lo, hi};
}""")


# The A operand's register order for a 64 x 128 tile at 4 warps: a thread's four consecutive keys, then the
# row 8 below, then the next 16 keys (PTX's wgmma fragment for 8-bit A).
_A_ORDER = gl.constexpr(
    gl.DistributedLinearLayout(
        reg_bases=[[0, 1], [0, 2], [8, 0], [0, 16], [0, 32], [0, 64]],
        lane_bases=[[0, 4], [0, 8], [1, 0], [2, 0], [4, 0]],
        warp_bases=[[16, 0], [32, 0]],
        block_bases=[],
        shape=[64, 128],
    )
)


@gluon.jit
def _p_pack(p):
    """P~ fp32 [64, 128] in the scores' accumulator layout (4 warps) -> int32 [64, 32]: each word four e4m3
    keys of ``key_permutation_preg``'s order, as the A operand's registers hold them. The permute keeps every
    value in its thread and the layout conversion renames 32-bit registers, so the only work is the cvts."""
    m: gl.constexpr = p.shape[0]
    n: gl.constexpr = p.shape[1]
    gl.static_assert(m == 64 and n == 128, "the register order is written out for 64 x 128 tiles")
    q = gl.convert_layout(p.reshape([m, n // 16, 2, 4, 2]).permute((0, 1, 3, 2, 4)).reshape([m, n]), _A_ORDER)
    lo, hi = q.reshape([m, n // 4, 2, 2]).split()  # by the key's bit 0
    k0, k2 = lo.split()
    k1, k3 = hi.split()
    return gl.inline_asm_elementwise(
        _E4M3X4, "=r,r,r,r,r", [k0, k1, k2, k3], dtype=gl.int32, is_pure=True, pack=1
    )


@gluon.jit
def _p_operand(words, o_layout: gl.constexpr):
    """int32 [64, 32] from ``_p_pack`` -> e4m3 [64, 128] in the P~.V MMA's A-operand layout. Each word is
    repeated over its four keys and the asm (four elements a call) hands back the first: the bytes stay in
    their register, which the MMA's operand packing then takes whole."""
    m: gl.constexpr = words.shape[0]
    n: gl.constexpr = words.shape[1] * 4
    w = gl.join(words, words)
    w = gl.join(w, w).reshape([m, n])
    w = gl.convert_layout(w, _A_ORDER)
    q = gl.inline_asm_elementwise(
        "mov.b32 $0, $1;", "=r,r,r,r,r", [w], dtype=gl.float8e4nv, is_pure=True, pack=4
    )
    return gl.convert_layout(q, gl.DotOperandLayout(operand_index=0, parent=o_layout, k_width=4))


@gluon.jit
def _attend_preg(
    m_desc, q_smem, k_smem, v_smem, q_bar, k_ready, k_empty, v_ready, v_empty, m_bar, QS, KS, VS, Out, QH,
    KSUM, BIAS, lut_row, sob, sol, soh, sqb, sql, sqh, b, h, pid_m, pid_bh, L, NQB, NKB, NT, qk_scale, eps,
    D: gl.constexpr, BLKQ: gl.constexpr, BLKK: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
    LINEAR: gl.constexpr, num_warps: gl.constexpr,
):  # fmt: skip
    """``kernel_wgmma._attend`` with P~ handed to P~.V in registers (``_p_operand``) instead of shared memory."""
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
    # Per-row dequantisation factor: the row's block scale with the softmax scale and log2(e) folded in.
    qs = gl.load(QS + pid_bh.to(gl.int64) * NQB + rows // BLKQ, mask=rows < L, other=1.0) * qk_scale
    ks_base = KS + pid_bh.to(gl.int64) * NKB
    bias = gl.full([BLOCK_M, BLOCK_N], 0x4B400000, gl.int32, s_layout)  # 1.5 * 2^23 as fp32 bits
    zero_o = gl.zeros([BLOCK_M, D], gl.float32, o_layout)
    m_i = gl.full([BLOCK_M], float("-inf"), gl.float32, row_layout)
    l_i = gl.zeros([BLOCK_M], gl.float32, row_layout)
    o = gl.zeros([BLOCK_M, D], gl.float32, o_layout)

    # Tile 0: its scores and P~; its P~.V is issued in the loop's first iteration. P~ crosses the loop's back
    # edge packed, four keys to an int32 (``_p_pack``): as 64 separate bytes it was repacked before every MMA
    # (a local sm_90 compile: ~120 byte permutes a tile).
    mbarrier.wait(q_bar, 0)
    mbarrier.wait(k_ready.index(0), 0)
    s = warpgroup_mma(q_smem, k_smem.index(0).permute((1, 0)), bias, is_async=True)
    start = _tile_start(lut_row, 0, NT, BLOCK_N)
    ks = gl.load(ks_base + start // BLKK)
    start_next = _tile_start(lut_row, 1, NT, BLOCK_N)
    ks_next = gl.load(ks_base + start_next // BLKK)
    s = warpgroup_mma_wait(0, deps=(s,))
    mbarrier.arrive(k_empty.index(0), count=1)
    p, alpha, m_i, l_i = _softmax_tile(s, start, L, qs * ks, m_i, l_i, BLOCK_N, s_layout)
    p_words = _p_pack(p)
    for t in range(1, NT):
        k_slot = t % SK
        v_prev = (t - 1) % SV
        start = start_next
        ks = ks_next
        start_next = _tile_start(lut_row, t + 1, NT, BLOCK_N)
        ks_next = gl.load(ks_base + start_next // BLKK)
        mbarrier.wait(k_ready.index(k_slot), (t // SK) & 1)
        s = warpgroup_mma(q_smem, k_smem.index(k_slot).permute((1, 0)), bias, is_async=True)
        mbarrier.wait(v_ready.index(v_prev), ((t - 1) // SV) & 1)
        pv = warpgroup_mma(
            _p_operand(p_words, o_layout), v_smem.index(v_prev).permute((1, 0)), zero_o, use_acc=False,
            is_async=True,
        )  # fmt: skip
        s = warpgroup_mma_wait(1, deps=(s,))  # Q.K^T done (issued first); P~.V may still run
        mbarrier.arrive(k_empty.index(k_slot), count=1)
        p, alpha_t, m_i, l_i = _softmax_tile(s, start, L, qs * ks, m_i, l_i, BLOCK_N, s_layout)
        pv = warpgroup_mma_wait(0, deps=(pv,))
        p_words = _p_pack(p)
        mbarrier.arrive(v_empty.index(v_prev), count=1)
        o = o * gl.convert_layout(alpha, gl.SliceLayout(1, o_layout))[:, None] + pv
        alpha = alpha_t
    last = (NT - 1) % SV
    mbarrier.wait(v_ready.index(last), ((NT - 1) // SV) & 1)
    pv = warpgroup_mma(
        _p_operand(p_words, o_layout),
        v_smem.index(last).permute((1, 0)),
        zero_o,
        use_acc=False,
        is_async=True,
    )
    pv = warpgroup_mma_wait(0, deps=(pv,))
    o = o * gl.convert_layout(alpha, gl.SliceLayout(1, o_layout))[:, None] + pv

    rows_o = pid_m * BLOCK_M + gl.arange(0, BLOCK_M, layout=gl.SliceLayout(1, o_layout))
    dims = gl.arange(0, D, layout=gl.SliceLayout(0, o_layout))
    row_ok = (rows_o < L)[:, None]
    o = o / gl.convert_layout(l_i, gl.SliceLayout(1, o_layout))[:, None]
    o = o * gl.load(VS + pid_bh.to(gl.int64) * D + dims)[None, :]
    if LINEAR:
        # The 16-bit product's own layout (its instruction is 16 deep, the FP8 ones 32): the same rows and
        # columns a thread, so the conversions below move nothing. m lies in the K ring (_k_loader).
        m_smem = _ring_as_m(k_smem, m_desc)
        # o waits in the V ring (free: every P~.V has finished; its 32 KB are o's at D = 128) while the
        # branch is formed: the compute warps hold at most 232 registers, and o (64 a thread) on top of the
        # branch's spilled in a local sm_90 compile with Triton 3.9.
        o_smem = _ring_as(v_smem, gl.float32, [BLOCK_M, D])
        o_smem.store(o)
        lin_layout: gl.constexpr = gl.NVMMADistributedLayout(
            version=[3, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, D, 16]
        )
        rows_l = gl.convert_layout(rows_o, gl.SliceLayout(1, lin_layout))
        dims_l = gl.arange(0, D, layout=gl.SliceLayout(0, lin_layout))
        y = _linear_branch(
            QH + b.to(gl.int64) * sqb + h * sqh + rows_l[:, None] * sql + dims_l[None, :],
            (rows_l < L)[:, None], m_smem, m_bar, KSUM + pid_bh.to(gl.int64) * D + dims_l, BIAS + dims_l, eps,
            lin_layout,
        )  # fmt: skip
        o = o_smem.load(o_layout) + gl.convert_layout(y, o_layout)
    o_ptr = Out + b.to(gl.int64) * sob + h * soh + rows_o[:, None] * sol + dims[None, :]
    gl.store(o_ptr, o.to(Out.dtype.element_ty), mask=row_ok)


@gluon.jit
def _sage_sparse_wgmma_kernel_preg(
    q_desc, k_desc, v_desc, m_desc, QS, KS, VS, LUT, Out, QH, KSUM, BIAS,
    sob, sol, soh, sqb, sql, sqh,
    H, L, KP, NQB, NKB, MQ, NT, qk_scale, eps,
    D: gl.constexpr, BLKQ: gl.constexpr, BLKK: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
    STAGES: gl.constexpr, LOADER_REGS: gl.constexpr, LINEAR: gl.constexpr, num_warps: gl.constexpr,
):  # fmt: skip
    pid_m = gl.program_id(0)
    pid_bh = gl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    q_smem = gl.allocate_shared_memory(gl.int8, [BLOCK_M, D], q_desc.layout)
    k_smem = gl.allocate_shared_memory(gl.int8, [STAGES, BLOCK_N, D], k_desc.layout)
    v_smem = gl.allocate_shared_memory(gl.float8e4nv, [STAGES, D, BLOCK_N], v_desc.layout)
    q_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    m_bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    k_ready = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    k_empty = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    v_ready = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    v_empty = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    mbarrier.init(q_bar, count=1)
    mbarrier.init(m_bar, count=1)
    for i in gl.static_range(STAGES):
        mbarrier.init(k_ready.index(i), count=1)
        mbarrier.init(k_empty.index(i), count=1)
        mbarrier.init(v_ready.index(i), count=1)
        mbarrier.init(v_empty.index(i), count=1)

    lut_row = LUT + (pid_bh.to(gl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * NT
    # Q rows past L belong to the next head (or lie past the tensor: TMA fills zeros); their outputs are
    # not stored.
    mbarrier.expect(q_bar, q_desc.block_type.nbytes)
    tma_load(q_desc, [pid_bh * L + pid_m * BLOCK_M, 0], q_bar, q_smem)
    # The partitions' arguments are written out in the call: constexprs passed through a tuple variable would
    # arrive as tensors.
    gl.warp_specialize(
        [
            (_attend_preg, (
                m_desc, q_smem, k_smem, v_smem, q_bar, k_ready, k_empty, v_ready, v_empty, m_bar, QS, KS,
                VS, Out, QH, KSUM, BIAS, lut_row, sob, sol, soh, sqb, sql, sqh, b, h, pid_m, pid_bh, L, NQB, NKB,
                NT, qk_scale, eps, D, BLKQ, BLKK, BLOCK_M, BLOCK_N, LINEAR, num_warps,
            )),
            (_k_loader, (
                k_desc, v_desc, m_desc, k_smem, v_smem, k_ready, k_empty, v_ready, v_empty, m_bar, lut_row, NT,
                pid_bh * KP, pid_bh * D, pid_bh, D, BLOCK_N, LINEAR,
            )),
            (_v_loader, (
                k_desc, v_desc, m_desc, k_smem, v_smem, k_ready, k_empty, v_ready, v_empty, m_bar, lut_row, NT,
                pid_bh * KP, pid_bh * D, pid_bh, D, BLOCK_N, LINEAR,
            )),
        ],
        [1, 1],
        [LOADER_REGS, LOADER_REGS],
    )  # fmt: skip


def sage_sparse_wgmma(*args, **kwargs):
    """The module's launcher with this kernel (V^T's keys in ``key_permutation_preg``'s order)."""
    saved = kw._sage_sparse_wgmma_kernel
    kw._sage_sparse_wgmma_kernel = _sage_sparse_wgmma_kernel_preg
    try:
        return _module_launcher(*args, **kwargs)
    finally:
        kw._sage_sparse_wgmma_kernel = saved


@triton.jit
def _quantize_v_fp8_preg_kernel(
    V, VA, VS, VQ, svb, svl, svh, H, L, LP, v_range, D: tl.constexpr, BLOCK_L: tl.constexpr, EMULATE: tl.constexpr,
):  # fmt: skip
    """``quant._quantize_v_fp8_kernel`` (GPU, int32 offsets) with the keys of each tile in
    ``key_permutation_preg``'s order."""
    pid_l = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    rows = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    ok = rows < L
    dims = tl.arange(0, D)
    scale = tl.math.div_rn(tl.load(VA + pid_bh.to(tl.int64) * D + dims), tl.zeros([D], tl.float32) + v_range)
    scale = tl.where(scale > 0, scale, 1.0)
    if pid_l == 0:
        tl.store(VS + pid_bh.to(tl.int64) * D + dims, scale)
    v = tl.load(
        V + b.to(tl.int64) * svb + h * svh + rows[:, None] * svl + dims[None, :], mask=ok[:, None], other=0.0
    )
    x = v.to(tl.float32) * tl.math.div_rn(tl.full([D], 1.0, tl.float32), scale)[None, :]
    if EMULATE:
        x = quant.round_to_e4m3_grid(x)
    xt = tl.trans(x.to(tl.float8e4nv))
    xt = xt.reshape([D, BLOCK_L // 16, 2, 4, 2]).permute(0, 1, 3, 2, 4).reshape([D, BLOCK_L])
    vq_head = VQ + pid_bh.to(tl.int64) * D * LP
    tl.store(vq_head + dims[:, None] * LP + (pid_l * BLOCK_L + tl.arange(0, BLOCK_L))[None, :], xt)


def quantize_v_fp8_preg(v: Tensor, amax: Tensor, v_range: float, *, permute_keys: bool = False):
    """``quant.quantize_v_fp8_triton`` with ``permute_keys`` meaning ``key_permutation_preg``'s order."""
    if not permute_keys:
        return quant.quantize_v_fp8_triton(v, amax, v_range)
    b, seq, h, d = v.shape
    lp = triton.cdiv(seq, quant.V_PAD) * quant.V_PAD
    vq = torch.empty((b, h, d, lp), device=v.device, dtype=torch.float8_e4m3fn)
    scale = torch.empty((b, h, d), device=v.device, dtype=torch.float32)
    _quantize_v_fp8_preg_kernel[(lp // quant.V_PAD, b * h)](
        v, amax.contiguous(), scale, vq, v.stride(0), v.stride(1), v.stride(2), h, seq, lp, float(v_range),
        D=d, BLOCK_L=quant.V_PAD, EMULATE=interpreting(), num_warps=4,
    )  # fmt: skip
    return vq, scale


@contextlib.contextmanager
def preg_path():
    """``sage_forward_triton`` with this kernel and its V^T order while the block runs."""
    saved = sage_kernel.quantize_v_fp8_triton, kw.sage_sparse_wgmma
    sage_kernel.quantize_v_fp8_triton, kw.sage_sparse_wgmma = quantize_v_fp8_preg, sage_sparse_wgmma
    try:
        yield
    finally:
        sage_kernel.quantize_v_fp8_triton, kw.sage_sparse_wgmma = saved
