"""Triton LayerNorm + modulation: one pass, whole rows in registers as tiles of one power-of-two width
(``row_tiles``; reference.py is the spec).

Bytes: x read once, y written once (2 + 2 bytes per element in bf16; 2 + 4 for the head's fp32 y);
scale/shift rows are read per token when they are [B, L, dim] and come from L2 when they are [B, 1, dim].
The floor is 4 (head: 6) bytes per element over the copy bandwidth (issue target: within 1.5x of it).

The variance is formed from (x - mean) with the padded lanes masked back to zero, which is exactly what the
official kernel forgets (reference.py's docstring).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import FP_FUSION, autotune, check_kernel_device
from ...quant.gemm.kernel import round_to_dtype
from ...quant.row_quant.kernel import fp8_row_amax, fp8_row_codes, fp8_row_mult_scale
from ...quant.row_quant.reference import RowQuantized
from ..rms_norm.kernel import (
    AUTOTUNE_MIN_ROWS,
    ROW_CONFIGS,
    as_rows,
    prune_row_configs,
    row_launch_config,
    row_tiles,
    tile_lanes,
)
from .reference import check_head_norm_modulate_inputs, check_norm_modulate_inputs


@triton.jit
def _load_f32(ptrs, mask, FULL: tl.constexpr):
    """A tile in fp32. FULL (every lane inside the row, rows past R clamped onto row R - 1): no mask, so no
    register is zeroed for masked-off lanes before each load; else lanes outside ``mask`` read 0."""
    if FULL:
        return tl.load(ptrs).to(tl.float32)
    else:
        return tl.load(ptrs, mask=mask, other=0.0).to(tl.float32)


@triton.jit
def _stream_tile(
    x_ptr, r_ptr, g_ptr, xo_ptr, rows64, load_rows64, gate_rows64, cols, mask,
    stride_xr, stride_rr, stride_or,
    RESIDUAL: tl.constexpr, GATED: tl.constexpr, EMULATE_FP8: tl.constexpr, FULL: tl.constexpr,
):  # fmt: skip
    """Columns ``cols`` of the rows: x, or with RESIDUAL x' = x + r (* g) stored to xo and returned as
    stored; fp32 [BLOCK_R, W], lanes past D hold 0. ``gate_rows64``: each row's offset into the gate."""
    x = _load_f32(x_ptr + load_rows64[:, None] * stride_xr + cols[None, :], mask, FULL)
    if RESIDUAL:
        r = _load_f32(r_ptr + load_rows64[:, None] * stride_rr + cols[None, :], mask, FULL)
        if GATED:
            r = r * _load_f32(g_ptr + gate_rows64[:, None] + cols[None, :], mask, FULL)
        if EMULATE_FP8:  # the interpreter's bf16 cast truncates: round to nearest even on the bits
            xo = round_to_dtype(x + r, xo_ptr.dtype.element_ty)
        else:
            xo = (x + r).to(xo_ptr.dtype.element_ty)  # rounded once
        tl.store(xo_ptr + rows64[:, None] * stride_or + cols[None, :], xo, mask=mask)
        x = xo.to(tl.float32)  # normalised as stored
    return x


@triton.jit
def _modulate_tile(
    xc, rstd, cols, mask, scale_rows64, shift_rows64, scale_ptr, shift_ptr, w_ptr, b_ptr, x_ptr, D,
    HAS_MOD: tl.constexpr, HAS_W: tl.constexpr, HAS_B: tl.constexpr, ROUND_NORM: tl.constexpr,
    EMULATE_FP8: tl.constexpr, FULL: tl.constexpr,
):  # fmt: skip
    """Columns ``cols`` of the normalised, affine-transformed and modulated rows from the centred xc (0 past
    D): fp32 [BLOCK_R, W]. ``scale_rows64`` / ``shift_rows64``: each row's offset into scale and shift."""
    cmask = cols < D
    y = xc * rstd[:, None]
    if HAS_W:
        y = y * _load_f32(w_ptr + cols, cmask, FULL)[None, :]
    if HAS_B:
        y = y + _load_f32(b_ptr + cols, cmask, FULL)[None, :]
    if ROUND_NORM:  # the official head modulates WanLayerNorm's output, which is in x's dtype
        if EMULATE_FP8:
            y = round_to_dtype(y, x_ptr.dtype.element_ty).to(tl.float32)
        else:
            y = y.to(x_ptr.dtype.element_ty).to(tl.float32)
    if HAS_MOD:
        sc = _load_f32(scale_ptr + scale_rows64[:, None] + cols[None, :], mask, FULL)
        sh = _load_f32(shift_ptr + shift_rows64[:, None] + cols[None, :], mask, FULL)
        y = y * (1.0 + sc) + sh
    return y


@triton.jit
def _store_tile(
    y, mult, y_ptr, rows64, cols, mask, stride_yr, QUANT: tl.constexpr, EMULATE_FP8: tl.constexpr
):
    """Columns ``cols`` of y: e4m3 codes of y * mult (QUANT), else y in y's dtype."""
    ptrs = y_ptr + rows64[:, None] * stride_yr + cols[None, :]
    if QUANT:
        tl.store(ptrs, fp8_row_codes(y, mult, EMULATE_FP8), mask=mask)
    else:
        tl.store(ptrs, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _norm_modulate_kernel(
    x_ptr,
    scale_ptr,
    shift_ptr,
    w_ptr,
    b_ptr,
    y_ptr,
    ys_ptr,  # QUANT: the per-row fp32 scales of the e4m3 codes in y
    r_ptr,  # RESIDUAL: the branch output added to x first
    g_ptr,  # GATED: its gate
    xo_ptr,  # RESIDUAL: x + r (* g), rounded to x's dtype, the stream's new value
    R,
    L,
    D,
    stride_xr,
    stride_yr,
    stride_rr,
    stride_or,
    stride_sb,  # scale: batch stride
    stride_sl,  # scale: token stride, 0 for [B, 1, dim]
    stride_hb,  # shift: batch stride
    stride_hl,  # shift: token stride, 0 for [B, 1, dim]
    stride_gb,  # gate: batch stride
    stride_gl,  # gate: token stride, 0 for [B, 1, dim]
    eps,
    HAS_MOD: tl.constexpr,
    HAS_W: tl.constexpr,
    HAS_B: tl.constexpr,
    QUANT: tl.constexpr,  # y holds e4m3 codes with one scale per row (quant/row_quant's rule)
    RESIDUAL: tl.constexpr,  # normalise x + r (* g) and write it to xo (ops.gated_residual's rounding)
    GATED: tl.constexpr,
    ROUND_NORM: tl.constexpr,  # the head: LN(x) rounded to x's dtype before the fp32 modulation, y fp32
    EMULATE_FP8: tl.constexpr,  # the CPU interpreter, whose fp8 and bf16 casts round wrongly
    BLOCK_R: tl.constexpr,
    W: tl.constexpr,  # a row is NT tiles of W lanes (``row_tiles``); only the last may pass D
    NT: tl.constexpr,
    PADDED: tl.constexpr,  # W * NT > D: the last tile is masked
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rows < R
    rows64 = rows.to(tl.int64)  # B * L * dim can pass 2^31
    load_rows = tl.minimum(rows, R - 1)  # rows past R load row R - 1 and are never stored
    sample64 = (load_rows // L).to(tl.int64)
    token64 = (load_rows % L).to(tl.int64)
    load_rows64 = load_rows.to(tl.int64)
    # The tiles stay in registers as tuples; the partial sums of a row add up lane by lane across its tiles,
    # so each statistic takes one reduction across threads (and warps), not one a tile.
    xs = ()
    for t in tl.static_range(NT):
        cols, mask = tile_lanes(t, W, D, rmask)
        x = _stream_tile(
            x_ptr, r_ptr, g_ptr, xo_ptr, rows64, load_rows64, sample64 * stride_gb + token64 * stride_gl,
            cols, mask, stride_xr, stride_rr, stride_or, RESIDUAL, GATED, EMULATE_FP8, not PADDED or t < NT - 1,
        )  # fmt: skip
        xs = xs + (x,)
        if t == 0:
            lane_sums = x
        else:
            lane_sums += x
    mean = tl.sum(lane_sums, axis=1) / D
    xcs = ()
    for t in tl.static_range(NT):
        xc = xs[t] - mean[:, None]
        if PADDED and t == NT - 1:  # padded lanes would add mean^2 each to the variance
            cols, _ = tile_lanes(t, W, D, rmask)
            xc = tl.where((cols < D)[None, :], xc, 0.0)
        xcs = xcs + (xc,)
        if t == 0:
            lane_squares = xc * xc
        else:
            lane_squares += xc * xc
    rstd = 1.0 / tl.sqrt(tl.sum(lane_squares, axis=1) / D + eps)
    ys = ()
    for t in tl.static_range(NT):
        cols, mask = tile_lanes(t, W, D, rmask)
        y = _modulate_tile(
            xcs[t], rstd, cols, mask, sample64 * stride_sb + token64 * stride_sl,
            sample64 * stride_hb + token64 * stride_hl, scale_ptr, shift_ptr, w_ptr, b_ptr, x_ptr, D,
            HAS_MOD, HAS_W, HAS_B, ROUND_NORM, EMULATE_FP8, not PADDED or t < NT - 1,
        )  # fmt: skip
        ys = ys + (y,)
        if t == 0:
            lane_amax = tl.abs(y)  # masked lanes of y are 0
        else:
            lane_amax = tl.maximum(lane_amax, tl.abs(y))
    mult = tl.zeros([BLOCK_R], dtype=tl.float32)  # QUANT: 448 / the row's amax
    if QUANT:
        mult, row_scale = fp8_row_mult_scale(fp8_row_amax(lane_amax))
        tl.store(ys_ptr + rows64, row_scale, mask=rmask)
    for t in tl.static_range(NT):
        cols, mask = tile_lanes(t, W, D, rmask)
        _store_tile(ys[t], mult, y_ptr, rows64, cols, mask, stride_yr, QUANT, EMULATE_FP8)


def _check_triton_inputs(x, scale, shift, weight, bias, out, gate=None) -> None:
    check_norm_modulate_inputs(x, scale, shift, weight, bias, out)
    check_kernel_device(x)
    for name, t in (("scale", scale), ("shift", shift), ("gate", gate)):
        if t is not None and t.shape[-1] > 1 and t.stride(-1) != 1:
            raise ValueError(f"{name} must have a contiguous last dim (got strides {tuple(t.stride())})")


def _rows_of(x: Tensor) -> Tensor:
    """x [B, L, dim] as [B*L, dim] rows with a contiguous last dim (a view when it already has one)."""
    x2 = x.reshape(-1, x.shape[-1])
    return x2.contiguous() if x2.shape[-1] > 1 and x2.stride(-1) != 1 else x2


def _launch(
    x: Tensor,
    scale: Tensor | None,
    shift: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
    *,
    quantize: bool,
    residual: Tensor | None = None,
    gate: Tensor | None = None,
    out: Tensor | None = None,
    round_norm: bool = False,
) -> tuple[Tensor | None, Tensor | RowQuantized]:
    """Allocate the outputs and run the kernel: (x' when ``residual`` is given else None, y in x's dtype
    (into ``out`` when given), in fp32 when ``round_norm``, or RowQuantized when ``quantize``)."""
    _check_triton_inputs(x, scale, shift, weight, bias, out, gate)
    dim = x.shape[-1]
    x_new = None if residual is None else torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if quantize:
        y = torch.empty(x.shape, dtype=torch.float8_e4m3fn, device=x.device)
        row_scale = torch.empty(x.shape[:-1], dtype=torch.float32, device=x.device)
    else:
        y_dtype = torch.float32 if round_norm else x.dtype
        y = torch.empty(x.shape, dtype=y_dtype, device=x.device) if out is None else out
        row_scale = None
    _norm_modulate_op(
        _rows_of(x),
        scale,
        shift,
        weight,
        bias,
        as_rows(y, "out") if out is not None else y.view(-1, dim),
        None if row_scale is None else row_scale.view(-1),
        None if residual is None else _rows_of(residual),
        gate,
        None if x_new is None else x_new.view(-1, dim),
        x.shape[1],
        float(eps),
        round_norm,
    )
    return x_new, (RowQuantized(y, row_scale, x.dtype) if quantize else y)


def norm_modulate_triton(
    x: Tensor,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-6,
    out: Tensor | None = None,
) -> Tensor:
    """Triton version of ``norm_modulate_reference`` (same arguments, plus an optional ``out`` buffer).

    x: [B, L, dim]; scale/shift [B, 1|L, dim] with a contiguous last dim (batch and token strides are
    passed to the kernel, so broadcast views need no copy). On CPU only under TRITON_INTERPRET=1.
    """
    return _launch(x, scale, shift, weight, bias, eps, quantize=False, out=out)[1]


def norm_modulate_fp8_triton(
    x: Tensor,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-6,
) -> RowQuantized:
    """Triton version of ``norm_modulate_fp8_reference``: the norm's fp32 rows quantised in registers, so
    only 1 byte per element (and a scale per row) is written instead of the 2 a bf16 output takes."""
    return _launch(x, scale, shift, weight, bias, eps, quantize=True)[1]


def head_norm_modulate_triton(x: Tensor, scale: Tensor, shift: Tensor, *, eps: float = 1e-6) -> Tensor:
    """Triton version of ``head_norm_modulate_reference``: x read once, the fp32 modulated rows written
    once, so the head's separate cast, multiply and add passes over fp32 copies of x disappear.

    x: [B, L, dim]; scale, shift: [B, 1|L, dim] fp32 with a contiguous last dim. Returns [B, L, dim] fp32.
    """
    check_head_norm_modulate_inputs(x, scale, shift)
    return _launch(x, scale, shift, None, None, eps, quantize=False, round_norm=True)[1]


def residual_norm_modulate_triton(
    x: Tensor,
    residual: Tensor,
    gate: Tensor | None = None,
    scale: Tensor | None = None,
    shift: Tensor | None = None,
    *,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-6,
    quantize: bool = False,
) -> tuple[Tensor, Tensor | RowQuantized]:
    """Triton version of ``residual_norm_modulate_reference``: x' = x + residual (* gate) written once and
    normalised from registers, so x' is not read back. Returns (x', y or its RowQuantized form)."""
    return _launch(x, scale, shift, weight, bias, eps, quantize=quantize, residual=residual, gate=gate)


def _prune_configs(configs, named_args, **kwargs):
    """``prune_row_configs`` over the row's tiles together."""
    return prune_row_configs(configs, named_args, BLOCK_D=kwargs["W"] * kwargs["NT"])


_norm_modulate_tuned = autotune(
    configs=ROW_CONFIGS,
    # Each variant tunes on its own: the residual ones move twice the bytes of the plain one.
    key=["D", "HAS_MOD", "QUANT", "RESIDUAL", "GATED", "ROUND_NORM"],
    restore_value=["y_ptr"],
    prune_configs_by={"early_config_prune": _prune_configs},
)(_norm_modulate_kernel)  # restore_value: y may alias x, and tuning runs the kernel repeatedly


def _token_strides(t: Tensor | None) -> list[int]:
    """(batch, token) strides of a [B, 1|L, dim] operand; the token stride is 0 for [B, 1, dim], so every
    token of a sample reads the same row."""
    if t is None:
        return [0, 0]
    return [t.stride(0), t.stride(1) if t.shape[1] > 1 else 0]


@torch.library.custom_op("turbodiffusion::norm_modulate", mutates_args=("y", "y_scale", "x_out"))
def _norm_modulate_op(
    x: Tensor,
    scale: Tensor | None,
    shift: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    y: Tensor,
    y_scale: Tensor | None,
    residual: Tensor | None,
    gate: Tensor | None,
    x_out: Tensor | None,
    length: int,
    eps: float,
    round_norm: bool,
) -> None:
    r, d = x.shape
    if r == 0:
        return
    block_r, _, num_warps = row_launch_config(d)
    width, tiles = row_tiles(d)
    has_mod = scale is not None
    args = (
        x,
        scale if has_mod else x,
        shift if has_mod else x,
        weight if weight is not None else x,
        bias if bias is not None else x,
        y,
        y_scale if y_scale is not None else y,
        residual if residual is not None else x,
        gate if gate is not None else x,
        x_out if x_out is not None else x,
        r,
        length,
        d,
        x.stride(0),
        y.stride(0),
        residual.stride(0) if residual is not None else 0,
        x_out.stride(0) if x_out is not None else 0,
        *_token_strides(scale),
        *_token_strides(shift),
        *_token_strides(gate),
        eps,
    )
    flags = {
        "HAS_MOD": has_mod,
        "HAS_W": weight is not None,
        "HAS_B": bias is not None,
        "QUANT": y_scale is not None,
        "RESIDUAL": residual is not None,
        "GATED": gate is not None,
        "ROUND_NORM": round_norm,
        "EMULATE_FP8": x.device.type == "cpu",
        "W": width,
        "NT": tiles,
        "PADDED": width * tiles > d,
    }
    if x.device.type == "cpu" or r < AUTOTUNE_MIN_ROWS:
        _norm_modulate_kernel[(triton.cdiv(r, block_r),)](
            *args, **flags, BLOCK_R=block_r, num_warps=num_warps, **FP_FUSION
        )
    else:
        _norm_modulate_tuned[lambda meta: (triton.cdiv(r, meta["BLOCK_R"]),)](*args, **flags, **FP_FUSION)
