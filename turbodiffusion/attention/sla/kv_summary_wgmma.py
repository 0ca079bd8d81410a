"""The K/V summary's first kernel for Hopper (sm_90) in Gluon: ``kernel_fwd._kv_summary_kernel``'s partials
(per split of the tokens: KV_part = phi(k)^T v, ksum_part = sum phi(k), the column sums of k and the column
maxima of |v|) from K and V tiles streamed by TMA through a ring, with phi(k)^T v issued as an asynchronous
warpgroup MMA that runs while the next tile's feature map is formed.

Why: the Triton kernel holds a 128 x 128 fp32 state and a 128-row K tile in one warpgroup's registers
(255 a thread, one program an SM with its two 64 KB pipeline stages) and waits for each MMA right after
issuing it; a 14B-720p layer's summary took 1.41 ms where reading K and V once needs ~0.4
(benchmarks/runs/h200-2026-12-03g). Here two warpgroups share the state (64 registers a thread), tiles are
64 rows, and the ring keeps ``STAGES - 1`` tiles in flight.

Registers: across the loop a thread holds its 64 of the state, its row's 32 ksum and 32 kcol sums and 16
words of |v| maxima (two 16-bit values a register). K and V are read from shared memory as int32 words (two
neighbouring columns a word): the maxima are taken two at a time (max.bf16x2 / max.f16x2), bf16 k widens to
fp32 with one multiply or AND a value, and the mask of the rows past L rides on those same operations, so the
loop body is one block without selects or branches. Branching on the last tile instead (as this kernel first
did) let Triton 3.8's LLVM sink the statistics' updates below the branches, keeping k and |v| live across the
feature map: 80 bytes of spills. Local sm_90 compile (``python -m turbodiffusion.testing.sm90_compile
kv_summary 128 1 1``, bf16, state and statistics) with Triton 3.6 / 3.8 / 3.9: 254-255 registers, no spills
(nor under a 216-register cap), each tile's MMA waited for one tile later (``mma_waits`` [1, 0]), 477 / 480 /
482 SASS instructions a 64-row tile (637 before on 3.6). On an H200 (benchmarks/runs/h200-2026-12-04) that took
the summary from 0.0864 to 0.0775 ms at 1.3B-480p and from 0.624 to 0.548 ms at 14B-720p, every output equal
bit for bit.

Same inputs, splits and outputs as the Triton kernel (``summarize_kv`` picks between them and runs the same
second kernel); the MMA sums each split's tokens in 64-row steps instead of 128, so the fp32 partials can
differ in their last bits. GPU only (no interpreter); tests/attention/test_kv_summary_wgmma.py compares it
with the Triton kernel on the GPU.
"""

from __future__ import annotations

import torch
from torch import Tensor
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import (
    fence_async_shared,
    mbarrier,
    warpgroup_mma,
    warpgroup_mma_wait,
)
from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

from ...kernel_device import FP_FUSION
from ..gluon_hopper import GL_DTYPES, reinterpret, tma_load
from .kernel_fwd import LOG2E

_LOG2E = gl.constexpr(LOG2E)
BLOCK_L = 64  # tokens a tile
# K + V tiles in the ring (16 KB each at D = 128): two in flight while one is read; four were 2-3% slower.
STAGES = 3
NUM_WARPS = 8  # two warpgroups: 64 rows of the [D, D] state each


@gluon.jit
def _load_tile(k_desc, v_desc, k_smem, v_smem, bars, t, n_tiles, row0, col0, BLOCK_L: gl.constexpr,
               STAGES: gl.constexpr):  # fmt: skip
    """TMA of tile t's K and V rows into ring slot t % STAGES; nothing past the split's last tile."""
    slot = t % STAGES
    pred = t < n_tiles
    mbarrier.expect(bars.index(slot), k_desc.block_type.nbytes + v_desc.block_type.nbytes, pred=pred)
    tma_load(k_desc, [row0 + t * BLOCK_L, col0], bars.index(slot), k_smem.index(slot), pred=pred)
    tma_load(v_desc, [row0 + t * BLOCK_L, col0], bars.index(slot), v_smem.index(slot), pred=pred)


@gluon.jit
def _widen(w, keep, dtype: gl.constexpr, layout: gl.constexpr):
    """int32 words [R, C] of 16-bit ``dtype`` values -> their fp32 [R, 2 * C] in column order, in ``layout``
    (the same threads' elements: no data moves); rows whose ``keep`` is 0 (not -1) -> 0."""
    if dtype == gl.bfloat16:
        # A bf16's fp32 value is its bits in the high half: w * 2^16 is the shift, with the mask riding on it.
        lo = (w * (keep & 65536)).to(gl.float32, bitcast=True)
        hi = (w & (keep & -65536)).to(gl.float32, bitcast=True)
    else:
        w = w & keep
        lo = w.to(gl.int16).to(dtype, bitcast=True).to(gl.float32)
        hi = (w >> 16).to(gl.int16).to(dtype, bitcast=True).to(gl.float32)
    x = gl.join(lo, hi)
    return gl.convert_layout(gl.reshape(x, [x.shape[0], 2 * x.shape[1]]), layout, assert_trivial=True)


@gluon.jit
def _max2(a, b, dtype: gl.constexpr):
    """Maxima of the two 16-bit ``dtype`` halves of int32 words, a NaN giving way (as gl.maximum's)."""
    if dtype == gl.bfloat16:
        return gl.inline_asm_elementwise("max.bf16x2 $0, $1, $2;", "=r,r,r", [a, b], gl.int32, True, 1)
    else:
        return gl.inline_asm_elementwise("max.f16x2 $0, $1, $2;", "=r,r,r", [a, b], gl.int32, True, 1)


@gluon.jit
def _add_rn(a, b):
    """fp32 a + b with an explicit rounding mode, which LLVM and ptxas never fuse with b's product into an
    FMA (that would skip b's own rounding)."""
    return gl.inline_asm_elementwise("add.rn.f32 $0, $1, $2;", "=f,f,f", [a, b], gl.float32, True, 1)


@gluon.jit
def _kv_summary_wgmma_kernel(
    k_desc, v_desc, KVP, KSUMP, KCOLP, VMAXP,
    H, L, ROWS_PER_SPLIT, SPLITS,
    D: gl.constexpr, BLOCK_L: gl.constexpr, STAGES: gl.constexpr, STATE: gl.constexpr, STATS: gl.constexpr,
    num_warps: gl.constexpr,
):  # fmt: skip
    pid_s = gl.program_id(0)
    pid_bh = gl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    first = pid_s * ROWS_PER_SPLIT  # this split's first token of the head
    # At least 1, in a form LLVM sees (every split holds a token; a tile past L would add zeros): on a zero-trip
    # exit Triton 3.8-3.9 zero the state outside the MMAs, and ptxas then serializes them all (C7515).
    n_tiles = gl.maximum(gl.cdiv(gl.minimum(ROWS_PER_SPLIT, L - first), BLOCK_L), 1)
    row0 = b * L + first  # in the [B * L, H * D] view
    col0 = h * D

    # A tile's row over four lanes (D / 4 channels a thread): the feature map's row max and sum take two
    # shuffles. The column statistics accumulate element-wise in registers ([BLOCK_L, D] each, one row a
    # thread) and are reduced once after the loop: no cross-warp reduction (shared memory and barriers) a tile.
    tile_layout: gl.constexpr = gl.BlockedLayout([1, D // 4], [8, 4], [num_warps, 1], [1, 0])
    word_layout: gl.constexpr = gl.BlockedLayout([1, D // 8], [8, 4], [num_warps, 1], [1, 0])  # tile_layout's
    acc_layout: gl.constexpr = gl.NVMMADistributedLayout(
        version=[3, 0], warps_per_cta=[num_warps, 1], instr_shape=[16, D, 16]
    )
    k_smem = gl.allocate_shared_memory(k_desc.dtype, [STAGES, BLOCK_L, D], k_desc.layout)
    v_smem = gl.allocate_shared_memory(v_desc.dtype, [STAGES, BLOCK_L, D], v_desc.layout)
    # The rings as int32 words, two neighbouring columns a word (the lower in the low half): the NVMMA swizzle
    # permutes 16-byte chunks, so every word keeps its bytes and their address.
    words: gl.constexpr = gl.NVMMASharedLayout(k_desc.layout.swizzle_byte_width, 32)
    k_words = reinterpret(k_smem, gl.int32, [STAGES, BLOCK_L, D // 2], words)
    v_words = reinterpret(v_smem, gl.int32, [STAGES, BLOCK_L, D // 2], words)
    phi_smem = gl.allocate_shared_memory(k_desc.dtype, [2, BLOCK_L, D], k_desc.layout)
    bars = gl.allocate_shared_memory(gl.int64, [STAGES, 1], mbarrier.MBarrierLayout())
    for i in gl.static_range(STAGES):
        mbarrier.init(bars.index(i), count=1)
    for i in gl.static_range(STAGES - 1):
        _load_tile(k_desc, v_desc, k_smem, v_smem, bars, i, n_tiles, row0, col0, BLOCK_L, STAGES)

    dims = gl.arange(0, D, layout=gl.SliceLayout(0, tile_layout))
    word_rows = gl.arange(0, BLOCK_L, layout=gl.SliceLayout(1, word_layout))
    tile_rows = gl.arange(0, BLOCK_L, layout=gl.SliceLayout(1, tile_layout))
    kv = gl.zeros([D, D], gl.float32, acc_layout)
    ksum = gl.zeros([BLOCK_L, D], gl.float32, tile_layout)
    kcol = gl.zeros([BLOCK_L, D], gl.float32, tile_layout)
    vmax = gl.zeros([BLOCK_L, D // 2], gl.int32, word_layout)  # |v| maxima two a word: exact in 16 bits
    for t in range(n_tiles):
        slot = t % STAGES
        mbarrier.wait(bars.index(slot), (t // STAGES) & 1)
        # Only the head's last tile can run past L (into the next batch's rows, or TMA's zeros): those rows are
        # zeroed through the words' masks. keep = (row - L) >> 31, all ones on the head's rows: from a select,
        # LLVM would turn each masked AND and multiply into a select of its own.
        keep = ((first + t * BLOCK_L + word_rows - L) >> 31)[:, None]
        if STATS:
            v = v_words.index(slot).load(word_layout) & (keep & 0x7FFF7FFF)  # |v|: sign bits cleared
            vmax = _max2(vmax, v, v_desc.dtype)
        k = _widen(k_words.index(slot).load(word_layout), keep, k_desc.dtype, tile_layout)
        if STATS:
            kcol += k
        if STATE:
            # kernel_fwd.feature_map's arithmetic: exp2 of the log2(e)-scaled argument, one reciprocal a row.
            e = gl.exp2((k - gl.max(k, 1)[:, None]) * _LOG2E)
            # Padded rows (k = 0) would add 1/D each: a zero reciprocal makes their phi 0.
            phi = e * gl.where(first + t * BLOCK_L + tile_rows < L, 1.0 / gl.sum(e, 1), 0.0)[:, None]
            ksum = _add_rn(ksum, phi)  # phi as feature_map rounds it, not fused into an FMA
            phi_smem.index(t % 2).store(phi.to(k_desc.dtype))
            fence_async_shared()
            kv = warpgroup_mma(phi_smem.index(t % 2).permute((1, 0)), v_smem.index(slot), kv, is_async=True)
            # The previous tile's product is done: its slot and its phi buffer are free again.
            kv = warpgroup_mma_wait(1, deps=(kv,))
        fence_async_shared()  # the refilled slot was last read through registers too (generic proxy)
        _load_tile(k_desc, v_desc, k_smem, v_smem, bars, t + STAGES - 1, n_tiles, row0, col0, BLOCK_L, STAGES)
    if STATE:
        kv = warpgroup_mma_wait(0, deps=(kv,))
    for i in gl.static_range(STAGES):
        mbarrier.invalidate(bars.index(i))

    out = pid_bh.to(gl.int64) * SPLITS + pid_s
    if STATE:
        r = gl.arange(0, D, layout=gl.SliceLayout(1, acc_layout))
        c = gl.arange(0, D, layout=gl.SliceLayout(0, acc_layout))
        gl.store(KVP + out * D * D + r[:, None] * D + c[None, :], kv)
        gl.store(KSUMP + out * D + dims, gl.sum(ksum, 0))
    if STATS:
        gl.store(KCOLP + out * D + dims, gl.sum(kcol, 0))
        gl.store(VMAXP + out * D + dims, gl.max(_widen(vmax, -1, v_desc.dtype, tile_layout), 0))


def wgmma_summary_applies(k: Tensor, v: Tensor) -> bool:
    """Whether this kernel can serve ``summarize_kv``'s inputs: a compute-capability 9.0 GPU, 16-bit k and v
    of head dim 64 or 128 whose [B, L, H, D] strides make a [B * L, H * D] matrix with 16-byte rows (what
    its TMA descriptors need)."""
    if not (k.is_cuda and v.is_cuda) or torch.cuda.get_device_capability(k.device) != (9, 0):
        return False
    b, seq, h, d = k.shape
    if k.dtype not in GL_DTYPES or v.dtype != k.dtype or d not in (64, 128) or b * seq >= 2**31:
        return False  # (TMA coordinates are int32)
    for x in (k, v):
        sb, sl, sh, sd = x.stride()
        if sd != 1 or sh != d or (b > 1 and sb != seq * sl) or (sl * x.element_size()) % 16:
            return False
        if x.data_ptr() % 16:
            return False
    return True


def kv_summary_partials_wgmma(
    k: Tensor, v: Tensor, parts: list[Tensor], rows: int, splits: int, *, state: bool, stats: bool
) -> None:
    """Fill ``parts`` = [KV_part fp32 [B*H, splits, D, D], ksum_part, kcol_part, vmax_part fp32 [B*H, splits,
    D]] (empty tensors for the unused mode) over ``splits`` splits of ``rows`` tokens (a multiple of
    BLOCK_L), as ``kernel_fwd._kv_summary_kernel`` does. k, v: [B, L, H, D], ``wgmma_summary_applies``."""
    b, seq, h, d = k.shape
    layout = gl.NVMMASharedLayout.get_default_for([BLOCK_L, d], GL_DTYPES[k.dtype])

    def desc(x: Tensor) -> TensorDescriptor:
        return TensorDescriptor(x, [b * seq, h * d], [x.stride(1), 1], [BLOCK_L, d], layout)

    _kv_summary_wgmma_kernel[(splits, b * h)](
        desc(k), desc(v), *parts, h, seq, rows, splits,
        D=d, BLOCK_L=BLOCK_L, STAGES=STAGES, STATE=state, STATS=stats, num_warps=NUM_WARPS, **FP_FUSION,
    )  # fmt: skip
