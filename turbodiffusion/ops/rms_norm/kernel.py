"""Triton RMSNorm: one pass, whole rows in registers (reference.py is the spec).

Bytes: the row is read once and written once (2 + 2 bytes per element in bf16), the weight comes from L2;
FLOPs are negligible, so the floor is 4 bytes per element over the copy bandwidth.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, autotune, check_kernel_device
from .reference import check_rms_norm_inputs


@triton.jit
def _rms_norm_kernel(
    x_ptr,
    w_ptr,
    y_ptr,
    R,
    D,
    stride_xr,
    stride_yr,
    eps,
    BLOCK_R: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_D)
    rmask = rows < R
    cmask = cols < D
    mask = rmask[:, None] & cmask[None, :]
    rows64 = rows.to(tl.int64)  # R * D can pass 2^31
    x = tl.load(x_ptr + rows64[:, None] * stride_xr + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    # Padded lanes are zeros, so they add nothing to the sum of squares; divide by the true D.
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=1) / D + eps)
    w = tl.load(w_ptr + cols, mask=cmask, other=0.0).to(tl.float32)
    y = x * rstd[:, None] * w[None, :]
    tl.store(y_ptr + rows64[:, None] * stride_yr + cols[None, :], y.to(y_ptr.dtype.element_ty), mask=mask)


# GPU launch candidates for row-wise kernels (rows per program, warps), autotuned per width for large inputs;
# pruned to at most 16k elements a program (whole padded rows live in registers).
ROW_CONFIGS = [
    triton.Config({"BLOCK_R": r}, num_warps=w)
    for r, w in [(1, 4), (1, 8), (2, 4), (2, 8), (4, 4), (4, 8), (8, 8), (16, 8)]
]
# Below this many rows the launch heuristic is used: autotuning costs more than a small launch saves.
AUTOTUNE_MIN_ROWS = 4096


def prune_row_configs(configs, named_args, **kwargs):
    """Keep configs whose program holds at most 16k elements and gives each thread at least 4."""
    block_d = kwargs["BLOCK_D"]
    kept = [c for c in configs if 4 * 32 * c.num_warps <= c.kwargs["BLOCK_R"] * block_d <= 16384]
    return kept or configs[:1]


def row_launch_config(d: int) -> tuple[int, int, int]:
    """(BLOCK_R, BLOCK_D, num_warps) for row-wise kernels: whole padded rows, about 4k elements a program."""
    block_d = triton.next_power_of_2(d)
    block_r = max(1, min(16, 4096 // block_d))
    elems = block_r * block_d
    num_warps = 4 if elems <= 2048 else 8 if elems <= 8192 else 16
    return block_r, block_d, num_warps


def row_tiles(d: int, max_tiles: int = 8) -> tuple[int, int]:
    """(width, count): a row of ``d`` lanes as ``count`` tiles of one power-of-two width, at most
    ``max_tiles`` of them, only the last one padded (by less than a tile), e.g. 1,536 = 3 x 512 and
    5,120 = 5 x 1,024 exactly, where one tile padded to 2,048 or 8,192 lanes spends 25% or 37% of an
    issue-bound row kernel's lanes on masks.

    One width for every tile gives every tile one register layout, so the compiler moves no tile between
    layouts through shared memory, and a row's partial sums add up lane by lane before a single reduction
    (a head and a tail tile of different widths took 21 block barriers a program at 1,536 wide, equal tiles
    one or five; local sm_90 builds, benchmarks/runs/gpu-2026-12-06)."""
    if d < 1:
        raise ValueError(f"a row needs at least one lane (got {d})")
    width = d & -d  # the largest power of two dividing d
    while triton.cdiv(d, width) > max_tiles:
        width *= 2
    return width, triton.cdiv(d, width)


@triton.jit
def tile_lanes(t: tl.constexpr, W: tl.constexpr, D, rmask):
    """Tile t of a row laid out as ``row_tiles`` gives it (W-lane tiles): its columns [W] and the mask
    [BLOCK_R, W] of its lanes inside the row (rows below R, columns below D)."""
    cols = t * W + tl.arange(0, W)
    return cols, rmask[:, None] & (cols < D)[None, :]


def rms_norm_triton(x: Tensor, weight: Tensor, eps: float = 1e-6, out: Tensor | None = None) -> Tensor:
    """Triton version of ``rms_norm_reference``.

    x: [..., dim] fp32/bf16/fp16 (copied first only if its rows cannot be viewed with one stride);
    weight: [dim]; out: optional [..., dim] buffer in x's dtype, last dim contiguous, rows may be strided.
    On CPU only under TRITON_INTERPRET=1. Returns out (or a new tensor) [..., dim] in x's dtype.
    """
    check_rms_norm_inputs(x, weight, out)
    check_kernel_device(x)
    x2 = x.reshape(-1, x.shape[-1])  # a view when the rows have one stride, else a copy
    if x2.shape[-1] > 1 and x2.stride(-1) != 1:
        x2 = x2.contiguous()
    y = torch.empty(x.shape, dtype=x.dtype, device=x.device) if out is None else out
    _rms_norm_op(x2, weight, as_rows(y, "out"), float(eps))
    return y


def as_rows(t: Tensor, name: str) -> Tensor:
    """[..., dim] with a contiguous last dim -> a [rows, dim] view sharing memory (rows may be strided)."""
    if t.shape[-1] > 1 and t.stride(-1) != 1:
        raise ValueError(f"{name} must have a contiguous last dim (got strides {tuple(t.stride())})")
    try:
        return t.view(-1, t.shape[-1])
    except RuntimeError as err:
        raise ValueError(
            f"{name}'s leading dims cannot be flattened without a copy (strides {tuple(t.stride())}); "
            "pass a contiguous tensor"
        ) from err


_rms_norm_tuned = autotune(
    configs=ROW_CONFIGS,
    key=["D"],
    restore_value=["y_ptr"],
    prune_configs_by={"early_config_prune": prune_row_configs},
)(_rms_norm_kernel)  # restore_value: y may alias x (an in-place norm), and tuning runs the kernel repeatedly


@torch.library.custom_op("turbodiffusion::rms_norm", mutates_args=("y",))
def _rms_norm_op(x: Tensor, weight: Tensor, y: Tensor, eps: float) -> None:
    r, d = x.shape
    if r == 0:
        return
    block_r, block_d, num_warps = row_launch_config(d)
    args = (x, weight, y, r, d, x.stride(0), y.stride(0), eps)
    if x.device.type == "cpu" or r < AUTOTUNE_MIN_ROWS:
        _rms_norm_kernel[(triton.cdiv(r, block_r),)](
            *args, BLOCK_R=block_r, BLOCK_D=block_d, num_warps=num_warps, **FP_FUSION
        )
    else:
        _rms_norm_tuned[lambda meta: (triton.cdiv(r, meta["BLOCK_R"]),)](*args, BLOCK_D=block_d, **FP_FUSION)
