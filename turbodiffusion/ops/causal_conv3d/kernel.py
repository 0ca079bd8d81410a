"""Triton implicit-GEMM convolution of a causal 3D conv over a channels-last chunk (reference.py is the spec).

Why: the Wan VAE decoder ends in a 3x3x3 convolution from 96 channels to 3 at full resolution. cuDNN ran it
in 22.5 ms of a 0.80 s 480p decode on an H200 (benchmarks/runs/h200-2026-12-02e, ``--layers``), padding its
output channels to 8 or 16 changed nothing, while its input is read from memory in about 1.3 ms (6.2 GB).
Its 96-channel 3x3x3 convolutions ran at 350-375 TFLOP/s, its 192-channel ones at ~515 (same run).

How: the output positions are the GEMM's rows, the output channels its columns and the taps times the
input channels its reduction. A program owns BLOCK_H x BLOCK_W positions of one frame and BLOCK_N output
channels and walks the KT * KH * KW taps times the input channels in BLOCK_K slices as one flat loop, which
the compiler pipelines. Each step loads, by the tensor memory accelerator, the [BLOCK_H, BLOCK_W, BLOCK_K]
box of the input the tap reads: its coordinates run past the frame's edges where the spatial padding is, and
those elements arrive as zeros. The output-channel tile is the grid's fastest dimension, then the frame, so
programs that read the same input run together and share it in L2.

x is read as a 4D tensor [B * T, H, W, C_in], so a box never crosses a frame; the weights as [taps * C_in,
C_out padded to BLOCK_N].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor
from triton.tools.tensor_descriptor import TensorDescriptor

from ...attention.sla.kernel_fwd import cast, dot_precision, mma
from ...kernel_device import FP_FUSION, check_kernel_device
from . import kernel_reads
from .reference import check_causal_conv3d_inputs


@dataclass(frozen=True)
class ConvLaunch:
    """Tile sizes and launch options: BLOCK_H x BLOCK_W positions (the MMA's M) by BLOCK_N output channels,
    BLOCK_K input channels a step (powers of two; BLOCK_N, BLOCK_K >= 16)."""

    block_h: int
    block_w: int
    block_n: int
    block_k: int
    num_warps: int = 4
    num_stages: int = 3


def default_launch(c_in: int, c_out: int, width: int) -> ConvLaunch:
    """One row of 128 positions a program (64 where 64 divides W and 128 does not, so that no box runs past
    the row's end), all output channels up to 64 a program, 32 input channels a step.

    One row: a [1, 1, BLOCK_W, BLOCK_K] box is the MMA's operand as it lies in shared memory, and successive
    MMAs overlap (local sm_90 build: a [1, 2, 64, 32] box went through registers, ``LDSM``, with a fence and
    a wait for every MMA)."""
    block_w = 128 if width % 128 == 0 or width % 64 else 64
    block_w = min(block_w, max(16, triton.next_power_of_2(width)))
    block_n = max(16, min(64, triton.next_power_of_2(c_out)))
    block_k = max(16, min(32, triton.next_power_of_2(c_in)))
    return ConvLaunch(block_h=1, block_w=block_w, block_n=block_n, block_k=block_k)


@triton.jit
def _causal_conv3d_kernel(
    x_desc, w_desc, b_ptr, y_ptr,
    T_IN, H, W, CO,
    syb, syt, syh, syw,
    C: tl.constexpr, KT: tl.constexpr, KH: tl.constexpr, KW: tl.constexpr, HAS_BIAS: tl.constexpr,
    BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    n_tiles = tl.cdiv(CO, BLOCK_N)
    n0 = (tl.program_id(0) % n_tiles) * BLOCK_N
    t = tl.program_id(0) // n_tiles
    tiles_w = tl.cdiv(W, BLOCK_W)
    h0 = (tl.program_id(1) // tiles_w) * BLOCK_H
    w0 = (tl.program_id(1) % tiles_w) * BLOCK_W
    b = tl.program_id(2)
    frame0 = b * T_IN + t
    nk: tl.constexpr = (C + BLOCK_K - 1) // BLOCK_K
    acc = tl.zeros([BLOCK_H * BLOCK_W, BLOCK_N], dtype=tl.float32)
    for step in range(KT * KH * KW * nk):
        tap = step // nk
        k0 = (step % nk) * BLOCK_K
        dt = tap // (KH * KW)
        dh = (tap // KW) % KH - KH // 2
        dw = tap % KW - KW // 2
        a = x_desc.load([frame0 + dt, h0 + dh, w0 + dw, k0]).reshape(BLOCK_H * BLOCK_W, BLOCK_K)
        wt = w_desc.load([tap * C + k0, n0])
        acc = mma(a, wt, acc, PRECISION)
    n = n0 + tl.arange(0, BLOCK_N)
    if HAS_BIAS:
        acc += tl.load(b_ptr + n, mask=n < CO, other=0.0).to(tl.float32)[None, :]
    i = tl.arange(0, BLOCK_H * BLOCK_W)
    hh = h0 + i // BLOCK_W
    ww = w0 + i % BLOCK_W
    out = (
        y_ptr
        + b.to(tl.int64) * syb
        + t.to(tl.int64) * syt
        + hh[:, None] * syh
        + ww[:, None] * syw
        + n[None, :]
    )
    keep = ((hh < H) & (ww < W))[:, None] & (n < CO)[None, :]
    tl.store(out, cast(acc, y_ptr.dtype.element_ty, PRECISION), mask=keep)


def causal_conv3d_triton(
    x: Tensor, weight: Tensor, bias: Tensor | None, launch: ConvLaunch | None = None
) -> Tensor:
    """Triton version of ``causal_conv3d_reference`` for x the kernel reads (``kernel_reads``): returns [B, C_out,
    T - KT + 1, H, W] in x's dtype, channels-last. ``launch``: tile sizes (default ``default_launch``). Raises
    ValueError for other layouts. On CPU only under TRITON_INTERPRET=1."""
    check_causal_conv3d_inputs(x, weight, bias)
    check_kernel_device(x)
    if not kernel_reads(x):
        raise ValueError(
            f"the Triton causal conv3d needs channels-last memory with 16-byte rows of channels (shape "
            f"{tuple(x.shape)}, strides {tuple(x.stride())}); use x.contiguous(memory_format="
            "torch.channels_last_3d) with C_in * element size a multiple of 16, or impl='reference'"
        )
    bsz, c_in, frames, h, w = x.shape
    c_out, _, kt, kh, kw = weight.shape
    launch = launch or default_launch(c_in, c_out, w)
    y = torch.empty(
        (bsz, c_out, frames - kt + 1, h, w),
        dtype=x.dtype,
        device=x.device,
        memory_format=torch.channels_last_3d,
    )
    if y.numel() == 0:
        return y
    # [taps * C_in, C_out padded to BLOCK_N]: each tap's weights as the MMA's B operand, zeros past C_out.
    n_pad = triton.cdiv(c_out, launch.block_n) * launch.block_n
    taps = torch.zeros(kt * kh * kw * c_in, n_pad, dtype=x.dtype, device=x.device)
    taps[:, :c_out] = weight.permute(2, 3, 4, 1, 0).reshape(-1, c_out)
    x4 = x.permute(0, 2, 3, 4, 1).reshape(bsz * frames, h, w, c_in)  # a view: x is channels-last
    x_desc = TensorDescriptor.from_tensor(x4, [1, launch.block_h, launch.block_w, launch.block_k])
    w_desc = TensorDescriptor.from_tensor(taps, [launch.block_k, launch.block_n])
    b = taps if bias is None else bias.to(x.dtype).contiguous()
    _causal_conv3d_op(x_desc, w_desc, b, y, bias is not None, kt, kh, kw, frames, c_in, launch)
    return y


def _causal_conv3d_op(
    x_desc, w_desc, bias, y, has_bias, kt, kh, kw, frames, c_in, launch: ConvLaunch
) -> None:
    bsz, c_out, frames_out, h, w = y.shape
    grid = (
        triton.cdiv(c_out, launch.block_n) * frames_out,
        triton.cdiv(h, launch.block_h) * triton.cdiv(w, launch.block_w),
        bsz,
    )
    sy = y.stride()
    _causal_conv3d_kernel[grid](
        x_desc, w_desc, bias, y, frames, h, w, c_out,
        sy[0], sy[2], sy[3], sy[4],
        C=c_in, KT=kt, KH=kh, KW=kw, HAS_BIAS=has_bias,
        BLOCK_H=launch.block_h, BLOCK_W=launch.block_w, BLOCK_N=launch.block_n, BLOCK_K=launch.block_k,
        PRECISION=dot_precision(y.dtype),
        num_warps=launch.num_warps, num_stages=launch.num_stages, **FP_FUSION,
    )  # fmt: skip
