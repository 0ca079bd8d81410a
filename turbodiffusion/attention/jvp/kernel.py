"""Triton forward-mode attention: (O, dO) from (Q, K, V, dQ, dK, dV) in one FlashAttention-style pass.

With S = Q Kᵀ/√D, P = softmax(S), dS = (dQ Kᵀ + Q dKᵀ)/√D (reference.py, docs §4):

    O  = Σ_j P_ij V_j
    dO = Σ_j P_ij dS_ij V_j − (Σ_j P_ij dS_ij) O_i + Σ_j P_ij dV_j

Per query block the kernel streams key blocks with the online-softmax rescaling applied to four
accumulators: l = Σ p, μ = Σ p·dS, A = Σ p V, T = Σ p dS V + Σ p dV (p = exp(S − running max)); at
the end O = A/l and dO = T/l − (μ/l) O. Nothing of size [Lq, Lk] is stored.
FLOPs (dense): 4 matmuls of Lq·Lk·D for S and dS, 3 for A and T: 2·7·B·H·Lq·Lk·D.
Bytes: 6 inputs read once per query block of keys (K, V, dK, dV re-read Lq/BLOCK_M times), 2 outputs.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, check_kernel_device
from ..sdpa import check_qkv

_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
MAX_HEAD_DIM = 256


@triton.jit
def _attention_jvp_kernel(
    Q, K, V, DQ, DK, DV, Out, DOut,
    sq_b, sq_l, sq_h,  # strides of the q-shaped tensors (Q, DQ, Out, DOut): last dim contiguous
    sk_b, sk_l, sk_h,  # strides of the k-shaped tensors (K, V, DK, DV)
    H, Lq, Lk, D, scale,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = (pid_bh // H).to(tl.int64)  # int64 offsets: B·L·H·D can pass 2^31
    h = (pid_bh % H).to(tl.int64)
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    q_off = b * sq_b + h * sq_h + offs_m[:, None].to(tl.int64) * sq_l + offs_d[None, :]
    q_mask = (offs_m[:, None] < Lq) & (offs_d[None, :] < D)
    q = tl.load(Q + q_off, mask=q_mask, other=0.0).to(tl.float32)
    dq = tl.load(DQ + q_off, mask=q_mask, other=0.0).to(tl.float32)

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    mu_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc_o = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    acc_t = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)
    for start_n in range(0, Lk, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        k_off = b * sk_b + h * sk_h + offs_n[:, None].to(tl.int64) * sk_l + offs_d[None, :]
        k_mask = (offs_n[:, None] < Lk) & (offs_d[None, :] < D)
        k = tl.load(K + k_off, mask=k_mask, other=0.0).to(tl.float32)
        v = tl.load(V + k_off, mask=k_mask, other=0.0).to(tl.float32)
        dk = tl.load(DK + k_off, mask=k_mask, other=0.0).to(tl.float32)
        dv = tl.load(DV + k_off, mask=k_mask, other=0.0).to(tl.float32)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale
        ds = (
            tl.dot(dq, tl.trans(k), input_precision=PRECISION)
            + tl.dot(q, tl.trans(dk), input_precision=PRECISION)
        ) * scale
        s = tl.where(offs_n[None, :] < Lk, s, float("-inf"))  # keys past the tail get zero weight
        m_new = tl.maximum(m_i, tl.max(s, 1))
        alpha = tl.exp(m_i - m_new)
        p = tl.exp(s - m_new[:, None])
        pds = p * ds
        l_i = l_i * alpha + tl.sum(p, 1)
        mu_i = mu_i * alpha + tl.sum(pds, 1)
        acc_o = acc_o * alpha[:, None] + tl.dot(p, v, input_precision=PRECISION)
        acc_t = (
            acc_t * alpha[:, None]
            + tl.dot(pds, v, input_precision=PRECISION)
            + tl.dot(p, dv, input_precision=PRECISION)
        )
        m_i = m_new
    o = acc_o / l_i[:, None]
    do = acc_t / l_i[:, None] - (mu_i / l_i)[:, None] * o
    tl.store(Out + q_off, o.to(Out.dtype.element_ty), mask=q_mask)
    tl.store(DOut + q_off, do.to(DOut.dtype.element_ty), mask=q_mask)


def attention_jvp_triton(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    dq: Tensor,
    dk: Tensor,
    dv: Tensor,
    *,
    block_m: int = 64,
    block_n: int = 64,
) -> tuple[Tensor, Tensor]:
    """(o, do) of softmax attention along the tangents, scale 1/√D, no mask.

    q, dq: [B, Lq, H, D]; k, v, dk, dv: [B, Lk, H, D]; one dtype among fp32/bf16/fp16, one device
    (CUDA, or CPU under TRITON_INTERPRET=1), D <= 256. Any L (tails are masked). Returns o, do in q's
    dtype. Raises ValueError on mismatched shapes, dtypes or devices.
    """
    check_qkv(q, k, v)
    for name, t, p in (("dq", dq, q), ("dk", dk, k), ("dv", dv, v)):
        if t.shape != p.shape:
            raise ValueError(
                f"tangent {name} must have its primal's shape {tuple(p.shape)} (got {tuple(t.shape)})"
            )
    tensors = (q, k, v, dq, dk, dv)
    if q.dtype not in _DTYPES or any(t.dtype != q.dtype for t in tensors):
        raise ValueError(
            f"attention_jvp_triton needs one dtype among fp32/bf16/fp16 for all six inputs "
            f"(got {[str(t.dtype) for t in tensors]}); use impl='reference' for float64"
        )
    if any(t.device != q.device for t in tensors):
        raise ValueError(f"all six inputs must be on one device (got {[str(t.device) for t in tensors]})")
    check_kernel_device(q)
    B, Lq, H, D = q.shape
    Lk = k.shape[1]
    if D > MAX_HEAD_DIM:
        raise ValueError(f"head dim D must be <= {MAX_HEAD_DIM} (got {D})")
    # Contiguous copies share one stride set per shape family (no-ops for the usual layouts).
    q, dq = q.contiguous(), dq.contiguous()
    k, v, dk, dv = k.contiguous(), v.contiguous(), dk.contiguous(), dv.contiguous()
    o = torch.empty_like(q)
    do = torch.empty_like(q)
    if q.numel() == 0:
        return o, do
    block_d = max(16, triton.next_power_of_2(D))
    if block_d > 64:
        # Six fp32 tiles live at once (q, dq, k, v, dk, dv): halve the tiles to bound register pressure.
        block_m, block_n = min(block_m, 32), min(block_n, 32)
    # Everything is upcast to fp32 in the kernel: the tangent subtracts nearly equal terms. fp32 inputs
    # get full-precision dots (tf32 would cost ~1e-3 relative); half inputs, whose own rounding is
    # already ~4e-3, take tf32 tensor-core dots.
    precision = "ieee" if q.dtype == torch.float32 else "tf32"
    grid = (triton.cdiv(Lq, block_m), B * H)
    _attention_jvp_kernel[grid](
        q, k, v, dq, dk, dv, o, do,
        q.stride(0), q.stride(1), q.stride(2),
        k.stride(0), k.stride(1), k.stride(2),
        H, Lq, Lk, D, 1.0 / math.sqrt(D),
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d, PRECISION=precision, **FP_FUSION,
    )  # fmt: skip
    return o, do


@torch.library.custom_op("turbodiffusion::attention_jvp", mutates_args=())
def attention_jvp_op(
    q: Tensor, k: Tensor, v: Tensor, dq: Tensor, dk: Tensor, dv: Tensor
) -> tuple[Tensor, Tensor]:
    """``attention_jvp_triton`` as a torch op: torch.func transforms and torch.compile see through it
    (a raw Triton launch cannot read the storage of torch.func's wrapped tensors)."""
    return attention_jvp_triton(q, k, v, dq, dk, dv)


@attention_jvp_op.register_fake
def _(q: Tensor, k: Tensor, v: Tensor, dq: Tensor, dk: Tensor, dv: Tensor) -> tuple[Tensor, Tensor]:
    return torch.empty_like(q, memory_format=torch.contiguous_format), torch.empty_like(
        q, memory_format=torch.contiguous_format
    )


__all__ = ["attention_jvp_op", "attention_jvp_triton"]
