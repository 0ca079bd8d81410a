"""SLA forward in Triton: block-sparse flash attention over the selected key blocks, fused with the
linear branch and proj_l (shared/docs/attention.md §2-3). Reference: ``reference.py`` beside this file.

Layout: q, k, v, o are [B, L, H, D] with any strides except a contiguous last dim. The grid is
(ceil(L / BLOCK_M), B * H); each program owns BLOCK_M query rows of one query block (BLOCK_M divides
BLKQ), walks that block's ``lut`` row (ascending key-block indices) with an online softmax in base 2,
then adds proj_l(phi(q) KV / (eps + phi(q) . ksum)) from the precomputed linear state (``summarize_kv``).

FLOPs per forward (dense-equivalent, what SDPA would do): 4 * B * H * L^2 * D.
Executed: 4 * B * H * L * (topk * BLKK) * D for the sparse branch, plus 4 * B * H * L * D^2 for phi(q) KV
and proj_l, plus 2 * B * H * L * D^2 for the KV state. Bytes (ideal): read q, k, v once, write o once;
the selected K/V tiles are re-read by every query block that picks them, mostly from L2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, autotune, check_kernel_device, gluon_hopper_available, interpreting

LOG2E = 1.4426950408889634
_LOG2E = tl.constexpr(LOG2E)  # kernels read module globals only as constexpr
KERNEL_HEAD_DIMS = (64, 128)
KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
SummaryKernel = Literal["auto", "triton", "wgmma"]  # summarize_kv's first pass: chosen, Triton, Gluon (sm_90)


def check_kernel_inputs(
    q: Tensor, k: Tensor, v: Tensor, dtypes: tuple[torch.dtype, ...] = KERNEL_DTYPES
) -> None:
    """Launcher preconditions shared by the SLA, Sage and SageSLA kernels; raises ValueError naming the tensor.

    q, k, v: [B, L, H, D] of one shape and dtype, D in {64, 128}, last dim contiguous, on a CUDA device
    (or on the CPU under TRITON_INTERPRET=1).
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.dim() != 4:
            raise ValueError(f"{name} must be [B, L, H, D] (got shape {tuple(t.shape)})")
        if t.shape != q.shape:
            raise ValueError(f"{name} must have q's shape {tuple(q.shape)} (got {tuple(t.shape)})")
        if t.dtype != q.dtype:
            raise ValueError(f"{name} must have q's dtype {q.dtype} (got {t.dtype})")
        if t.device != q.device:
            raise ValueError(f"{name} must be on q's device {q.device} (got {t.device})")
        if t.stride(-1) != 1:
            raise ValueError(
                f"{name} must have a contiguous last dim (got strides {t.stride()}); call .contiguous()"
            )
    if q.dtype not in dtypes:
        names = ", ".join(str(d) for d in dtypes)
        raise ValueError(f"the kernel takes {names} inputs (got {q.dtype}); cast, or use impl='reference'")
    if q.shape[-1] not in KERNEL_HEAD_DIMS:
        raise ValueError(
            f"the kernels need head dim D in {KERNEL_HEAD_DIMS} (got {q.shape[-1]}); use backend 'sdpa'"
        )
    if q.shape[1] < 1:
        raise ValueError(f"L must be >= 1 (got shape {tuple(q.shape)})")
    check_kernel_device(q)


def needs_int64(*tensors: Tensor) -> bool:
    """Whether any element offset of these tensors can pass 2^31 (then kernels index in int64)."""
    return any(sum((s - 1) * st for s, st in zip(t.shape, t.stride())) >= 2**31 for t in tensors)


def num_programs_target(device: torch.device, per_sm: int = 4) -> int:
    """About ``per_sm`` programs a multiprocessor on this GPU (one on the interpreter), for split reductions."""
    if device.type != "cuda":
        return 1
    return per_sm * torch.cuda.get_device_properties(device).multi_processor_count


def dot_precision(dtype: torch.dtype) -> str:
    """The PRECISION constexpr of ``mma`` for inputs of ``dtype``."""
    if dtype == torch.bfloat16 and interpreting():
        return "upcast"
    # fp32 inputs are the exactness tests' dtype: full fp32 products, not TF32's 10-bit mantissa.
    return "ieee" if dtype == torch.float32 else "tf32"


@triton.jit
def mma(a, b, acc, PRECISION: tl.constexpr):
    """tl.dot(a, b, acc) with fp32 accumulation.

    PRECISION "upcast" is for the CPU interpreter, whose bf16 dot is wrong (Triton 3.9 multiplies the raw
    bits): the bf16 operands go to fp32 first, which is exact, so the result equals a bf16 MMA's.
    """
    if PRECISION == "upcast":
        return tl.dot(a.to(tl.float32), b.to(tl.float32), acc, input_precision="ieee")
    else:
        return tl.dot(a, b, acc, input_precision=PRECISION)


@triton.jit
def cast(x, dtype: tl.constexpr, PRECISION: tl.constexpr):
    """x.to(dtype), rounding to nearest even also under the CPU interpreter.

    The interpreter (Triton 3.9) truncates fp32 -> bf16 where GPUs round to nearest even, so with
    PRECISION "upcast" (interpreter + bf16) the value is first rounded in fp32 bits; the cast of a value
    already on the bf16 grid is exact.
    """
    if PRECISION == "upcast":
        if dtype == tl.bfloat16:
            bits = x.to(tl.float32).to(tl.uint32, bitcast=True)
            bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
            x = bits.to(tl.float32, bitcast=True)
    return x.to(dtype)


# ----------------------------------------------------------------------------------------- linear state


@triton.jit
def feature_map(x):
    """SLA's linear-branch feature map phi = softmax over the head dim: x [R, D] fp32 -> phi [R, D] fp32.

    exp2 of the log2(e)-scaled argument is one MUFU.EX2 (tl.exp adds a range check per element), and one
    reciprocal a row replaces a division per element: the same values as exp and divide on an H200, and the
    K/V summary 7-10% faster (benchmarks/runs/h200-2026-12-03).
    """
    e = tl.exp2((x - tl.max(x, 1)[:, None]) * _LOG2E)
    return e * (1.0 / tl.sum(e, 1))[:, None]


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
            phi = tl.where(ok[:, None], feature_map(k), 0.0)  # padded rows would add a uniform 1/D each
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
def _kv_summary_finalize_kernel(
    KVP, KSUMP, KCOLP, VMAXP, W, KV, KSUM, KMEAN, VAMAX, M,
    SPLITS, L,
    D: tl.constexpr, ROWS: tl.constexpr, STATE: tl.constexpr, STATS: tl.constexpr,
    PREMULTIPLY: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    """One (batch, head) and ROWS rows of its [D, D] state a program: the splits' partials summed in order;
    sums divided by L (IEEE). PREMULTIPLY: also m = KV W^T for these rows (row i of m needs row i of KV
    only), W [D_out, D_in] cast to KV's dtype first, one fp32 MMA rounded once. The [D]-sized outputs come
    from the head's first program."""
    pid = tl.program_id(0).to(tl.int64)
    r0 = tl.program_id(1) * ROWS
    dims = tl.arange(0, D)
    rows = r0 + tl.arange(0, ROWS)
    first = pid * SPLITS
    count = tl.zeros([D], dtype=tl.float32) + L
    if STATE:
        kv = tl.zeros([ROWS, D], dtype=tl.float32)
        for sp in range(SPLITS):
            kv += tl.load(KVP + (first + sp) * D * D + rows[:, None] * D + dims[None, :])
        kv = cast(
            tl.math.div_rn(kv, tl.zeros([ROWS, D], dtype=tl.float32) + L), KV.dtype.element_ty, PRECISION
        )
        tl.store(KV + pid * D * D + rows[:, None] * D + dims[None, :], kv)
        if PREMULTIPLY:
            wt = cast(tl.load(W + dims[None, :] * D + dims[:, None]), KV.dtype.element_ty, PRECISION)  # W^T
            m = mma(kv, wt, tl.zeros([ROWS, D], dtype=tl.float32), PRECISION)
            tl.store(
                M + pid * D * D + rows[:, None] * D + dims[None, :], cast(m, M.dtype.element_ty, PRECISION)
            )
    if r0 == 0:
        if STATE:
            ksum = tl.zeros([D], dtype=tl.float32)
            for sp in range(SPLITS):
                ksum += tl.load(KSUMP + (first + sp) * D + dims)
            tl.store(KSUM + pid * D + dims, tl.math.div_rn(ksum, count))
        if STATS:
            kcol = tl.zeros([D], dtype=tl.float32)
            vmax = tl.zeros([D], dtype=tl.float32)
            for sp in range(SPLITS):
                kcol += tl.load(KCOLP + (first + sp) * D + dims)
                vmax = tl.maximum(vmax, tl.load(VMAXP + (first + sp) * D + dims))
            tl.store(KMEAN + pid * D + dims, tl.math.div_rn(kcol, count))
            tl.store(VAMAX + pid * D + dims, vmax)


@dataclass(frozen=True)
class KVSummary:
    """What one pass over K and V gives the attention kernels (``summarize_kv``), over all L tokens; None
    where it was not asked for.

    kv [B, H, D, D] = phi(k)^T v / L (in k's dtype, as the kernels read it) and ksum [B, H, D] =
    sum_t phi(k_t) / L: the linear branch's state. m [B, H, D, D] = kv W^T in k's dtype, proj_l's weight
    folded in (``linear_branch_premultiplied``'s m), when a weight was given.
    k_mean [B, H, D] = mean_t k_t: K smoothing and the block selection. v_amax [B, H, D] = max_t |v_t|:
    V's FP8 scale.
    """

    kv: Tensor | None
    ksum: Tensor | None
    k_mean: Tensor | None
    v_amax: Tensor | None
    m: Tensor | None = None


@dataclass(frozen=True)
class KVSummaryLaunch:
    """Launch settings of ``summarize_kv``: rows per step, warps, pipeline stages, programs per SM."""

    block_l: int
    num_warps: int
    num_stages: int
    programs_per_sm: int


def kv_summary_launch(head_rows: int, gluon: bool = False) -> KVSummaryLaunch:
    """Default settings for B * H * L = ``head_rows`` rows of k and v, from H200 sweeps (state and stats,
    D = 128; the values do not depend on them). ``gluon``: for ``kv_summary_wgmma``'s kernel, which takes
    only the rows a split (block_l) and the programs an SM from these (one program fits an SM).

    Triton kernel (benchmarks/runs/h200-2026-12-02i): 128-row steps with 4 warps and 2 stages were best at
    both shapes. More programs help the long sequences and hurt the short ones, where summing the fp32
    [D, D] partials of every split costs more than the extra parallelism gains: at 1.3B-480p (393k rows)
    0.215 ms with 2 programs an SM against 0.252 with 8; at 14B-720p (3.0M rows) 1.574 ms with 8 against
    2.246 with 2. Gluon kernel (h200-2026-12-03h): 0.085 ms with 1 program an SM against 0.103 with 2 at
    1.3B-480p; 0.620 ms with 4 against 0.641 with 8 and 0.734 with 2 at 14B-720p.
    """
    if gluon:
        return KVSummaryLaunch(128, 4, 2, 1 if head_rows <= 1_000_000 else 4)
    return KVSummaryLaunch(128, 4, 2, 2 if head_rows <= 1_000_000 else 8)


def wgmma_summary_serves(k: Tensor, v: Tensor) -> bool:
    """Whether ``summarize_kv``'s "auto" runs ``kv_summary_wgmma`` for k and v: not on the interpreter, a
    Triton with Gluon's Hopper API, and ``kv_summary_wgmma.wgmma_summary_applies``."""
    if interpreting() or not k.is_cuda or not gluon_hopper_available():
        return False
    from .kv_summary_wgmma import wgmma_summary_applies

    return wgmma_summary_applies(k, v)


def summarize_kv(
    k: Tensor,
    v: Tensor,
    *,
    state: bool = True,
    stats: bool = False,
    weight: Tensor | None = None,
    launch: KVSummaryLaunch | None = None,
    kernel: SummaryKernel = "auto",
) -> KVSummary:
    """One read of k and v: the linear branch's state (``state``) and/or the column statistics (``stats``).

    k, v: [B, L, H, D] of one shape, last dim contiguous, checked by the caller. KV and ksum are divided by
    L so that fp16/bf16 copies of KV cannot overflow at L ~ 75k; the caller divides eps by L to match.
    ``weight``: proj_l's [D, D] (any float dtype; needs ``state``): the summary then also holds m = KV W^T,
    W cast to k's dtype first (as the official bf16 autocast does), an fp32 product rounded once.
    The splits over L are summed in a fixed order, so the result does not vary between runs.
    ``kernel``: the first pass's kernel: "auto" takes ``kv_summary_wgmma`` (Gluon, sm_90) where it applies and
    the Triton kernel elsewhere; "triton" always the latter; "wgmma" the former or a ValueError.
    """
    if kernel not in ("auto", "triton", "wgmma"):
        raise ValueError(f'kernel must be "auto", "triton" or "wgmma" (got {kernel!r})')
    if not (state or stats):
        raise ValueError("summarize_kv needs state=True or stats=True (it would compute nothing)")
    b, seq, h, d = k.shape
    if weight is not None:
        if not state:
            raise ValueError("summarize_kv folds the weight into the linear state: pass state=True with it")
        if weight.shape != (d, d) or weight.device != k.device:
            raise ValueError(
                f"weight must be [{d}, {d}] on {k.device} (got {tuple(weight.shape)} on {weight.device})"
            )
    use_wgmma = kernel != "triton" and wgmma_summary_serves(k, v)
    if kernel == "wgmma" and not use_wgmma:
        raise ValueError(
            'kernel="wgmma" needs a compute-capability 9.0 GPU, Gluon, fp16/bf16 k and v with D 64 or 128, '
            "and [B, L, H, D] strides that form a [B * L, H * D] matrix"
        )
    launch = launch or kv_summary_launch(b * h * seq, gluon=use_wgmma)
    block_l = launch.block_l
    # Two splits a head on the interpreter, so the tests walk the split reduction the GPU uses.
    target = num_programs_target(k.device, launch.programs_per_sm) if k.is_cuda else 2 * b * h
    splits = max(1, min(triton.cdiv(seq, block_l), triton.cdiv(target, b * h)))
    rows = triton.cdiv(triton.cdiv(seq, splits), block_l) * block_l
    splits = triton.cdiv(seq, rows)

    def buffer(wanted: bool, *shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
        # A mode's unused pointers get an empty tensor: the kernel never touches them.
        return torch.empty(shape if wanted else (0,), device=k.device, dtype=dtype)

    parts = [buffer(state, b * h, splits, d, d), buffer(state, b * h, splits, d)]
    parts += [buffer(stats, b * h, splits, d), buffer(stats, b * h, splits, d)]
    if use_wgmma:
        from .kv_summary_wgmma import kv_summary_partials_wgmma

        kv_summary_partials_wgmma(k, v, parts, rows, splits, state=state, stats=stats)
    else:
        _kv_summary_kernel[(splits, b * h)](
            k, v, *parts,
            k.stride(0), k.stride(1), k.stride(2), v.stride(0), v.stride(1), v.stride(2),
            h, seq, rows, splits,
            D=d, BLOCK_L=block_l, STATE=state, STATS=stats, PRECISION=dot_precision(k.dtype),
            WIDE=needs_int64(k, v), num_warps=launch.num_warps, num_stages=launch.num_stages, **FP_FUSION,
        )  # fmt: skip
    # A second kernel sums the splits (a fixed order: the result does not vary between runs) and writes
    # every output, where torch would take a reduction and a division per output; programs over slices
    # of the [D, D] state's rows, as one program a head read its splits' partials at a few percent of
    # the memory bandwidth (31 µs a 1.3B layer, benchmarks/runs/h200-2026-12-03d).
    # fp32 inputs on a GPU (the exactness tests' dtype) form m in float64 afterwards instead: an fp32 MMA
    # emulated with FMAs compiles for minutes on sm_90 (as in linear_branch_triton).
    premultiply = weight is not None and not (k.is_cuda and k.dtype == torch.float32)
    kv, ksum = buffer(state, b, h, d, d, dtype=k.dtype), buffer(state, b, h, d)
    k_mean, v_amax = buffer(stats, b, h, d), buffer(stats, b, h, d)
    m = buffer(premultiply, b, h, d, d, dtype=k.dtype)
    w = weight.detach().contiguous() if premultiply else m
    slice_rows = 16
    _kv_summary_finalize_kernel[(b * h, d // slice_rows if state else 1)](
        *parts, w, kv, ksum, k_mean, v_amax, m, splits, seq,
        D=d, ROWS=slice_rows, STATE=state, STATS=stats, PREMULTIPLY=premultiply,
        PRECISION=dot_precision(k.dtype), num_warps=4, **FP_FUSION,
    )  # fmt: skip
    if weight is not None and not premultiply:
        m = premultiplied_state(kv, weight)
    return KVSummary(
        kv=kv if state else None,
        ksum=ksum if state else None,
        k_mean=k_mean if stats else None,
        v_amax=v_amax if stats else None,
        m=m if weight is not None else None,
    )


# ------------------------------------------------------------------------------------ shared epilogue


def check_proj(weight: Tensor, bias: Tensor, d: int) -> None:
    """proj_l must be Linear(D, D): weight [D, D], bias [D]; raises ValueError saying what it got."""
    if weight.shape != (d, d) or bias.shape != (d,):
        raise ValueError(
            f"proj_l must be Linear({d}, {d}) (got weight {tuple(weight.shape)}, bias {tuple(bias.shape)})"
        )


def premultiplied_state(kv: Tensor, weight: Tensor) -> Tensor:
    """m = KV W^T [B, H, D, D] in kv's dtype: the linear-branch state with proj_l's weight folded in
    (``linear_branch_premultiplied``'s m), formed in float64 and rounded once; the weight is first cast to
    kv's dtype, as the official bf16 autocast does. kv [B, H, D, D]; weight [D, D] any float dtype."""
    wt = weight.detach().to(kv.dtype).t().double()
    return torch.matmul(kv.double(), wt).to(kv.dtype)


def linear_operands(
    q: Tensor, k: Tensor, v: Tensor, weight: Tensor, bias: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The linear branch's operands as the SLA kernel reads them, after checking proj_l's shape.

    q, k, v: [B, L, H, D]; weight [D, D], bias [D]: proj_l's (any float dtype; cast to q's dtype for the
    product, as the official code's bf16 autocast does). Returns (kv [B, H, D, D] in q's dtype, ksum fp32
    [B, H, D], both divided by L; wt = weight^T [D, D] in q's dtype; bias fp32 [D]).
    """
    d = q.shape[-1]
    check_proj(weight, bias, d)
    summary = summarize_kv(k, v)
    wt = torch.empty((d, d), device=q.device, dtype=q.dtype)
    wt.copy_(weight.detach().t())  # transpose and cast in one copy kernel
    return summary.kv.to(q.dtype), summary.ksum, wt, bias.detach().float().contiguous()


@triton.jit
def linear_state(KV, KSUM, WT, BIAS, pid_bh, D: tl.constexpr):
    """The linear branch's per-head operands: (KV [D, D], ksum fp32 [D], WT [D, D], bias fp32 [D])."""
    dims = tl.arange(0, D)
    kv = tl.load(KV + pid_bh.to(tl.int64) * D * D + dims[:, None] * D + dims[None, :])
    ksum = tl.load(KSUM + pid_bh.to(tl.int64) * D + dims)
    wt = tl.load(WT + dims[:, None] * D + dims[None, :])
    return kv, ksum, wt, tl.load(BIAS + dims)


@triton.jit
def linear_branch_apply(q, kv, ksum, wt, bias, eps, PRECISION: tl.constexpr):
    """proj_l(o_l) for one tile of query rows: q [BLOCK_M, D] -> fp32 [BLOCK_M, D].

    o_l = phi(q) KV / (eps + phi(q) . ksum), with KV [D, D] (compute dtype) and ksum [D] (fp32) both
    divided by L and eps likewise; wt is proj_l's weight transposed ([D_in, D_out], compute dtype).
    """
    phi = feature_map(q.to(tl.float32))
    num = mma(cast(phi, kv.dtype, PRECISION), kv, tl.zeros(q.shape, tl.float32), PRECISION)
    o_l = num / (eps + tl.sum(phi * ksum[None, :], 1))[:, None]
    return mma(cast(o_l, wt.dtype, PRECISION), wt, tl.zeros(q.shape, tl.float32), PRECISION) + bias[None, :]


@triton.jit
def linear_branch_tile(q, KV, KSUM, WT, BIAS, pid_bh, eps, D: tl.constexpr, PRECISION: tl.constexpr):
    """``linear_branch_apply`` with the head's operands loaded from memory (``linear_state``)."""
    kv, ksum, wt, bias = linear_state(KV, KSUM, WT, BIAS, pid_bh, D)
    return linear_branch_apply(q, kv, ksum, wt, bias, eps, PRECISION)


@triton.jit
def linear_branch_premultiplied(q, m, ksum, bias, eps, PRECISION: tl.constexpr):
    """``linear_branch_apply`` with proj_l's weight folded into the state: q [BLOCK_M, D] -> fp32 [BLOCK_M, D].

    m = KV W^T [D, D] (compute dtype), so proj_l(o_l) = phi(q) m / (eps + phi(q) . ksum) + bias: the row
    scale commutes with the product. One MMA a tile instead of two (the second waited for the first and for
    o_l's rounding): compiled for sm_90 (Triton 3.9, D = 128) a 64-row tile's loop has 640 instructions
    instead of 949 at 8 warps (1,261 instead of 1,515 at 4), 128 registers a thread instead of 194 (196
    instead of 248), and the head's operands take half the shared memory
    (benchmarks/runs/h200-2026-12-03b/local_scripts/commands.sh). The same function as linear_branch_apply,
    rounded at other points (m once per head instead of o_l once per row), and as accurate in bf16.
    """
    phi = feature_map(q.to(tl.float32))
    num = mma(cast(phi, m.dtype, PRECISION), m, tl.zeros(q.shape, tl.float32), PRECISION)
    return num * (1.0 / (eps + tl.sum(phi * ksum[None, :], 1)))[:, None] + bias[None, :]


@triton.jit
def _linear_branch_kernel(
    Q, KV, KSUM, W, BIAS, Out,
    sqb, sql, sqh, sob, sol, soh, swo, swi, sbias,
    H, L, eps,
    D: tl.constexpr, BLOCK_M: tl.constexpr, PREMULTIPLIED: tl.constexpr, PRECISION: tl.constexpr,
    WIDE: tl.constexpr,
):  # fmt: skip
    # Python floats to fp32 first: torch.compile's Inductor passes them as fp64 (Triton's launcher as fp32).
    eps = tl.cast(eps, tl.float32)
    # Each program forms its head's m = KV W^T (one MMA, fp32 accumulation, rounded once to the state's
    # dtype) unless KV already holds it (PREMULTIPLIED), then walks every num_programs(0)-th tile of rows.
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    m = tl.load(KV + pid_bh.to(tl.int64) * D * D + dims[:, None] * D + dims[None, :])
    if not PREMULTIPLIED:
        wt = tl.load(W + dims[None, :] * swo + dims[:, None] * swi).to(m.dtype)  # W^T[i, j] = W[j, i]
        m = cast(mma(m, wt, tl.zeros([D, D], dtype=tl.float32), PRECISION), m.dtype, PRECISION)
    ksum = tl.load(KSUM + pid_bh.to(tl.int64) * D + dims)
    bias = tl.load(BIAS + dims * sbias).to(tl.float32)
    q_base = Q + b.to(tl.int64) * sqb + h * sqh
    o_base = Out + b.to(tl.int64) * sob + h * soh
    for tile in range(tl.program_id(0), tl.cdiv(L, BLOCK_M), tl.num_programs(0)):
        rows = tile * BLOCK_M + tl.arange(0, BLOCK_M)
        row_ok = rows < L
        if WIDE:
            rows = rows.to(tl.int64)
        q = tl.load(q_base + rows[:, None] * sql + dims[None, :], mask=row_ok[:, None], other=0.0)
        y = linear_branch_premultiplied(q, m, ksum, bias, eps, PRECISION)
        tl.store(o_base + rows[:, None] * sol + dims[None, :], cast(y, Out.dtype.element_ty, PRECISION),
                 mask=row_ok[:, None])  # fmt: skip


_linear_branch_tuned = autotune(
    configs=[
        triton.Config({"BLOCK_M": bm}, num_warps=w, num_stages=st)
        for bm, w, st in ((64, 4, 2), (64, 4, 3), (128, 8, 2), (128, 4, 2), (64, 8, 3))
    ],
    key=["D", "PREMULTIPLIED", "WIDE"],
)(_linear_branch_kernel)


def linear_branch_triton(
    q: Tensor, kv: Tensor, ksum: Tensor, weight: Tensor, bias: Tensor, eps: float, out: Tensor
) -> Tensor:
    """Write proj_l(phi(q) KV / (eps + phi(q) . ksum)) into ``out``, rounded to out's dtype.

    q, out: [B, L, H, D] (contiguous last dim); kv [B, H, D, D] in q's dtype and ksum fp32 [B, H, D]
    from ``summarize_kv`` (divided by L), ``eps`` divided by L likewise; weight [D, D] and bias [D]:
    proj_l's, any float dtype and strides (the weight is cast to q's dtype for the product, as the official
    code's bf16 autocast does). Returns ``out``. The kernel reads KV W^T per head
    (``linear_branch_premultiplied``): for 16-bit q each program forms it with one MMA, which on an H200 cost
    less than the four launches a layer of a separate product (benchmarks/runs/h200-2026-12-03c); for fp32
    q (the exactness tests' dtype) it is formed here in float64, as an fp32 MMA of D^3 emulated with FMAs
    takes minutes to compile for sm_90.
    """
    b, seq, h, d = q.shape
    check_proj(weight, bias, d)
    weight, bias = weight.detach(), bias.detach()
    premultiplied = q.dtype == torch.float32
    kv = kv.to(q.dtype)
    if premultiplied:
        kv = premultiplied_state(kv, weight)
    kv = kv.contiguous()
    args = (
        q, kv, ksum, weight, bias, out,
        q.stride(0), q.stride(1), q.stride(2), out.stride(0), out.stride(1), out.stride(2),
        weight.stride(0), weight.stride(1), bias.stride(0), h, seq, eps,
    )  # fmt: skip
    constexprs = dict(
        D=d, PREMULTIPLIED=premultiplied, PRECISION=dot_precision(q.dtype), WIDE=needs_int64(q, out)
    )
    # Two programs a head under the interpreter: it walks the strided tile loop as the GPU does.
    per_head = 2 if interpreting() else max(1, num_programs_target(q.device) // (b * h))
    if tunes(constexprs):
        grid = lambda meta: (min(per_head, triton.cdiv(seq, meta["BLOCK_M"])), b * h)  # noqa: E731
        _linear_branch_tuned[grid](*args, **constexprs, **FP_FUSION)
    else:
        block_m = 16 if interpreting() else 64
        grid = (min(per_head, triton.cdiv(seq, block_m)), b * h)
        _linear_branch_kernel[grid](*args, **constexprs, BLOCK_M=block_m, num_warps=4, **FP_FUSION)
    return out


# ---------------------------------------------------------------------------------------- main kernel


def _fwd_configs() -> list[triton.Config]:
    # Measured on an H100 (issue 8, L=32760, H=12, topk 0.1, sla_attention end to end): this kernel with
    # this list took 2.53 ms; a variant that walked key blocks in pairs, ran the linear branch 32 rows at a
    # time, folded the softmax scale into one FMA and dropped the 4-warp configs took 2.74 ms.
    return [
        triton.Config({"BLOCK_M": bm}, num_warps=w, num_stages=s)
        for bm, w, s in ((128, 8, 3), (128, 8, 2), (64, 8, 2), (64, 8, 3), (64, 8, 4), (64, 4, 3))
    ]


def _prune_fwd(configs, named_args, **kwargs):
    # Triton passes the positional arguments as named_args and the constexprs (given by keyword) as kwargs.
    block_q = {**named_args, **kwargs}["BLKQ"]
    kept = [c for c in configs if c.kwargs["BLOCK_M"] <= block_q]
    return kept or [triton.Config({"BLOCK_M": block_q}, num_warps=4, num_stages=2)]


@triton.jit
def _sla_fwd_kernel(
    Q, K, V, LUT, KV, KSUM, WT, BIAS, Out, OS, LSE,
    sqb, sql, sqh, skb, skl, skh, svb, svl, svh, sob, sol, soh,
    H, L, MQ, TOPK, qk_scale, eps,
    D: tl.constexpr, BLKQ: tl.constexpr, BLKK: tl.constexpr, BLOCK_M: tl.constexpr,
    LINEAR: tl.constexpr, STORE_AUX: tl.constexpr, PRECISION: tl.constexpr, WIDE: tl.constexpr,
):  # fmt: skip
    # Python floats to fp32 first: torch.compile's Inductor passes them as fp64 (Triton's launcher as fp32).
    qk_scale = tl.cast(qk_scale, tl.float32)
    eps = tl.cast(eps, tl.float32)
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < L
    dims = tl.arange(0, D)
    if WIDE:
        rows = rows.to(tl.int64)
    q = tl.load(
        Q + b.to(tl.int64) * sqb + h * sqh + rows[:, None] * sql + dims[None, :],
        mask=row_ok[:, None],
        other=0.0,
    )
    k_base = K + b.to(tl.int64) * skb + h * skh
    v_base = V + b.to(tl.int64) * svb + h * svh
    lut_row = LUT + (pid_bh.to(tl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * TOPK
    if LINEAR:
        # The linear branch first, parked in O (in the output dtype, as the official bf16 proj_l output
        # is): computed after the loop it would be live beside the accumulator and spill registers.
        o_ptr = Out + b.to(tl.int64) * sob + h * soh + rows[:, None] * sol + dims[None, :]
        y = linear_branch_tile(q, KV, KSUM, WT, BIAS, pid_bh, eps, D, PRECISION)
        tl.store(o_ptr, cast(y, Out.dtype.element_ty, PRECISION), mask=row_ok[:, None])

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, D], dtype=tl.float32)
    for t in range(TOPK):
        cols = tl.load(lut_row + t) * BLKK + tl.arange(0, BLKK)
        col_ok = cols < L
        if WIDE:
            cols = cols.to(tl.int64)
        k = tl.load(k_base + cols[:, None] * skl + dims[None, :], mask=col_ok[:, None], other=0.0)
        v = tl.load(v_base + cols[:, None] * svl + dims[None, :], mask=col_ok[:, None], other=0.0)
        s = mma(q, tl.trans(k), tl.zeros([BLOCK_M, BLKK], tl.float32), PRECISION) * qk_scale
        s = tl.where(col_ok[None, :], s, float("-inf"))  # keys past L in a partial last block
        m_new = tl.maximum(m_i, tl.max(s, 1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = mma(cast(p, v.dtype, PRECISION), v, acc * alpha[:, None], PRECISION)
        m_i = m_new
    o = acc / l_i[:, None]

    if STORE_AUX:  # what the backward needs: o_s (for delta) and the base-2 log-sum-exp
        tl.store(LSE + pid_bh.to(tl.int64) * L + rows, m_i + tl.log2(l_i), mask=row_ok)
        os_ptr = OS + b.to(tl.int64) * sob + h * soh + rows[:, None] * sol + dims[None, :]
        tl.store(os_ptr, cast(o, OS.dtype.element_ty, PRECISION), mask=row_ok[:, None])
    # Pointer tiles are recomputed here rather than kept live across the loop (128 registers each).
    o_ptr = Out + b.to(tl.int64) * sob + h * soh + rows[:, None] * sol + dims[None, :]
    if LINEAR:
        tl.debug_barrier()  # other threads of this program wrote the tile
        o += tl.load(o_ptr, mask=row_ok[:, None], other=0.0).to(tl.float32)
    tl.store(o_ptr, cast(o, Out.dtype.element_ty, PRECISION), mask=row_ok[:, None])


_sla_fwd_tuned = autotune(
    configs=_fwd_configs(),
    key=["D", "BLKQ", "BLKK", "LINEAR", "STORE_AUX", "WIDE"],
    prune_configs_by={"early_config_prune": _prune_fwd},
)(_sla_fwd_kernel)


def tunes(constexprs: dict) -> bool:
    """Whether a launch autotunes: on a GPU, for 16-bit inputs.

    Under the interpreter there is nothing to tune. fp32 inputs (PRECISION "ieee") are the exactness tests'
    dtype, not a speed path: their dots are emulated with FMAs, and one config of a D=128 backward kernel
    took 22-53 s to compile for sm_90 (Triton 3.9), so autotuning 6-8 of them kept one GPU test case
    running past five minutes (benchmarks/runs/h200-2026-12-03b). Those launches take one config (``launch``).
    """
    return not interpreting() and constexprs["PRECISION"] != "ieee"


def launch(kernel, tuned, grid, *args, **constexprs) -> None:
    """Run ``tuned`` (the autotuned kernel) where ``tunes``, else ``kernel`` with one config.

    That config has BLOCK_M = min(64, BLKQ) (the autotuner skips its pruning when it has a single config,
    and BLOCK_M must divide the query block), and 4 warps, 16 for fp32 at D > 64: a dot emulated with FMAs is
    unrolled per thread, so more threads make less code. The D=128 dK/dV kernel compiled for sm_90 in 52 s at
    4 warps (a 6 MB cubin), 19 s at 8 and 8.6 s at 16 (Triton 3.9); on the GPU machine's Triton 3.6 it had
    not finished after 60 s (benchmarks/runs/h200-2026-12-04c).
    """
    if not tunes(constexprs):
        warps = 16 if constexprs["PRECISION"] == "ieee" and constexprs["D"] > 64 else 4
        kernel[grid](
            *args,
            **constexprs,
            BLOCK_M=min(64, constexprs["BLKQ"]),
            num_warps=warps,
            num_stages=1,
            **FP_FUSION,
        )
    else:
        tuned[grid](*args, **constexprs, **FP_FUSION)


@dataclass(frozen=True)
class SLASaved:
    """What the SLA backward needs from its forward (all on the inputs' device).

    o_s: [B, L, H, D] sparse-branch output (input dtype); lse: fp32 [B, H, L] base-2 log-sum-exp of the
    log2(e)/sqrt(D)-scaled scores; kv: [B, H, D, D] and ksum: fp32 [B, H, D] the linear state divided by L
    (kv in the input dtype); eps: the linear branch's eps divided by L.
    """

    o_s: Tensor
    lse: Tensor
    kv: Tensor
    ksum: Tensor
    eps: float


def sla_forward_triton(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    lut: Tensor,
    weight: Tensor,
    bias: Tensor,
    *,
    block_q: int,
    block_k: int,
    eps: float,
    save_for_backward: bool = False,
) -> tuple[Tensor, SLASaved | None]:
    """Launch the SLA forward. q, k, v: [B, L, H, D]; lut: [B, H, Mq, topk] key-block indices.

    weight [D, D] and bias [D] are proj_l's (any float dtype; cast to q's dtype for the product, as the
    official code's bf16 autocast does). Returns (o [B, L, H, D] in q's dtype, SLASaved or None).
    """
    check_kernel_inputs(q, k, v)
    b, seq, h, d = q.shape
    mq = triton.cdiv(seq, block_q)
    check_lut(lut, b, h, mq, triton.cdiv(seq, block_k))
    if block_q not in (16, 32, 64, 128) or block_k not in (16, 32, 64, 128):
        raise ValueError(f"block sizes must be 16, 32, 64 or 128 (got block_q={block_q}, block_k={block_k})")
    kv, ksum, wt, bias32 = linear_operands(q, k, v, weight, bias)
    lut32 = lut.to(device=q.device, dtype=torch.int32).contiguous()
    o = torch.empty_like(q, memory_format=torch.contiguous_format)
    o_s = torch.empty_like(o) if save_for_backward else o
    lse = torch.empty((b, h, seq), device=q.device, dtype=torch.float32) if save_for_backward else o
    grid = lambda meta: (triton.cdiv(seq, meta["BLOCK_M"]), b * h)  # noqa: E731
    launch(
        _sla_fwd_kernel, _sla_fwd_tuned, grid,
        q, k, v, lut32, kv, ksum, wt, bias32, o, o_s, lse,
        q.stride(0), q.stride(1), q.stride(2), k.stride(0), k.stride(1), k.stride(2),
        v.stride(0), v.stride(1), v.stride(2), o.stride(0), o.stride(1), o.stride(2),
        h, seq, mq, lut.shape[3], LOG2E / math.sqrt(d), eps / seq,
        D=d, BLKQ=block_q, BLKK=block_k, LINEAR=True, STORE_AUX=save_for_backward,
        PRECISION=dot_precision(q.dtype), WIDE=needs_int64(q, k, v),
    )  # fmt: skip
    if not save_for_backward:
        return o, None
    return o, SLASaved(o_s=o_s, lse=lse, kv=kv, ksum=ksum, eps=eps / seq)


def check_lut(lut: Tensor, b: int, h: int, mq: int, nk: int) -> None:
    """A lut must be integer [B, H, Mq, topk] with 1 <= topk <= Nk (values are trusted to be < Nk)."""
    if lut.dim() != 4 or lut.shape[:3] != (b, h, mq) or not 1 <= lut.shape[3] <= nk:
        raise ValueError(f"lut must be [B, H, Mq, topk] = [{b}, {h}, {mq}, 1..{nk}] (got {tuple(lut.shape)})")
    if lut.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"lut must be int32 or int64 (got {lut.dtype})")
