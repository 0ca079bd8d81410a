"""Triton gated residual add: one elementwise pass (reference.py is the spec).

Bytes: x and y read once, out written once (6 bytes per element in bf16); a [B, 1, dim] gate comes from
L2. ``out=x`` updates the residual stream in place (each element is read before it is written).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, autotune, check_kernel_device
from ..rms_norm.kernel import as_rows
from .reference import check_gated_residual_inputs

BLOCK_D = 256  # columns per program (interpreter and small inputs): ragged dims masked
BLOCK_R = 16  # rows per program (interpreter and small inputs)
AUTOTUNE_MIN_ROWS = 4096  # below this, the fixed tile: autotuning costs more than it saves
# GPU candidates (rows, columns, warps) for large inputs, autotuned per width.
_CONFIGS = [
    triton.Config({"BLOCK_R": r, "BLOCK_D": c}, num_warps=w)
    for r, c, w in [(16, 256, 4), (8, 512, 4), (4, 1024, 4), (8, 1024, 8), (16, 512, 8), (32, 256, 8)]
]


@triton.jit
def _gated_residual_kernel(
    x_ptr,
    y_ptr,
    g_ptr,
    o_ptr,
    R,
    L,
    D,
    stride_xr,
    stride_yr,
    stride_or,
    stride_gb,
    stride_gl,  # 0 for a [B, 1, dim] gate
    BLOCK_R: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    mask = (rows < R)[:, None] & (cols < D)[None, :]
    rows64 = rows.to(tl.int64)
    x = tl.load(x_ptr + rows64[:, None] * stride_xr + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    y = tl.load(y_ptr + rows64[:, None] * stride_yr + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    g_off = (rows64 // L) * stride_gb + (rows64 % L) * stride_gl
    g = tl.load(g_ptr + g_off[:, None] + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    out = x + y * g
    tl.store(o_ptr + rows64[:, None] * stride_or + cols[None, :], out.to(o_ptr.dtype.element_ty), mask=mask)


def gated_residual_triton(x: Tensor, y: Tensor, gate: Tensor, out: Tensor | None = None) -> Tensor:
    """Triton version of ``gated_residual_reference``; ``out`` may be x itself (in-place update).

    x, y: [B, L, dim]; gate: [B, 1|L, dim] with a contiguous last dim. On CPU only under TRITON_INTERPRET=1.
    """
    check_gated_residual_inputs(x, y, gate, out)
    check_kernel_device(x)
    if gate.shape[-1] > 1 and gate.stride(-1) != 1:
        raise ValueError(f"gate must have a contiguous last dim (got strides {tuple(gate.stride())})")
    if out is None:
        out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    # x is aliased by out for in-place updates, so it is viewed, never copied.
    x2 = as_rows(x, "x")
    y2 = y.reshape(-1, y.shape[-1])
    if y2.shape[-1] > 1 and y2.stride(-1) != 1:
        y2 = y2.contiguous()
    _gated_residual_op(x2, y2, gate, as_rows(out, "out"), x.shape[1])
    return out


_gated_residual_tuned = autotune(configs=_CONFIGS, key=["D"], restore_value=["o_ptr"])(
    _gated_residual_kernel
)  # restore_value: out may alias x (the in-place residual update), and tuning runs the kernel repeatedly


@torch.library.custom_op("turbodiffusion::gated_residual", mutates_args=("out",))
def _gated_residual_op(x: Tensor, y: Tensor, gate: Tensor, out: Tensor, length: int) -> None:
    r, d = x.shape
    if r == 0:
        return
    stride_gl = gate.stride(1) if gate.shape[1] > 1 else 0  # broadcast over tokens
    args = (x, y, gate, out, r, length, d, x.stride(0), y.stride(0), out.stride(0), gate.stride(0), stride_gl)
    if x.device.type == "cpu" or r < AUTOTUNE_MIN_ROWS:
        grid = (triton.cdiv(r, BLOCK_R), triton.cdiv(d, BLOCK_D))
        _gated_residual_kernel[grid](*args, BLOCK_R=BLOCK_R, BLOCK_D=BLOCK_D, num_warps=4, **FP_FUSION)
    else:
        grid = lambda meta: (triton.cdiv(r, meta["BLOCK_R"]), triton.cdiv(d, meta["BLOCK_D"]))  # noqa: E731
        _gated_residual_tuned[grid](*args, **FP_FUSION)
