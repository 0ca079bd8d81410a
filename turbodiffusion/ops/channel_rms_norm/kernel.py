"""Triton channel RMSNorm (+ SiLU) for channels-last tensors: one pass, whole channel rows in registers
(reference.py is the spec).

A channels-last [B, C, ...] tensor is a [positions, C] matrix with contiguous rows, so the norm over C is
a row norm. Bytes: each element read once and written once; the floor is 2 x 2 bytes per element (bf16)
over the copy bandwidth. The eager module makes about nine passes (norm, divide, two scalings, SiLU).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, autotune, check_kernel_device
from ..rms_norm.kernel import AUTOTUNE_MIN_ROWS, ROW_CONFIGS, prune_row_configs, row_launch_config
from .reference import NORM_EPS, channels_last_rows, check_channel_rms_norm_inputs


@triton.jit
def _channel_rms_norm_kernel(
    x_ptr,
    g_ptr,
    y_ptr,
    R,
    C,
    scale,
    eps,
    SILU: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_D)
    mask = (rows < R)[:, None] & (cols < C)[None, :]
    offs = rows.to(tl.int64)[:, None] * C + cols[None, :]  # R * C passes 2^31 for a video chunk
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    norm = tl.sqrt(tl.sum(x * x, axis=1))
    inv = scale / tl.maximum(norm, eps)
    g = tl.load(g_ptr + cols, mask=cols < C, other=0.0).to(tl.float32)
    y = x * inv[:, None] * g[None, :]
    if SILU:
        y = y * tl.sigmoid(y)
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=mask)


_channel_rms_norm_tuned = autotune(
    configs=ROW_CONFIGS,
    key=["C", "SILU"],
    prune_configs_by={"early_config_prune": prune_row_configs},
)(_channel_rms_norm_kernel)


def channel_rms_norm_triton(
    x: Tensor, gamma: Tensor, silu: bool = False, out: Tensor | None = None
) -> Tensor:
    """Triton version of ``channel_rms_norm_reference`` for x whose channels are contiguous (channels-last
    memory, or a [B, C] matrix); writes ``out`` (shaped like x, channels contiguous) or a new tensor in x's
    layout, and returns it. Raises ValueError for other layouts. On CPU only under TRITON_INTERPRET=1."""
    check_channel_rms_norm_inputs(x, gamma, out)
    check_kernel_device(x)
    rows = channels_last_rows(x)
    if rows is None:
        raise ValueError(
            f"the Triton channel norm needs channels-last memory (strides {tuple(x.stride())} are not); "
            "use x.contiguous(memory_format=torch.channels_last_3d) or impl='reference'"
        )
    y = torch.empty_like(x) if out is None else out  # empty_like keeps x's channels-last strides
    y_rows = channels_last_rows(y)
    if y_rows is None:
        raise ValueError(
            f"out must have contiguous channels (channels-last); got strides {tuple(y.stride())}"
        )
    _channel_rms_norm_op(rows, gamma.reshape(-1), y_rows, float(x.shape[1] ** 0.5), silu)
    return y


@torch.library.custom_op("turbodiffusion::channel_rms_norm", mutates_args=("y",))
def _channel_rms_norm_op(x: Tensor, gamma: Tensor, y: Tensor, scale: float, silu: bool) -> None:
    r, c = x.shape
    if r == 0:
        return
    block_r, block_d, num_warps = row_launch_config(c)
    args = (x, gamma, y, r, c, scale, NORM_EPS)
    if x.device.type == "cpu" or r < AUTOTUNE_MIN_ROWS:
        _channel_rms_norm_kernel[(triton.cdiv(r, block_r),)](
            *args, SILU=silu, BLOCK_R=block_r, BLOCK_D=block_d, num_warps=num_warps, **FP_FUSION
        )
    else:
        _channel_rms_norm_tuned[lambda meta: (triton.cdiv(r, meta["BLOCK_R"]),)](
            *args, SILU=silu, BLOCK_D=block_d, **FP_FUSION
        )
