"""Triton block-scaled W8A8 GEMM (INT8 or FP8 e4m3): the kernel for reference.py.

Work: 2·M·N·K operations; bytes: M·K + N·K codes (1 byte each), the scales, and M·N outputs (2 bytes for
bf16), so at Wan shapes (M >= 32k, K >= 1536) it is bound by the tensor cores, not memory.

Structure (quantization.md §8): a program owns a BM x BN output tile and walks K in 128-wide slices. Each
slice is one ``tl.dot`` of int8 (or e4m3) operands into a fresh int32 (or fp32) partial, converted and
folded into the fp32 accumulator with that slice's scale product. On Hopper, Triton lowers the int8/fp8 dot
to wgmma. BN is 128, aligned with the weight's 128-row scale blocks, so the weight scale of a slice is one
scalar and the fold costs one fma per output element; the activation scale is a [BM] vector (one value
per 128 rows for INT8, per row for FP8). The epilogue casts to the output dtype and adds the bias there,
rounded the way the reference rounds it (bias cast to the output dtype, then added).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, autotune, check_kernel_device, has_fp8
from .reference import BLOCK, check_scaled_mm_inputs

# Autotune candidates (GPU only; the interpreter runs _INTERPRET_CONFIG). BK is fixed at 128, the scale slice.
# BM 128/256 with 8 warps keeps the int32 partial and the fp32 accumulator in registers (64 + 64 or 128 + 128
# per thread); stages trade shared memory (BM·128 + 128·128 bytes per stage) for latency hiding.
# FOLD_LAG=1 carries one more partial in registers, so it is offered only where that fits (BM <= 128 with
# 64 partial registers per thread).
_CONFIGS = [
    triton.Config({"BM": 128, "GROUP_M": 8, "FOLD_LAG": 0}, num_stages=3, num_warps=8),
    triton.Config({"BM": 128, "GROUP_M": 8, "FOLD_LAG": 0}, num_stages=4, num_warps=8),
    triton.Config({"BM": 128, "GROUP_M": 8, "FOLD_LAG": 0}, num_stages=5, num_warps=8),
    triton.Config({"BM": 256, "GROUP_M": 8, "FOLD_LAG": 0}, num_stages=3, num_warps=8),
    triton.Config({"BM": 64, "GROUP_M": 8, "FOLD_LAG": 0}, num_stages=4, num_warps=4),
    triton.Config({"BM": 128, "GROUP_M": 8, "FOLD_LAG": 1}, num_stages=3, num_warps=8),
    triton.Config({"BM": 128, "GROUP_M": 8, "FOLD_LAG": 1}, num_stages=4, num_warps=8),
    triton.Config({"BM": 64, "GROUP_M": 8, "FOLD_LAG": 1}, num_stages=4, num_warps=4),
]
# The interpreter runs both fold orders (tests choose with fold_lag); GPUs pick by autotuning.
_INTERPRET_CONFIG = {"BM": 64, "GROUP_M": 4}
# Below this many multiply-adds a fixed config is used: autotuning (compiling and timing every candidate)
# costs far more than it can save on a small GEMM.
_AUTOTUNE_MIN_MACS = 1 << 32


@triton.jit
def round_to_dtype(x, OUT_TY: tl.constexpr):
    """fp32 -> OUT_TY, round to nearest even, identically on GPUs and in the CPU interpreter.

    The interpreter's fp32 -> bf16 cast truncates, so bf16 is rounded here with integer arithmetic on the
    bits (add 0x7FFF plus the lowest kept bit, clear the low half); the final cast is then exact.
    """
    if OUT_TY == tl.bfloat16:
        bits = x.to(tl.int32, bitcast=True)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & -65536  # -65536 == 0xFFFF0000
        x = bits.to(tl.float32, bitcast=True)
    return x.to(OUT_TY)


@triton.jit
def _scaled_mm_kernel(
    a_ptr,
    as_ptr,
    b_ptr,
    bs_ptr,
    bias_ptr,
    c_ptr,
    M,
    N,
    K,
    stride_am,
    stride_bn,
    stride_cm,
    stride_asr,  # activation scales: row stride
    stride_ask,  # activation scales: K-slice stride (1 row-major; per-row FP8 scales are K-major)
    A_TILE_ROWS: tl.constexpr,  # rows sharing an activation scale: 128 (INT8) or 1 (FP8)
    HAS_BIAS: tl.constexpr,
    IS_FP8: tl.constexpr,
    BM: tl.constexpr,
    GROUP_M: tl.constexpr,
    FOLD_LAG: tl.constexpr,  # 1: fold slice k's partial after issuing slice k+1's dot (overlap), 0: at once
):
    BN: tl.constexpr = 128  # one weight-scale block per tile (see the module docstring)
    BK: tl.constexpr = 128  # one scale slice per step
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BM)
    num_n = tl.cdiv(N, BN)
    # Grouped raster: GROUP_M row tiles sweep the columns together, so B tiles are reused from L2.
    group = pid // (GROUP_M * num_n)
    first_m = group * GROUP_M
    group_size = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % (GROUP_M * num_n)) % group_size
    pid_n = (pid % (GROUP_M * num_n)) // group_size

    offs_m = pid_m * BM + tl.arange(0, BM)
    offs_n = pid_n * BN + tl.arange(0, BN)
    offs_k = tl.arange(0, BK)
    mask_m = offs_m < M
    mask_n = offs_n < N
    n_kb = K // BK
    a_ptrs = a_ptr + offs_m.to(tl.int64)[:, None] * stride_am + offs_k[None, :]
    b_ptrs = b_ptr + offs_n.to(tl.int64)[None, :] * stride_bn + offs_k[:, None]  # [BK, BN] view of B^T
    as_ptrs = as_ptr + (offs_m // A_TILE_ROWS).to(tl.int64) * stride_asr
    bs_row = bs_ptr + pid_n * n_kb
    P_TY: tl.constexpr = tl.float32 if IS_FP8 else tl.int32  # INT8 partials are exact: |p| <= 2^21

    acc = tl.zeros((BM, BN), dtype=tl.float32)
    if FOLD_LAG:
        p_prev = tl.zeros((BM, BN), dtype=P_TY)
        s_prev = tl.zeros((BM,), dtype=tl.float32)
    for kb in range(0, n_kb):
        # No `other`: a row of A past M (or a column of B past N) only feeds output rows (columns) that are
        # never stored, so whatever the masked lanes hold cannot reach the result.
        a = tl.load(a_ptrs, mask=mask_m[:, None])
        b = tl.load(b_ptrs, mask=mask_n[None, :])
        p = tl.dot(a, b, out_dtype=P_TY)
        sa = tl.load(as_ptrs + kb * stride_ask, mask=mask_m, other=0.0)
        s = sa * tl.load(bs_row + kb)  # the scale product first, as the reference forms it
        if FOLD_LAG:
            # Fold the previous slice while this slice's dot may still run on the tensor cores.
            acc += p_prev.to(tl.float32) * s_prev[:, None]
            p_prev = p
            s_prev = s
        else:
            acc += p.to(tl.float32) * s[:, None]
        a_ptrs += BK
        b_ptrs += BK
    if FOLD_LAG:
        acc += p_prev.to(tl.float32) * s_prev[:, None]

    out_ty: tl.constexpr = c_ptr.dtype.element_ty
    c = round_to_dtype(acc, out_ty)
    if HAS_BIAS:
        bias = round_to_dtype(tl.load(bias_ptr + offs_n, mask=mask_n, other=0.0).to(tl.float32), out_ty)
        # torch's y + bias in a low-precision dtype: exact fp32 sum of the two, rounded once.
        c = round_to_dtype(c.to(tl.float32) + bias.to(tl.float32)[None, :], out_ty)
    c_ptrs = c_ptr + offs_m.to(tl.int64)[:, None] * stride_cm + offs_n[None, :]
    tl.store(c_ptrs, c, mask=mask_m[:, None] & mask_n[None, :])


_scaled_mm_tuned = autotune(configs=_CONFIGS, key=["M", "N", "K", "A_TILE_ROWS", "IS_FP8"])(_scaled_mm_kernel)


def scaled_mm_triton(
    a: Tensor,
    a_scale: Tensor,
    b: Tensor,
    b_scale: Tensor,
    bias: Tensor | None = None,
    *,
    out_dtype: torch.dtype = torch.bfloat16,
    a_tile_rows: int = BLOCK,
    fold_lag: int | None = None,
) -> Tensor:
    """Triton version of ``scaled_mm_reference`` (same arguments); within one output ulp of it.

    a: [M, K] int8/e4m3 codes, b: [N, K] codes of the same dtype, both with a contiguous last dim; the
    scales may have any strides. Only K % 128 == 0 is required; M and N tails are masked. FP8 needs compute
    capability >= 8.9 on CUDA. fold_lag forces the fold order (0 or 1, for tests and benchmarks); None lets
    the autotuner choose on GPUs (1 in the interpreter). A ``torch.library`` custom op, so torch.compile
    traces through it.
    """
    if fold_lag not in (None, 0, 1):
        raise ValueError(f"fold_lag must be None, 0 or 1 (got {fold_lag!r})")
    check_scaled_mm_inputs(a, a_scale, b, b_scale, bias, a_tile_rows)
    if out_dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"out_dtype must be float32, bfloat16 or float16 (got {out_dtype})")
    for name, t in (("a", a), ("b", b)):
        if t.shape[1] > 1 and t.stride(1) != 1:
            raise ValueError(f"{name} must have a contiguous last dim (got strides {tuple(t.stride())})")
    check_kernel_device(a)
    if a.dtype == torch.float8_e4m3fn and a.is_cuda and not has_fp8(a.device):
        cap = torch.cuda.get_device_capability(a.device)
        raise ValueError(
            f"the FP8 GEMM needs compute capability >= 8.9 (got {cap}); use Int8Config on this GPU"
        )
    lag = -1 if fold_lag is None else fold_lag
    return _scaled_mm_op(a, a_scale, b, b_scale.contiguous(), bias, _DTYPE_CODES[out_dtype], a_tile_rows, lag)


# custom_op signatures cannot take a torch.dtype; a small integer code stands in for it.
_DTYPE_CODES = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}
_CODE_DTYPES = {v: k for k, v in _DTYPE_CODES.items()}


@torch.library.custom_op("turbodiffusion::scaled_mm", mutates_args=())
def _scaled_mm_op(
    a: Tensor,
    a_scale: Tensor,
    b: Tensor,
    b_scale: Tensor,
    bias: Tensor | None,
    out_dtype_code: int,
    a_tile_rows: int,
    fold_lag: int,
) -> Tensor:
    (m, k), n = a.shape, b.shape[0]
    c = torch.empty(m, n, dtype=_CODE_DTYPES[out_dtype_code], device=a.device)
    if m == 0 or n == 0:
        return c
    args = (
        a,
        a_scale,
        b,
        b_scale,
        bias if bias is not None else c,
        c,
        m,
        n,
        k,
        a.stride(0),
        b.stride(0),
        c.stride(0),
        a_scale.stride(0),
        a_scale.stride(1),
    )
    flags = {
        "A_TILE_ROWS": a_tile_rows,
        "HAS_BIAS": bias is not None,
        "IS_FP8": a.dtype == torch.float8_e4m3fn,
    }
    if a.device.type == "cpu":  # interpreter: one fixed config, no autotuning
        cfg = _INTERPRET_CONFIG
        grid = (triton.cdiv(m, cfg["BM"]) * triton.cdiv(n, BLOCK),)
        _scaled_mm_kernel[grid](*args, **flags, **cfg, FOLD_LAG=1 if fold_lag < 0 else fold_lag, **FP_FUSION)
    elif m * n * k < _AUTOTUNE_MIN_MACS or fold_lag >= 0:
        bm = 64 if m <= 64 else 128
        grid = (triton.cdiv(m, bm) * triton.cdiv(n, BLOCK),)
        _scaled_mm_kernel[grid](
            *args, **flags, BM=bm, GROUP_M=8, FOLD_LAG=max(fold_lag, 0),
            num_warps=4 if bm == 64 else 8, num_stages=4, **FP_FUSION,
        )  # fmt: skip
    else:
        grid = lambda meta: (triton.cdiv(m, meta["BM"]) * triton.cdiv(n, BLOCK),)  # noqa: E731
        _scaled_mm_tuned[grid](*args, **flags, **FP_FUSION)
    return c


@_scaled_mm_op.register_fake
def _(a, a_scale, b, b_scale, bias, out_dtype_code, a_tile_rows, fold_lag):
    return a.new_empty(a.shape[0], b.shape[0], dtype=_CODE_DTYPES[out_dtype_code])
