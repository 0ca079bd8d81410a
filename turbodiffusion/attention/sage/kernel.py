"""Sage-style attention in Triton: INT8 Q.K^T, FP8 (or 16-bit) P.V, dense or over SLA's block lut
(shared/docs/attention.md §4-5). Reference: ``reference.sage_attention_reference`` (same lossy algorithm).

Inputs come pre-quantised (``quant.py``): Q int8 [B, H, L, D] and K int8 [B, H, L_pad, D] (zero rows past
L) with fp32 per-block scales, V as e4m3 V^T [B, H, D, L_pad] with a per-channel scale (``pv="fp8"``), or
the original 16-bit V (``pv="half"``).
Grid (ceil(L / BLOCK_M), B * H). Each program keeps its int8 Q tile, walks key tiles of BLOCK_N tokens
(all of them ascending, or its query block's lut row), computes S = int32 dot * (q_scale * k_scale) with
1/sqrt(D) * log2(e) folded into q_scale, runs the online softmax with exp2 (the row maximum taken on the
unscaled dot, held as fp32 with a constant bias (``biased_fp32``); the scale, the bias and the exponent
offset applied in one fused multiply-add), rounds
P~ = exp2(s - m + log2 448) to e4m3 and accumulates P~ V in fp32 (a fresh accumulator per tile, added to
the fp32 buffer). For SageSLA, Out already holds proj_l(linear branch) in the output dtype
(``linear_branch_triton``, as the SLA kernel parks it) and the epilogue adds it; the Hopper kernel below
computes the branch in its own epilogue instead.

On compute-capability 9.0 GPUs the sparse FP8 launches with SageSLA's sm90 blocks (64, 128) run
``kernel_wgmma.py`` instead: the same arithmetic in Gluon (bit-identical on the H200's six check shapes, one
bf16 step apart on one test shape; it adds SageSLA's linear branch in its own epilogue), with its
tensor-core products asynchronous (``sage_forward_triton``'s ``kernel`` argument chooses).

FLOPs: dense-equivalent 4 * B * H * L^2 * D (half int8, half fp8); sparse executes topk * BLKK keys per row.
Bytes (ideal): int8 Q and K, fp8 V read once, o written once (plus the quantisers' read of q, k, v).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, autotune, gluon_hopper_available, interpreting
from ..sla.kernel_fwd import (
    KERNEL_HEAD_DIMS,
    LOG2E,
    KVSummary,
    cast,
    check_kernel_inputs,
    check_lut,
    check_proj,
    dot_precision,
    linear_branch_triton,
    mma,
    needs_int64,
    premultiplied_state,
    summarize_kv,
)
from .quant import quantize_int8_triton, quantize_v_fp8_triton, round_to_e4m3_grid
from .reference import INT32_BIAS, LOG2_FP8_MAX, PV, V_RANGE_FULL

SAGE_DTYPES = (torch.float16, torch.bfloat16)
SageKernel = Literal["auto", "triton", "wgmma"]
WGMMA_BLOCKS = (64, 128)  # (query rows, keys) of kernel_wgmma: SageSLA's sm90 blocks
_LOG2_FP8_MAX = tl.constexpr(LOG2_FP8_MAX)  # kernels read module globals only as constexpr
_INT32_BIAS = tl.constexpr(INT32_BIAS)


@triton.jit
def biased_fp32(x):
    """INT32_BIAS + x in fp32, exactly, for an int32 x with |x| < 2^22 (any INT8 Q.K^T dot of D <= 256:
    |x| <= 256 * 127^2), in one integer add: x lands in the mantissa of 1.5 * 2^23.

    An integer add runs at the full ALU rate, where the I2F conversion instruction runs at the quarter rate
    of the special-function unit that the softmax's exp2 also needs. The bias is not subtracted per
    element: the softmax takes its row maximum on the biased values, subtracts the bias once a row and
    folds bias * scale into the exponent's fused multiply-add (``_sage_fwd_kernel``).
    """
    return (x + 0x4B400000).to(tl.float32, bitcast=True)


@triton.jit
def _sage_fwd_kernel(
    QI, QS, KI, KS, VQ, VS, V, LUT, Out,
    svb, svl, svh, sob, sol, soh,
    H, L, LP, KP, NQB, NKB, MQ, NT, qk_scale,
    D: tl.constexpr, BLKQ: tl.constexpr, BLKK: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    SPARSE: tl.constexpr, LINEAR: tl.constexpr, PV_FP8: tl.constexpr, EMULATE_FP8: tl.constexpr,
    PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    # Python floats to fp32 first: torch.compile's Inductor passes them as fp64 (Triton's launcher as fp32).
    qk_scale = tl.cast(qk_scale, tl.float32)
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
    qs = tl.load(QS + pid_bh.to(tl.int64) * NQB + rows // BLKQ, mask=row_ok, other=1.0) * qk_scale
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
        x = biased_fp32(tl.dot(qi, tl.trans(ki)))
        if PV_FP8 and BLOCK_N <= BLKK:
            bias = _INT32_BIAS  # leaves once a row, through the exponent's offset below
        else:
            bias = 0.0
            x = x - _INT32_BIAS
        if BLOCK_N <= BLKK:  # the tile lies in one scale block: s = (x - bias) * rs, one scale per row
            rs = qs * tl.load(ks_base + start // BLKK)
        else:
            rs = qs
            x = x * tl.load(ks_base + cols // BLKK, mask=col_ok, other=0.0)[None, :]
        if start + BLOCK_N > L:  # only the last key tile is partial; masking every tile costs ~15%
            x = tl.where(col_ok[None, :], x, float("-inf"))
        # rs > 0 and rounding is monotonic: the max of s exactly (the bias's subtraction is exact).
        m_new = tl.maximum(m_i, (tl.max(x, 1) - bias) * rs)
        alpha = tl.exp2(m_i - m_new)
        # FP8 P~: bias * rs joins the exponent's offset instead of a subtraction an element. Its two roundings
        # a row move the exponent by at most 2 * 2^-24 * bias * rs = 1.5 rs: under two integer steps of the
        # dot, whose INT8 rounding moves it by many; P~ by a relative 1.5 rs ln 2 (rs ~ 2e-4 for unit-variance
        # q and k), against e4m3's 2^-4 step. The 16-bit P keeps the exact subtraction. As in kernel_wgmma.
        if PV_FP8:
            # P~ * 448: e4m3's whole range.
            p = tl.exp2(tl.fma(x, rs[:, None], -tl.fma(rs, bias, m_new - _LOG2_FP8_MAX)[:, None]))
            if EMULATE_FP8:
                p8 = round_to_e4m3_grid(p).to(tl.float8e4nv)
            else:
                p8 = p.to(tl.float8e4nv)
            vt = tl.load(vq_base + dims[:, None] * LP + cols[None, :])  # padded to LP: no mask needed
            # Two-level accumulation (shared/docs/attention.md §4): each tile's P~V in a fresh MMA accumulator,
            # added to acc in fp32 registers. FP8 MMAs accumulate with ~22 effective bits, so passing acc in
            # as the accumulator would lose the small late tiles against the large running sum, though it
            # would let Triton leave the P.V MMA in flight across the loop (sm_90 compile, Triton 3.9: no wait
            # after it, 808 instructions a tile instead of 820). The row sum keeps the unrounded P~.
            acc = acc * alpha[:, None] + tl.dot(p8, tl.trans(vt))
        else:
            p = tl.exp2(x * rs[:, None] - m_new[:, None])
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


def wgmma_applies(q: Tensor, sparse: bool, pv: str, block_q: int, block_k: int) -> bool:
    """Whether ``kernel_wgmma`` serves a launch: sparse, FP8 P.V, blocks ``WGMMA_BLOCKS``, D in
    ``KERNEL_HEAD_DIMS`` (the Triton kernels'), on a compute-capability 9.0 GPU (its warpgroup MMAs are
    sm_90a instructions), with a Triton that has Gluon's Hopper API."""
    return (
        sparse
        and pv == "fp8"
        and (block_q, block_k) == WGMMA_BLOCKS
        and q.shape[-1] in KERNEL_HEAD_DIMS
        and q.is_cuda
        and torch.cuda.get_device_capability(q.device) == (9, 0)
        and gluon_hopper_available()
    )


def uses_wgmma_kernel(
    q: Tensor, k: Tensor, v: Tensor, sparse: bool, pv: str, block_q: int, block_k: int
) -> bool:
    """Whether ``sage_forward_triton``'s "auto" runs ``kernel_wgmma`` for these inputs: ``wgmma_applies``,
    not on the interpreter, and offsets within int32."""
    return not interpreting() and wgmma_applies(q, sparse, pv, block_q, block_k) and not needs_int64(q, k, v)


def _configs() -> list[triton.Config]:
    configs = [
        triton.Config({"BLOCK_M": bm}, num_warps=w, num_stages=s)
        for bm, w, s in ((128, 8, 2), (128, 8, 3), (64, 8, 2), (64, 8, 3), (64, 4, 3), (64, 4, 4))
    ]
    # A cap of 168 registers a thread (a few spills) lets three 4-warp programs share a multiprocessor
    # instead of two: 1.7% faster than (64, 4, 3) for the 1.3B-480p sparse kernel on an H200, 1.6% slower at
    # 14B-720p, where the tuner keeps (64, 4, 3) (benchmarks/runs/h200-2026-12-03).
    return [*configs, triton.Config({"BLOCK_M": 64}, num_warps=4, num_stages=2, maxnreg=168)]


def _prune(configs, named_args, **kwargs):
    # Triton passes the positional arguments as named_args and the constexprs (given by keyword) as kwargs.
    args = {**named_args, **kwargs}
    if not args["SPARSE"]:
        return configs
    kept = [c for c in configs if c.kwargs["BLOCK_M"] <= args["BLKQ"]]
    return kept or [triton.Config({"BLOCK_M": args["BLKQ"]}, num_warps=4, num_stages=2)]


_sage_fwd_tuned = autotune(
    configs=_configs(),
    key=["D", "BLKQ", "BLKK", "BLOCK_N", "SPARSE", "LINEAR", "PV_FP8", "WIDE"],
    prune_configs_by={"early_config_prune": _prune},
    restore_value=["Out"],  # Out may hold the linear branch going in: each trial must start from it
)(_sage_fwd_kernel)


def sage_forward_triton(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    block_q: int,
    block_k: int,
    tile_k: int | None = None,
    pv: PV = "fp8",
    v_range: float = V_RANGE_FULL,
    lut: Tensor | None = None,
    proj: tuple[Tensor, Tensor] | None = None,
    eps: float = 0.0,
    summary: KVSummary | None = None,
    kernel: SageKernel = "auto",
    quantized_qk: tuple[Tensor, Tensor, Tensor, Tensor] | None = None,
) -> Tensor:
    """Quantise and run Sage-style attention. q, k, v: [B, L, H, D] fp16/bf16, last dim contiguous.

    Dense when ``lut`` is None (key tiles of ``tile_k``, default ``block_k``), else block-sparse over lut [B, H, Mq, topk] key
    blocks of ``block_k`` (query blocks of ``block_q``). ``proj`` = (proj_l weight [D, D], bias [D]) adds
    SageSLA's linear branch with ``eps``. ``summary``: k and v's ``summarize_kv`` (with stats, and the
    state when ``proj`` is given; with m = KV W^T from ``weight=`` the sm_90 kernel need not form it) when
    the caller already has it. ``kernel``: "auto" runs
    ``kernel_wgmma.sage_sparse_wgmma`` where it applies (sparse FP8 P.V with blocks (64, 128) on sm_90) and
    ``_sage_fwd_kernel`` elsewhere; "triton" always the latter; "wgmma" the former or a ValueError.
    ``quantized_qk``: (q codes, q scales, k codes, k scales) as ``quantize_int8_triton`` makes them here (k
    smoothed by the summary's mean, rows padded), when the caller already has them. Returns o [B, L, H, D]
    in q's dtype.
    """
    check_kernel_inputs(q, k, v, SAGE_DTYPES)
    b, seq, h, d = q.shape
    if proj is not None:
        check_proj(*proj, d)
    for name, blk in (("block_q", block_q), ("block_k", block_k)):
        if blk not in (16, 32, 64, 128):
            raise ValueError(f"{name} must be 16, 32, 64 or 128 (got {blk})")
    if pv not in ("fp8", "half"):
        raise ValueError(f'pv must be "fp8" or "half" (got {pv!r})')
    if not v_range > 0:
        raise ValueError(f"v_range must be > 0 (got {v_range}); 2.25 (official) or 448 (full e4m3 range)")
    sparse = lut is not None
    tile = block_k if tile_k is None else tile_k
    if sparse and tile != block_k:
        raise ValueError(
            f"the sparse kernel's key tile is the selection block: tile_k must be {block_k} (got {tile})"
        )
    if tile not in (16, 32, 64, 128):
        raise ValueError(f"tile_k must be 16, 32, 64 or 128 (got {tile})")
    if kernel not in ("auto", "triton", "wgmma"):
        raise ValueError(f'kernel must be "auto", "triton" or "wgmma" (got {kernel!r})')
    wgmma = kernel != "triton" and uses_wgmma_kernel(q, k, v, sparse, pv, block_q, tile)
    if kernel == "wgmma" and not wgmma:
        raise ValueError(
            'kernel="wgmma" needs a compute-capability 9.0 GPU, a lut, pv="fp8", block_q=64, block_k=128, '
            f"D 64 or 128 and fewer than 2^31 elements (got {q.device}, lut {lut is not None}, pv {pv!r}, "
            f"blocks ({block_q}, {tile}), D {d})"
        )
    mq = triton.cdiv(seq, block_q)
    if sparse:
        check_lut(lut, b, h, mq, triton.cdiv(seq, block_k))
        lut32, nt = lut.to(torch.int32).contiguous(), lut.shape[-1]
    else:
        lut32, nt = torch.zeros(1, device=q.device, dtype=torch.int32), triton.cdiv(seq, tile)

    if summary is None:  # K's mean, V's maxima and (SageSLA) the linear state from one read of k and v
        # m = KV W^T only for the Gluon kernel, which reads it; linear_branch_triton forms its own.
        weight = proj[0] if proj is not None and wgmma else None
        summary = summarize_kv(k, v, state=proj is not None, stats=True, weight=weight)
    elif summary.k_mean is None or (proj is not None and summary.kv is None):
        raise ValueError(
            "summary must come from summarize_kv(k, v, stats=True), with state=True when proj is given"
        )
    if quantized_qk is None:
        qi, qs = quantize_int8_triton(q, block_q)
        ki, ks = quantize_int8_triton(k, block_k, summary.k_mean, pad_rows=True)
    else:
        qi, qs, ki, ks = quantized_qk
    if pv == "fp8":
        vq, vs = quantize_v_fp8_triton(v, summary.v_amax, v_range, permute_keys=wgmma)
    else:
        vs, vq = qs, qi  # unused placeholders
    o = torch.empty_like(q, memory_format=torch.contiguous_format)
    if wgmma:
        from .kernel_wgmma import LinearBranch, sage_sparse_wgmma

        linear = None
        if proj is not None:
            # The Gluon kernel adds the linear branch in its epilogue, from m = KV W^T formed once a head
            # (by summarize_kv when it was given the weight).
            weight, bias = proj
            m = summary.m if summary.m is not None else premultiplied_state(summary.kv.to(q.dtype), weight)
            bias32 = bias.detach().float().contiguous()
            linear = LinearBranch(q, m, summary.ksum, bias32, eps / seq)
        return sage_sparse_wgmma(qi, qs, ki, ks, vq, vs, lut32, o, LOG2E / math.sqrt(d), linear=linear)
    if proj is not None:
        # The Triton kernel adds what this kernel parks in o: in its prologue or epilogue it was 0.34 ms
        # (prologue) or 0.45 ms (epilogue) slower per 1.3B layer on an H200, 3.1 / 0.7 ms at 14B-720p
        # (benchmarks/runs/h200-2026-12-02g).
        linear_branch_triton(q, summary.kv, summary.ksum, *proj, eps / seq, o)
    args = (
        qi, qs, ki, ks, vq, vs, v, lut32, o,
        v.stride(0), v.stride(1), v.stride(2), o.stride(0), o.stride(1), o.stride(2),
        h, seq, vq.shape[-1] if pv == "fp8" else seq, ki.shape[2], qs.shape[-1], ks.shape[-1], mq, nt,
        LOG2E / math.sqrt(d),
    )  # fmt: skip
    constexprs = dict(
        D=d, BLKQ=block_q, BLKK=block_k, BLOCK_N=tile, SPARSE=sparse, LINEAR=proj is not None,
        PV_FP8=pv == "fp8", EMULATE_FP8=interpreting(), PRECISION=dot_precision(q.dtype),
        WIDE=needs_int64(q, k, v, qi, ki),
    )  # fmt: skip
    grid = lambda meta: (triton.cdiv(seq, meta["BLOCK_M"]), b * h)  # noqa: E731
    if interpreting():
        block_m = min(64, block_q) if sparse else 64
        _sage_fwd_kernel[grid](*args, **constexprs, BLOCK_M=block_m, num_warps=4, num_stages=1, **FP_FUSION)
    else:
        _sage_fwd_tuned[grid](*args, **constexprs, **FP_FUSION)
    return o
