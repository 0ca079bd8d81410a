"""Block quantiser, the specification (quantization.md §2 and §8): plain PyTorch, fp32 inside.

One rule for weights (offline) and activations (every call). A matrix X [R, C] is cut into tiles of
``tile_rows`` rows x 128 columns; each tile gets one fp32 scale and codes:

    INT8 (TurboWan):  amax = max(1e-8, max|tile|); mult = 128 / amax (fp32 quotient first);
                      q = clamp(round_half_even(x * mult), -128, 127); scale = amax / 128
    FP8 e4m3 (ours):  amax = max(1e-8, max|tile|); mult = 448 / amax;
                      q = e4m3(clamp(x * mult, -448, 448)) (round to nearest even); scale = amax / 448

so that X ~ q * scale. INT8 divides by 128, not 127, on purpose (the official kernel does): +amax maps to
128 and saturates to 127, -amax maps to -128 exactly.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Fmt = Literal["int8", "fp8"]
BLOCK = 128
AMAX_FLOOR = 1e-8  # keeps an all-zero tile's scale finite (its codes are all 0)
QMAX = {
    "int8": 128.0,
    "fp8": 448.0,
}  # divisor: 128 for INT8 (sic, see the module docstring), e4m3 max for FP8
CODE_DTYPE = {"int8": torch.int8, "fp8": torch.float8_e4m3fn}


def quantize_blockwise_reference(
    x: Tensor, tile_rows: int = BLOCK, fmt: Fmt = "int8"
) -> tuple[Tensor, Tensor]:
    """Quantise x [R, C] in tiles of tile_rows x 128 (C % 128 == 0; R any).

    x: [R, C] fp32, bf16 or fp16, any device. tile_rows: 128 (INT8 weights and activations, FP8 weights)
    or 1 (FP8 activations: one scale per row per 128 channels).
    Returns (codes [R, C] int8 or float8_e4m3fn, scales [ceil(R / tile_rows), C / 128] fp32).
    Rows past R in the last row tile count as zeros (they cannot raise amax).
    """
    check_quant_inputs(x, tile_rows, fmt)
    rows, cols = x.shape
    n_r, n_c = -(-rows // tile_rows), cols // BLOCK
    xf = x.float()
    if n_r * tile_rows != rows:  # zero rows never change a tile's amax
        xf = torch.cat([xf, xf.new_zeros(n_r * tile_rows - rows, cols)])
    tiles = xf.reshape(n_r, tile_rows, n_c, BLOCK)
    amax = tiles.abs().amax(dim=(1, 3)).clamp_min(AMAX_FLOOR)  # [n_r, n_c]
    qmax = QMAX[fmt]
    # fp32 quotient first, then one fp32 product per element: this order is what the kernel reproduces.
    mult = (torch.full_like(amax, qmax) / amax)[:, None, :, None]
    v = tiles * mult
    if fmt == "int8":
        codes = torch.round(v).clamp_(-128, 127).to(torch.int8)  # torch.round is ties-to-even
    else:
        codes = v.clamp_(-qmax, qmax).to(torch.float8_e4m3fn)  # round to nearest even
    # Tensor / tensor on purpose: torch divides by a Python scalar through its reciprocal on CUDA, which
    # is not the correctly rounded quotient the kernel (and the CPU) produce.
    scales = amax / torch.full_like(amax, qmax)
    return codes.reshape(n_r * tile_rows, cols)[:rows], scales


def dequantize_blockwise_reference(codes: Tensor, scales: Tensor, tile_rows: int = BLOCK) -> Tensor:
    """codes [R, C] int8/e4m3 and scales [ceil(R / tile_rows), C / 128] fp32 -> fp32 [R, C] = codes * scale."""
    rows, cols = codes.shape
    expect = (-(-rows // tile_rows), cols // BLOCK)
    if tuple(scales.shape) != expect or cols % BLOCK:
        raise ValueError(
            f"scales must be [ceil(R/{tile_rows}), C/128] = {list(expect)} for codes {list(codes.shape)} "
            f"(got {list(scales.shape)})"
        )
    s = scales.float().repeat_interleave(tile_rows, 0)[:rows].repeat_interleave(BLOCK, 1)
    return codes.float() * s


def check_quant_inputs(x: Tensor, tile_rows: int, fmt: str) -> None:
    """Checks shared by both impls: rank, dtype, C % 128, last-dim contiguity, tile and format."""
    if fmt not in QMAX:
        raise ValueError(f'fmt must be "int8" or "fp8" (got {fmt!r})')
    if tile_rows not in (1, BLOCK):
        raise ValueError(f"tile_rows must be 128 or 1 (got {tile_rows})")
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D [R, C] (got shape {tuple(x.shape)}); flatten leading dims first")
    if x.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"x must be float32, bfloat16 or float16 (got {x.dtype})")
    if x.shape[1] % BLOCK:
        raise ValueError(
            f"x has C={x.shape[1]} columns; the 128x128 format needs C % 128 == 0 (every Wan width is)"
        )
    if x.shape[1] > 1 and x.stride(1) != 1:
        raise ValueError(
            f"x must have a contiguous last dim (got strides {tuple(x.stride())}); call .contiguous()"
        )
