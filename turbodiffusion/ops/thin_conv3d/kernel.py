"""Triton 3D convolution with few output channels over a channels-last chunk (reference.py is the spec).

Why: the Wan VAE decoder ends in a 3x3x3 convolution from 96 channels to 3 at full resolution. cuDNN ran it
in 22.5 ms of a 0.80 s 480p decode on an H200 (benchmarks/runs/h200-2026-12-02e, ``--layers``), padding its
output channels to 8 or 16 changed nothing, while its input is read from memory in about 1.3 ms (6.2 GB).

How: an implicit GEMM. A program owns BLOCK_H x BLOCK_W output positions of one frame (M = 128 rows) and all
output channels (N = C_out padded to 16, one MMA tile), and walks the KT * KH * KW taps times the input
channels in BLOCK_K slices as one flat loop, so the compiler pipelines its loads: each step loads the
[M, BLOCK_K] input slab the tap reads (zeros outside the frame: the spatial padding) and the tap's [BLOCK_K,
16] weights. The three horizontal taps of a row read nearly the same bytes, so they hit the L1 cache; the
frame index is the grid's fastest dimension, so the programs of neighbouring frames that share input frames
run together and find them in L2.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...attention.sla.kernel_fwd import cast, dot_precision, mma
from ...kernel_device import FP_FUSION, check_kernel_device
from .reference import MAX_OUT_CHANNELS, check_thin_conv3d_inputs

BLOCK_M = 128  # output positions a program (BLOCK_H x BLOCK_W)
NUM_WARPS = 4
NUM_STAGES = 3


@triton.jit
def _thin_conv3d_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    H, W, C,
    sxb, sxt, sxh, sxw, syb, syt, syh, syw,
    KT: tl.constexpr, KH: tl.constexpr, KW: tl.constexpr, CO: tl.constexpr, CO_PAD: tl.constexpr,
    HAS_BIAS: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr, BLOCK_K: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    t = tl.program_id(0)
    tile = tl.program_id(1)
    b = tl.program_id(2).to(tl.int64)
    tiles_w = tl.cdiv(W, BLOCK_W)
    i = tl.arange(0, BLOCK_H * BLOCK_W)
    hh = (tile // tiles_w) * BLOCK_H + i // BLOCK_W
    ww = (tile % tiles_w) * BLOCK_W + i % BLOCK_W
    ks = tl.arange(0, BLOCK_K)
    n = tl.arange(0, CO_PAD)
    x_b = x_ptr + b * sxb + t.to(tl.int64) * sxt
    nk = tl.cdiv(C, BLOCK_K)
    acc = tl.zeros([BLOCK_H * BLOCK_W, CO_PAD], dtype=tl.float32)
    for step in range(KT * KH * KW * nk):
        tap = step // nk
        kk = (step % nk) * BLOCK_K + ks
        dt = tap // (KH * KW)
        h_in = hh + (tap // KW) % KH - KH // 2
        w_in = ww + tap % KW - KW // 2
        inside = (h_in >= 0) & (h_in < H) & (w_in >= 0) & (w_in < W)
        k_ok = kk < C
        offs = dt.to(tl.int64) * sxt + h_in[:, None] * sxh + w_in[:, None] * sxw + kk[None, :]
        a = tl.load(x_b + offs, mask=inside[:, None] & k_ok[None, :], other=0.0)
        wt = tl.load(w_ptr + (tap * C + kk[:, None]) * CO_PAD + n[None, :], mask=k_ok[:, None], other=0.0)
        acc = mma(a, wt, acc, PRECISION)
    if HAS_BIAS:
        acc += tl.load(b_ptr + n, mask=n < CO, other=0.0).to(tl.float32)[None, :]
    out = y_ptr + b * syb + t.to(tl.int64) * syt + hh[:, None] * syh + ww[:, None] * syw + n[None, :]
    keep = ((hh < H) & (ww < W))[:, None] & (n < CO)[None, :]
    tl.store(out, cast(acc, y_ptr.dtype.element_ty, PRECISION), mask=keep)


def thin_conv3d_triton(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """Triton version of ``thin_conv3d_reference`` for channels-last x (``torch.channels_last_3d``): returns
    [B, C_out, T - KT + 1, H, W] in x's dtype, channels-last. Raises ValueError for other layouts. On CPU only
    under TRITON_INTERPRET=1."""
    check_thin_conv3d_inputs(x, weight, bias)
    check_kernel_device(x)
    if not x.is_contiguous(memory_format=torch.channels_last_3d):
        raise ValueError(
            f"the Triton thin conv3d needs channels-last memory (strides {tuple(x.stride())} are not); "
            "use x.contiguous(memory_format=torch.channels_last_3d) or impl='reference'"
        )
    bsz, c_in, frames, h, w = x.shape
    c_out, _, kt, kh, kw = weight.shape
    y = torch.empty(
        (bsz, c_out, frames - kt + 1, h, w),
        dtype=x.dtype,
        device=x.device,
        memory_format=torch.channels_last_3d,
    )
    # [KT * KH * KW, C_in, 16]: each tap's weights as the MMA's B operand, output channels padded with zeros.
    taps = torch.zeros(kt * kh * kw, c_in, MAX_OUT_CHANNELS, dtype=x.dtype, device=x.device)
    taps[:, :, :c_out] = weight.permute(2, 3, 4, 1, 0).reshape(kt * kh * kw, c_in, c_out)
    b = taps if bias is None else bias.to(x.dtype).contiguous()
    _thin_conv3d_op(x, taps, b, y, bias is not None, kh, kw)
    return y


@torch.library.custom_op("turbodiffusion::thin_conv3d", mutates_args=("y",))
def _thin_conv3d_op(
    x: Tensor, taps: Tensor, bias: Tensor, y: Tensor, has_bias: bool, kh: int, kw: int
) -> None:
    bsz, c_out, frames, h, w = y.shape
    if y.numel() == 0:
        return
    kt = x.shape[2] - frames + 1
    c_in = x.shape[1]
    block_w = min(64, triton.next_power_of_2(w))
    block_h = BLOCK_M // block_w
    block_k = max(16, min(32, triton.next_power_of_2(c_in)))
    grid = (frames, triton.cdiv(h, block_h) * triton.cdiv(w, block_w), bsz)
    sx, sy = x.stride(), y.stride()
    _thin_conv3d_kernel[grid](
        x, taps, bias, y, h, w, c_in,
        sx[0], sx[2], sx[3], sx[4], sy[0], sy[2], sy[3], sy[4],
        KT=kt, KH=kh, KW=kw, CO=c_out, CO_PAD=MAX_OUT_CHANNELS, HAS_BIAS=has_bias,
        BLOCK_H=block_h, BLOCK_W=block_w, BLOCK_K=block_k,
        PRECISION=dot_precision(x.dtype),
        num_warps=NUM_WARPS, num_stages=NUM_STAGES, **FP_FUSION,
    )  # fmt: skip
