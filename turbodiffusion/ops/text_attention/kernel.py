"""Triton cross-attention to the text: q's RMSNorm and the attention in one kernel (reference.py is the spec).

Wan's cross-attention ran as two kernels: ops.rms_norm wrote the normalised q, and cuDNN's attention read it
back, attended to a few dozen text keys and wrote the output, so q crossed memory three times and the output
once. Here a program owns BLOCK_M rows of one sample and walks their heads twice: the first walk sums the
squares of the whole row (RMSNorm is over the full width), the second (its loads mostly L1 and L2 hits)
normalises each head's q, rounds it to q's dtype as the plain path does, and attends to the sample's keys
in tiles of BLOCK_N with an online softmax: scores and softmax in fp32, P rounded to v's dtype for its
product, both products on the tensor cores. The text's k and v (Lk x dim, a few hundred KB) stay in L2.

Bytes: q read once from memory and the output written once, 4 bytes per element in bf16; the floor is the
copy bandwidth over those bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...attention.sla.kernel_fwd import LOG2E, cast, dot_precision, mma, needs_int64
from ...kernel_device import FP_FUSION, check_kernel_device
from .reference import check_text_attention_inputs

_LOG2E = tl.constexpr(LOG2E)  # kernels read module globals only as constexpr


@triton.jit
def _text_attention_kernel(
    q_ptr,
    w_ptr,
    k_ptr,
    v_ptr,
    bias_ptr,
    out_ptr,
    L,
    LK,
    NUM_HEADS,
    stride_kb,
    stride_kl,
    stride_kh,
    stride_vb,
    stride_vl,
    stride_vh,
    eps,
    qk_scale,  # log2(e) / sqrt(D): scores in base 2
    HEAD: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    MORE_TILES: tl.constexpr,  # LK > BLOCK_N
    WIDE: tl.constexpr,  # offsets in int64: a sample past 2^31 elements
    PRECISION: tl.constexpr,  # sla.kernel_fwd.dot_precision's: exact fp32, and bf16 right in the interpreter
):
    b = tl.program_id(1).to(tl.int64)
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rmask = (rows < L)[:, None]
    d = tl.arange(0, HEAD)
    dim = NUM_HEADS * HEAD
    # One [BLOCK_M, HEAD] tensor of 32-bit offsets serves q's loads and the output's stores (both rows are
    # dim apart), under per-sample scalar bases. As two tensors of 64-bit addresses (q's and the output's,
    # live across the heads' loop) they took 128 registers a thread and the kernel spilt (sm_90 compile).
    offs = rows[:, None] * dim + d[None, :]
    if WIDE:
        offs = offs.to(tl.int64)
    q_sample = q_ptr + b * L * dim
    out_sample = out_ptr + b * L * dim
    # Each loop loads the next head's tiles before working on the current one's: the loads are in flight
    # during the arithmetic (a load only stalls at the first use of its registers), where the loop written
    # plainly waited for every load in turn.
    x = tl.load(q_sample + offs, mask=rmask, other=0.0)
    squares = tl.zeros([BLOCK_M, HEAD], dtype=tl.float32)
    for h in range(1, NUM_HEADS + 1):
        ahead = tl.load(q_sample + (h % NUM_HEADS) * HEAD + offs, mask=rmask, other=0.0)
        squares += x.to(tl.float32) * x.to(tl.float32)
        x = ahead
    # Rows past L load zeros; the sum is divided by the true width. x is head 0's tile again.
    rstd = 1.0 / tl.sqrt(tl.sum(squares, axis=1) / dim + eps)
    keys = tl.arange(0, BLOCK_N)
    k_sample = k_ptr + b * stride_kb
    v_sample = v_ptr + b * stride_vb
    kt_offs = keys[None, :] * stride_kl + d[:, None]  # [HEAD, BLOCK_N]: k^T's first tile
    v_offs = keys[:, None] * stride_vl + d[None, :]  # [BLOCK_N, HEAD]
    kmask = (keys < LK)[None, :]
    kt = tl.load(k_sample + kt_offs, mask=kmask, other=0.0)
    vt = tl.load(v_sample + v_offs, mask=tl.trans(kmask), other=0.0)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + keys, mask=keys < LK, other=0.0).to(tl.float32)[None, :] * _LOG2E
    for h in range(NUM_HEADS):
        following = (h + 1) % NUM_HEADS
        x_ahead = tl.load(q_sample + following * HEAD + offs, mask=rmask, other=0.0)
        w = tl.load(w_ptr + h * HEAD + d).to(tl.float32)
        qn = cast(x.to(tl.float32) * rstd[:, None] * w[None, :], k_ptr.dtype.element_ty, PRECISION)
        # The first tile of keys (all of them when LK <= BLOCK_N, a prompt's usual case), then the rest with
        # an online softmax.
        s = mma(qn, kt, tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32), PRECISION) * qk_scale
        if HAS_BIAS:
            s += bias
        s = tl.where(kmask, s, float("-inf"))
        # A finite floor: a row whose first tile is all dropped keys (-inf) gets p = 0 and later alpha = 1.
        m = tl.maximum(tl.max(s, axis=1), -1.0e30)
        p = tl.exp2(s - m[:, None])
        total = tl.sum(p, axis=1)
        acc = mma(
            cast(p, v_ptr.dtype.element_ty, PRECISION), vt, tl.zeros([BLOCK_M, HEAD], tl.float32), PRECISION
        )
        kt = tl.load(k_sample + following * stride_kh + kt_offs, mask=kmask, other=0.0)
        vt = tl.load(v_sample + following * stride_vh + v_offs, mask=tl.trans(kmask), other=0.0)
        for n0 in range(BLOCK_N, LK if MORE_TILES else 0, BLOCK_N):
            n = n0 + keys
            nmask = n < LK
            k_tile = tl.load(
                k_sample + h * stride_kh + n0 * stride_kl + kt_offs, mask=nmask[None, :], other=0.0
            )
            s = mma(qn, k_tile, tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32), PRECISION) * qk_scale
            if HAS_BIAS:
                s += tl.load(bias_ptr + n, mask=nmask, other=0.0).to(tl.float32)[None, :] * _LOG2E
            s = tl.where(nmask[None, :], s, float("-inf"))
            m_new = tl.maximum(m, tl.max(s, axis=1))
            alpha = tl.exp2(m - m_new)
            p = tl.exp2(s - m_new[:, None])
            total = total * alpha + tl.sum(p, axis=1)
            v_tile = tl.load(
                v_sample + h * stride_vh + n0 * stride_vl + v_offs, mask=nmask[:, None], other=0.0
            )
            acc = mma(cast(p, v_ptr.dtype.element_ty, PRECISION), v_tile, acc * alpha[:, None], PRECISION)
            m = m_new
        y = cast(acc / total[:, None], out_ptr.dtype.element_ty, PRECISION)
        tl.store(out_sample + h * HEAD + offs, y, mask=rmask)
        x = x_ahead


@dataclass(frozen=True)
class TextAttentionLaunch:
    """Rows a program, keys a tile, warps, software-pipeline stages, and a cap on registers a thread (0:
    ptxas's choice)."""

    block_m: int
    block_n: int
    num_warps: int
    num_stages: int
    max_registers: int = 0


def text_attention_launch(keys: int) -> TextAttentionLaunch:
    """32 rows a program on 8 warps, loads not pipelined; one tile of keys up to 64 (a prompt's usual few
    dozen), else tiles of 64. Not pipelining keeps a program at 125 registers and 28 KB of shared memory
    (local sm_90 compile, Triton 3.9); three stages took 172 and 76 KB."""
    return TextAttentionLaunch(32, min(64, max(16, triton.next_power_of_2(keys))), 8, 1)


def kernel_supports(head_dim: int) -> bool:
    """The kernel's head sizes: powers of two from 16 (the tensor cores' smallest tile side) to 256."""
    return 16 <= head_dim <= 256 and head_dim & (head_dim - 1) == 0


def text_attention_triton(
    q: Tensor,
    weight: Tensor,
    k: Tensor,
    v: Tensor,
    key_bias: Tensor | None = None,
    eps: float = 1e-6,
    *,
    launch: TextAttentionLaunch | None = None,
) -> Tensor:
    """Triton version of ``text_attention_reference``: q [B, L, dim] (copied first unless contiguous),
    weight [dim], k and v [B, Lk, H, D] (any strides with a contiguous last dim), key_bias [Lk] or None.
    On CPU only under TRITON_INTERPRET=1. ``launch`` overrides ``text_attention_launch`` (for benchmarks). Returns a new contiguous [B, L, H, D] tensor in q's dtype."""
    check_text_attention_inputs(q, weight, k, v, key_bias)
    check_kernel_device(q)
    head_dim = k.shape[-1]
    if not kernel_supports(head_dim):
        raise ValueError(
            f"the Triton text attention takes head sizes that are powers of two from 16 to 256 (got "
            f"{head_dim}); use impl='reference'"
        )
    q = q.contiguous()  # the q projection's output already is
    k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in (k, v))
    B, L, _ = q.shape
    out = torch.empty(B, L, k.shape[2], head_dim, dtype=q.dtype, device=q.device)
    bias = key_bias.contiguous() if key_bias is not None else q.new_empty(0)
    launch = launch or text_attention_launch(k.shape[1])
    _text_attention_op(
        q, weight, k, v, bias, out, key_bias is not None, float(eps), launch.block_m, launch.block_n,
        launch.num_warps, launch.num_stages, launch.max_registers,
    )  # fmt: skip
    return out


@torch.library.custom_op("turbodiffusion::text_attention", mutates_args=("out",))
def _text_attention_op(
    q: Tensor,
    weight: Tensor,
    k: Tensor,
    v: Tensor,
    bias: Tensor,
    out: Tensor,
    has_bias: bool,
    eps: float,
    block_m: int,
    block_n: int,
    num_warps: int,
    num_stages: int,
    max_registers: int,
) -> None:
    B, L, _ = q.shape
    if B * L == 0:
        return
    _, keys, heads, head_dim = k.shape
    _text_attention_kernel[(triton.cdiv(L, block_m), B)](
        q, weight, k, v, bias, out, L, keys, heads, k.stride(0), k.stride(1), k.stride(2), v.stride(0),
        v.stride(1), v.stride(2), eps, LOG2E / head_dim**0.5, HEAD=head_dim, BLOCK_M=block_m, BLOCK_N=block_n,
        HAS_BIAS=has_bias, MORE_TILES=keys > block_n, WIDE=needs_int64(q, out),
        PRECISION=dot_precision(q.dtype), num_warps=num_warps, num_stages=num_stages, **FP_FUSION,
        **({"maxnreg": max_registers} if max_registers else {}),
    )  # fmt: skip
