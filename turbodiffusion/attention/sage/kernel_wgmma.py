"""The sparse Sage kernel for Hopper (sm_90) in Gluon: the same algorithm and rounding as ``kernel.py``'s
``_sage_fwd_kernel`` for SageSLA's sm90 blocks (64 query rows, 128-key tiles, FP8 P.V), with the tensor-core
products issued asynchronously so that a program's softmax runs while the products of the SM's other program
are in flight.

Why a second kernel: Triton waits for every warpgroup MMA right after issuing it, so a program of the Triton
kernel alternates between its MMAs and its softmax and the SM is idle half the time (~1,560 cycles a 64 x 128
tile against ~800 of issue; benchmarks/runs/h200-2026-12-03). Gluon exposes ``warpgroup_mma(is_async=True)``
and its wait, so the order is chosen here. Each iteration t of the loop:

1. issues Q.K^T of tile t (int8, accumulator preset to 1.5 * 2^23's bits: ``biased_fp32``, 64 register moves),
2. issues P~.V of tile t-1 (e4m3 P~ from registers, a fresh fp32 accumulator: two-level accumulation),
3. waits for Q.K^T, runs tile t's online softmax and packs its P~ into the A operand's registers,
4. waits for P~.V and adds it to the running output: o = o * alpha(t-1) + P~V(t-1), as ``kernel.py`` does.

As compiled (ptxas of Triton 3.6 and 3.9, local sm_90 SASS), step 4's wait comes before the softmax: the
softmax's first instruction reuses a register of P~.V's A operand, which may only be overwritten once that MMA
is done. So a program's two products both finish before its softmax starts, and the overlap is between the
SM's two programs. On an H200 (benchmarks/runs/h200-2026-12-05c): that order written out (one wait, both ring
slots released together, the lut read two tiles ahead) gave the same outputs bit for bit and no gain with the
linear branch (a 14B-720p layer 16.13-16.17 against 16.04-16.08 ms); two compute warpgroups a program issuing
in turn (FlashAttention-3's ping-pong) were 8% slower, as they had been with P~ in shared memory
(h200-2026-12-04: 3-12%). Nsight Compute's stall samples of this loop at 14B-720p:
23% issuing, 28% waiting on fixed-latency results (a third of those behind the exp2s), 13% waiting for the
MMAs, and 11% on register moves (64 of the loop's 74 are the presets).

For SageSLA the epilogue adds the linear branch (``_linear_branch``: phi(q) m / (eps + phi(q) . ksum) + bias
with m = KV W^T, proj_l folded in, formed once a head by the K/V summary's second kernel): q is read in 16
bits, phi goes to a 16-bit warpgroup MMA as a register operand and m arrives by TMA into the K ring, free
once the last Q.K^T is done, so shared memory stays at two programs an SM. Loading q's tile by TMA into
shared memory at the program's start, or m into shared memory of its own at the start, gave the same outputs
and no gain on an H100 (benchmarks/runs/gpu-2026-12-06e). The Triton kernel instead adds what
``linear_branch_triton`` parked in Out; that kernel's read of q and write and re-read of its result are gone
here, and the branch is added before the output's single rounding rather than rounded on its own first. On an
H200 (benchmarks/runs/h200-2026-12-03d) the two kernels took 32.7 + 4.1 ms of a 1.3B-480p forward, this one
35.1 ms; whole forwards against the Triton path 1.016x at 1.3B-480p, 1.010x at 14B-720p (1.010x / 1.006x
before the epilogue held the branch).

K and V tiles arrive by TMA at the lut's offsets into rings of ``STAGES`` buffers, each refilled as soon as
the MMA reading it has finished. Two one-warp loader partitions (``gl.warp_specialize``) issue those loads,
one for K and one for V, and run ahead of the compute warpgroup as far as the rings allow; the compute warps
only wait for full slots and arrive on empty ones. On an H200 (benchmarks/runs/h200-2026-12-03h) the loaders,
with P~'s stores then vectorised, took a layer (no linear branch) from 0.867 to 0.836 ms at 1.3B-480p and
15.79-16.19 to 15.44 ms at 14B-720p; deeper rings (three K or V slots) did not help.

P~ reaches its P~.V in registers, as the warpgroup MMA's A operand (FP8 A may come from registers). Each
thread holds accumulator columns 8j + 2r + e of its rows (j < 16, r its column pair, e < 2) and the A operand
wants columns 32c + 16h + 4r + e' (c < 4, h < 2, e' < 4); with j = 2 jh + j0, putting key 16 jh + 8 j0 + 2r + e
at column 16 jh + 4r + 2 j0 + e (``quant.key_permutation``; V^T's keys come in that order) keeps every value in
its thread, so the conversion is a renaming of registers and one cvt packs four keys a register
(``_p_pack``). P~ crosses the loop's back edge as those words: as 64 separate bytes it was repacked before
every MMA (~120 byte permutes a tile; local sm_90 compiles). Against P~ through shared memory (stored with
16-byte vectors in another key order, then fenced: benchmarks/runs/h200-2026-12-03h), the loop loses its
stores, the fence and a barrier (666 against 675 instructions a tile at D 128, Triton 3.9; 656 against 679
on 3.6) and a program 16 KB of shared memory (benchmarks/runs/cpu-2026-12-05b). On an H200
(benchmarks/runs/h200-2026-12-05) a layer with the linear branch took 1.010-1.013 against 1.027-1.034 ms at
1.3B-480p and 16.26-16.30 against 16.71-16.76 ms at 14B-720p, a 14B-720p forward 2,430 against 2,448 ms
(1.0075x, the ranges apart; 1.3B-480p unchanged); without the branch a layer at 480p was ~2% slower (the
kernel runs only for SageSLA, which has it). Outputs within 0.65 bf16 steps at the output's scale of the
shared-memory kernel's on 18 checks (each tile's keys are summed in another order inside the FP8 MMA).

On an H200 (benchmarks/runs/h200-2026-12-03c) its outputs without the linear branch equal the Triton
kernel's bit for bit on six shapes (one test shape differed by one bf16 step, h200-2026-12-03d), and a layer
takes 0.960 ms against 1.008 at 1.3B-480p and 17.09 against 17.95 ms at 14B-720p (5%; CUDA graphs of
back-to-back calls). Three ring slots instead of two were slower (1.347 / 23.13 ms): one program an SM.

Inputs are ``kernel.py``'s (from ``quant.py``): Q int8 [B, H, L, D], K int8 [B, H, KP, D] (rows padded with
zeros), V^T e4m3 [B, H, D, LP] with permuted keys, their fp32 scales, the lut int32 [B, H, Mq, NT]; for SageSLA a
``LinearBranch``. GPU only (no interpreter); its reference is ``_sage_fwd_kernel`` with
``linear_branch_triton`` (tests/attention/test_sage_wgmma.py compares them on the GPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import triton
from torch import Tensor
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import (
    mbarrier,
    warpgroup_mma,
    warpgroup_mma_wait,
)
from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

from ...kernel_device import FP_FUSION
from ..gluon_hopper import GL_DTYPES, PUBLIC_REINTERPRET, reinterpret, tma_load
from ..sla.kernel_fwd import LOG2E
from .kernel import INT32_BIAS, WGMMA_BLOCKS
from .reference import LOG2_FP8_MAX

_LOG2_FP8_MAX = gl.constexpr(LOG2_FP8_MAX)
_LOG2E = gl.constexpr(LOG2E)
_INT32_BIAS = gl.constexpr(INT32_BIAS)

BLOCK_M, BLOCK_N = WGMMA_BLOCKS  # a program: one warpgroup, one query block; a tile: one key block
# K and V tiles in flight; with Q, 72 KB of shared memory at D 128 (registers allow two programs an SM).
STAGES = 2
LOADER_REGS = 24  # registers a thread of each one-warp loader partition keeps (the least it can)
# Four compute warps plus the loaders' warpgroup: at 128 registers a thread two programs fit an SM's 64K,
# and the loaders handing theirs back leaves the compute warps 232.
LAUNCH_OPTIONS = dict(num_warps=4, maxnreg=128)


@gluon.jit
def _softmax_tile(s, start, L, rs, m_i, l_i, BLOCK_N: gl.constexpr, s_layout: gl.constexpr):
    """One tile's online-softmax step, ``_sage_fwd_kernel``'s arithmetic: s int32 [BLOCK_M, BLOCK_N] holding
    the bits of 1.5 * 2^23 + Q.K^T as fp32 (``biased_fp32``); rs fp32 [BLOCK_M] the rows' dequantisation
    factors. The row maximum is taken on the biased values and the bias leaves once a row, through the
    exponent's offset. Returns (P~ fp32, alpha, new row max, new row sum)."""
    x = s.to(gl.float32, bitcast=True)
    if start + BLOCK_N > L:  # only the last key tile is partial
        cols = start + gl.arange(0, BLOCK_N, layout=gl.SliceLayout(0, s_layout))
        x = gl.where((cols < L)[None, :], x, float("-inf"))
    m_new = gl.maximum(m_i, (gl.max(x, 1) - _INT32_BIAS) * rs)
    alpha = gl.exp2(m_i - m_new)
    p = gl.exp2(gl.fma(x, rs[:, None], -gl.fma(rs, _INT32_BIAS, m_new - _LOG2_FP8_MAX)[:, None]))
    l_i = l_i * alpha + gl.sum(p, 1)
    return p, alpha, m_new, l_i


@gluon.jit
def _linear_branch(q_ptrs, row_ok, m_smem, m_bar, ksum_ptrs, bias_ptrs, eps, layout: gl.constexpr):
    """SageSLA's linear branch with proj_l folded in, for this program's rows: fp32 [BLOCK_M, D] =
    phi(q) m / (eps + phi(q) . ksum) + bias, ``linear_branch_premultiplied``'s arithmetic (sla/kernel_fwd.py).

    ``layout``: a 16-bit warpgroup MMA's accumulator layout; q_ptrs, row_ok, ksum_ptrs and bias_ptrs come
    in it (or its slices), and so does the result. q is read in the 16-bit input dtype straight into that
    layout, so phi goes to the tensor cores as a register operand; m [D, D] (= KV W^T, the input dtype)
    arrives by TMA into the K ring (``m_bar``); ksum [D] fp32 and eps are divided by L.
    """
    q = gl.load(q_ptrs, mask=row_ok, other=0.0).to(gl.float32)
    # sla.kernel_fwd.feature_map's softmax over the head dim: exp2 of the log2(e)-scaled argument, one
    # reciprocal a row (Gluon cannot call the Triton function).
    e = gl.exp2((q - gl.max(q, 1)[:, None]) * _LOG2E)
    phi = e * (1.0 / gl.sum(e, 1))[:, None]
    den = eps + gl.sum(phi * gl.load(ksum_ptrs)[None, :], 1)
    a = gl.convert_layout(
        phi.to(m_smem.dtype), gl.DotOperandLayout(operand_index=0, parent=layout, k_width=2)
    )
    mbarrier.wait(m_bar, 0)
    num = warpgroup_mma(a, m_smem, gl.zeros(q.shape, gl.float32, layout), use_acc=False)
    return num * (1.0 / den)[:, None] + gl.load(bias_ptrs).to(gl.float32)[None, :]


@gluon.jit
def _tile_start(lut_row, t, NT, BLOCK_N: gl.constexpr):
    """First key of tile t (clamped to the last tile: loads past the lut row are never used)."""
    return gl.load(lut_row + gl.minimum(t, NT - 1)) * BLOCK_N


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
    keys of ``quant.key_permutation``'s order, as the A operand's registers hold them. The permute keeps every
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
def _load_ring(desc, smem, ready, empty, lut_row, NT, row0, BLOCK_N: gl.constexpr,
               KEYS_ON_ROWS: gl.constexpr):  # fmt: skip
    """Every tile of one operand into its ring, each as soon as its slot is released (``empty``, arrived on
    by the compute warps once the MMA reading it has finished). K's keys are rows (coordinate [row0 +
    start, 0]), V^T's columns ([row0, start])."""
    S: gl.constexpr = smem.type.shape[0]
    for t in range(NT):
        slot = t % S
        mbarrier.wait(empty.index(slot), ((t // S) & 1) ^ 1)  # a fresh barrier counts as released
        start = gl.load(lut_row + t) * BLOCK_N
        mbarrier.expect(ready.index(slot), desc.block_type.nbytes)
        if KEYS_ON_ROWS:
            tma_load(desc, [row0 + start, 0], ready.index(slot), smem.index(slot))
        else:
            tma_load(desc, [row0, start], ready.index(slot), smem.index(slot))


@gluon.jit
def _ring_as_m(k_smem, m_desc):
    """The K ring's shared memory viewed as m's [D, D] tile (16-bit): the whole ring's bytes at D = 128, its
    first slot's at D = 64 (a view must keep the byte count on Triton 3.8). The linear branch's operand reuses
    the ring once the last Q.K^T has read it. Written out here rather than through ``reinterpret``: Triton 3.6
    cannot pass a descriptor's attributes to a helper."""
    src = k_smem
    if m_desc.block_type.shape[0] * 2 == k_smem.type.shape[1]:  # D x D 16-bit = one BLOCK_N x D int8 slot
        src = k_smem.index(0)
    if PUBLIC_REINTERPRET:
        return src.reinterpret(m_desc.dtype, m_desc.block_type.shape, m_desc.layout)
    else:
        return src._reinterpret(m_desc.dtype, m_desc.block_type.shape, m_desc.layout)


@gluon.jit
def _ring_as(ring, dtype: gl.constexpr, shape: gl.constexpr):
    """A ring's shared memory viewed as one unswizzled tile of ``shape`` in ``dtype`` (same bytes)."""
    layout: gl.constexpr = gl.SwizzledSharedLayout(1, 1, 1, [1, 0])
    return reinterpret(ring, dtype, shape, layout)


@gluon.jit
def _k_loader(k_desc, v_desc, m_desc, k_smem, v_smem, k_ready, k_empty, v_ready, v_empty, m_bar, lut_row, NT,
              k_row0, v_row0, pid_bh, D: gl.constexpr, BLOCK_N: gl.constexpr, LINEAR: gl.constexpr):  # fmt: skip
    """Worker partition (one warp): K's tiles, then for SageSLA m = KV W^T (D x D, 16-bit: the ring's bytes
    at D = 128, half at 64) into the K ring once the last Q.K^T has released every slot, so that shared
    memory stays at two programs an SM."""
    _load_ring(k_desc, k_smem, k_ready, k_empty, lut_row, NT, k_row0, BLOCK_N, True)
    if LINEAR:
        S: gl.constexpr = k_smem.type.shape[0]
        for u in gl.static_range(S):  # the waits tiles NT .. NT + S - 1 would make: every slot released
            mbarrier.wait(k_empty.index((NT + u) % S), (((NT + u) // S) & 1) ^ 1)
        m_smem = _ring_as_m(k_smem, m_desc)
        mbarrier.expect(m_bar, m_desc.block_type.nbytes)
        tma_load(m_desc, [pid_bh * D, 0], m_bar, m_smem)


@gluon.jit
def _v_loader(k_desc, v_desc, m_desc, k_smem, v_smem, k_ready, k_empty, v_ready, v_empty, m_bar, lut_row, NT,
              k_row0, v_row0, pid_bh, D: gl.constexpr, BLOCK_N: gl.constexpr, LINEAR: gl.constexpr):  # fmt: skip
    """Worker partition (one warp): V^T's tiles."""
    _load_ring(v_desc, v_smem, v_ready, v_empty, lut_row, NT, v_row0, BLOCK_N, False)


@gluon.jit
def _attend(
    m_desc, q_smem, k_smem, v_smem, q_bar, k_ready, k_empty, v_ready, v_empty, m_bar, QS, KS, VS, Out, QH,
    KSUM, BIAS, lut_row, sob, sol, soh, sqb, sql, sqh, b, h, pid_m, pid_bh, L, NQB, NKB, NT, qk_scale, eps,
    D: gl.constexpr, BLKQ: gl.constexpr, BLKK: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
    LINEAR: gl.constexpr, num_warps: gl.constexpr,
):  # fmt: skip
    """The compute warpgroup (default partition): the products, the softmax and the epilogue."""
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
    # edge as packed words (``_p_pack``; the module docstring says why).
    mbarrier.wait(q_bar, 0)
    mbarrier.wait(k_ready.index(0), 0)
    s = warpgroup_mma(q_smem, k_smem.index(0).permute((1, 0)), bias, is_async=True)
    start = _tile_start(lut_row, 0, NT, BLOCK_N)
    ks = gl.load(ks_base + start // BLKK)
    # The next tile's lut entry and key scale a tile early: their loads' latency is hidden.
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
        s = warpgroup_mma_wait(1, deps=(s,))  # Q.K^T done (issued first); ptxas waits for P~.V here too
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
def _sage_sparse_wgmma_kernel(
    q_desc, k_desc, v_desc, m_desc, QS, KS, VS, LUT, Out, QH, KSUM, BIAS,
    sob, sol, soh, sqb, sql, sqh,
    H, L, KP, NQB, NKB, MQ, NT, qk_scale, eps,
    D: gl.constexpr, BLKQ: gl.constexpr, BLKK: gl.constexpr, BLOCK_M: gl.constexpr, BLOCK_N: gl.constexpr,
    STAGES: gl.constexpr, LOADER_REGS: gl.constexpr, LINEAR: gl.constexpr, num_warps: gl.constexpr,
):  # fmt: skip
    # torch.compile's Inductor passes Python floats as fp64 (Triton's launcher as fp32); the arithmetic is fp32.
    qk_scale = qk_scale.to(gl.float32)
    eps = eps.to(gl.float32)
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
            (_attend, (
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


@dataclass(frozen=True)
class LinearBranch:
    """SageSLA's linear branch as the kernel's epilogue adds it: q [B, L, H, D] (the 16-bit input, last dim
    contiguous); m [B, H, D, D] = KV W^T in q's dtype (``sla.kernel_fwd.summarize_kv``'s, given the
    weight); ksum fp32 [B, H, D] and eps, both divided by L; bias fp32 [D]."""

    q: Tensor
    m: Tensor
    ksum: Tensor
    bias: Tensor
    eps: float


def sage_sparse_wgmma(
    qi: Tensor, qs: Tensor, ki: Tensor, ks: Tensor, vq: Tensor, vs: Tensor, lut: Tensor, out: Tensor,
    qk_scale: float, *, linear: LinearBranch | None = None,
) -> Tensor:  # fmt: skip
    """Run the kernel on ``kernel.py``'s quantised operands and write ``out``.

    qi int8 [B, H, L, D] and qs fp32 [B, H, ceil(L / 64)]; ki int8 [B, H, KP, D] (KP a multiple of 128) and ks
    fp32 [B, H, ceil(L / 128)]; vq e4m3 [B, H, D, LP] (LP a multiple of 128; each tile's keys in
    ``quant.key_permutation``'s order: ``quantize_v_fp8_triton(..., permute_keys=True)``) and vs fp32 [B, H, D];
    lut int32 [B, H, ceil(L / 64), NT] ascending key-block indices; out [B, L, H, D] fp16/bf16, last dim contiguous.
    ``linear``: SageSLA's linear branch, added to each row in the epilogue. qk_scale = log2(e) / sqrt(D).
    Returns out.
    """
    b, h, seq, d = qi.shape
    kp, lp = ki.shape[2], vq.shape[-1]
    mq, nt = lut.shape[2], lut.shape[3]
    if b * h * max(seq, kp, d) >= 2**31:
        raise ValueError("sage_sparse_wgmma: B * H * L must stay below 2^31 (TMA coordinates are int32)")
    q2, k2, v2 = qi.view(b * h * seq, d), ki.view(b * h * kp, d), vq.view(b * h * d, lp)
    default = gl.NVMMASharedLayout.get_default_for
    q_desc = TensorDescriptor(
        q2, list(q2.shape), list(q2.stride()), [BLOCK_M, d], default([BLOCK_M, d], gl.int8)
    )
    k_desc = TensorDescriptor(
        k2, list(k2.shape), list(k2.stride()), [BLOCK_N, d], default([BLOCK_N, d], gl.int8)
    )
    v_layout = default([d, BLOCK_N], gl.float8e4nv)
    v_desc = TensorDescriptor(v2, list(v2.shape), list(v2.stride()), [d, BLOCK_N], v_layout)
    if linear is None:  # placeholders of the unused epilogue operands
        m_desc, qh, ksum, bias, eps = q_desc, out, vs, vs, 0.0
    else:
        qh, ksum, bias, eps = linear.q, linear.ksum, linear.bias, linear.eps
        m2 = linear.m.contiguous().view(b * h * d, d)
        m_layout = default([d, d], GL_DTYPES[m2.dtype])
        m_desc = TensorDescriptor(m2, list(m2.shape), list(m2.stride()), [d, d], m_layout)
    grid = (triton.cdiv(seq, BLOCK_M), b * h)
    _sage_sparse_wgmma_kernel[grid](
        q_desc, k_desc, v_desc, m_desc, qs, ks, vs, lut, out, qh, ksum, bias,
        out.stride(0), out.stride(1), out.stride(2), qh.stride(0), qh.stride(1), qh.stride(2),
        h, seq, kp, qs.shape[-1], ks.shape[-1], mq, nt, qk_scale, eps,
        D=d, BLKQ=BLOCK_M, BLKK=BLOCK_N, BLOCK_M=BLOCK_M, BLOCK_N=BLOCK_N, STAGES=STAGES,
        LOADER_REGS=LOADER_REGS, LINEAR=linear is not None, **LAUNCH_OPTIONS, **FP_FUSION,
    )  # fmt: skip
    return out
