"""Triton row-wise FP8 quantiser (optionally after tanh-GELU): reference.py's rule.

Memory-bound: X is read once (2 bytes per element for bf16; a second time, from L2 where the rows are still
there, for rows too wide to keep in registers) and the codes (1 byte) plus one fp32 per row are written, so
its floor is 3 bytes per element over the copy bandwidth. The FFN's GELU rows (32760 x 8960), held as five
tiles, take 0.287 ms on an H100, 3.07 TB/s of those bytes (benchmarks/runs/gpu-2026-12-06).

Exactness: without GELU the codes and scales equal the reference bit for bit: the quotients are correctly
rounded (``div_rn``) and the GPU's fp32 -> e4m3 cast (cvt.rn.satfinite) rounds to nearest even as torch's
does. The CPU interpreter's own cast does not, so there (EMULATE_FP8) values are first rounded onto the
e4m3 grid in fp32, as act_quant/kernel.py does; on a GPU that emulation would cost ~20 integer operations
per element, which made this memory-bound kernel compute-bound (3x slower, benchmarks/runs/h200-2026-12-02h).
With GELU the codes agree to the GELU's last fp32 bits: ``gelu_tanh`` is formed from an approximate exp2
and reciprocal, not torch's tanh, so a code may land one e4m3 step away where the GELU's value sits on a
rounding tie.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...kernel_device import check_kernel_device
from ...ops.rms_norm.kernel import row_tiles, tile_lanes
from ..act_quant.kernel import _round_to_e4m3_grid
from ..act_quant.reference import AMAX_FLOOR
from .reference import FP8_MAX, GELU_NEGATIVE_BOUND, check_row_quant_inputs

_AMAX_FLOOR = tl.constexpr(AMAX_FLOOR)  # kernels read module globals only as constexpr
_FP8_MAX = tl.constexpr(FP8_MAX)


@triton.jit
def gelu_tanh(x, EMULATE: tl.constexpr):
    """tanh-GELU in fp32: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as
    x / (1 + 2^(-2u log2(e))) since 0.5 (1 + tanh(u)) is the logistic function of 2u: one exp2, one
    approximate division and three multiply-adds, with no cancellation where tanh(u) nears -1 (a large
    negative x gives 2^z = inf and x / inf = -0).

    EMULATE False (a GPU): the exp2 and the reciprocal are the special-function unit's approximate
    instructions, flushing denormals (``_x_over_one_plus_exp2``), where tl.exp2 and tl.fdiv add range checks
    and rescaling: 4 instructions for that step instead of about 10. True: portable Triton (the CPU
    interpreter cannot run inline PTX)."""
    z = x * (-2.302208198144325 - 0.1029432395800235 * x * x)  # -2u log2(e), constants folded
    if EMULATE:
        return tl.fdiv(x, 1.0 + tl.exp2(z))
    else:
        return _x_over_one_plus_exp2(x, z)


@triton.jit
def _x_over_one_plus_exp2(x, z):
    """x / (1 + 2^z) fp32 from ex2.approx.ftz and rcp.approx.ftz (each within 2 ulp; 2^z = inf gives
    rcp(inf) = 0 and x * 0 = -0 for negative x, as the portable form does)."""
    return tl.inline_asm_elementwise(
        "{ .reg .f32 e; ex2.approx.ftz.f32 e, $2; add.f32 e, e, 0f3F800000; rcp.approx.ftz.f32 e, e; "
        "mul.f32 $0, $1, e; }",
        "=f,f,f",
        [x, z],
        dtype=tl.float32,
        is_pure=True,
        pack=1,
    )


@triton.jit
def fp8_row_codes(v, mult, EMULATE_FP8: tl.constexpr):
    """e4m3 codes of v [R, C] fp32 times mult [R] fp32 (mult = 448 / amax of each row), values past
    +-448 saturating to +-448 (the reference's clamp).

    On a GPU the cast itself saturates (cvt.rn.satfinite), so no clamp is spent on every element; these
    kernels are bound by instruction issue, not memory (benchmarks/runs/h200-2026-12-02i). EMULATE_FP8
    (the CPU interpreter, whose cast is wrong): clamp, then round onto the e4m3 grid in fp32 first."""
    v = v * mult[:, None]
    if EMULATE_FP8:
        v = _round_to_e4m3_grid(tl.minimum(tl.maximum(v, -_FP8_MAX), _FP8_MAX))
    return v.to(tl.float8e4nv, fp_downcast_rounding="rtne")


@triton.jit
def fp8_row_amax(v):
    """Per-row max|v| of v [R, C] fp32, floored: the row's amax [R]. Lanes past the row must hold 0 (masked
    loads with other=0 and the norm's masked lanes do), so no mask is applied here."""
    return tl.maximum(tl.max(tl.abs(v), axis=1), _AMAX_FLOOR)


@triton.jit
def fp8_row_mult_scale(amax):
    """(mult = 448 / amax, scale = amax / 448) of rows with amax [R] fp32, both correctly rounded."""
    qmax = tl.zeros_like(amax) + _FP8_MAX
    return tl.math.div_rn(qmax, amax), tl.math.div_rn(amax, qmax)


@triton.jit
def fp8_quantize_rows_tile(v, EMULATE_FP8: tl.constexpr):
    """The whole rule on a tile of whole rows v [R, C] fp32 (lanes past the row hold 0):
    (codes [R, C] e4m3, scale [R] fp32)."""
    mult, scale = fp8_row_mult_scale(fp8_row_amax(v))
    return fp8_row_codes(v, mult, EMULATE_FP8), scale


@triton.jit
def _load_rows(x_ptr, rows64, cols, mask, stride_xr, other: tl.constexpr, policy: tl.constexpr):
    ptrs = x_ptr + rows64[:, None] * stride_xr + cols[None, :]
    return tl.load(ptrs, mask=mask, other=other, eviction_policy=policy).to(tl.float32)


@triton.jit
def _gelu_amax(xmax, rmask, BOUND: tl.constexpr, EMULATE: tl.constexpr):
    """reference.py's GELU amax from the rows' largest inputs xmax [R]: max(GELU(xmax), BOUND). Rows past
    R (xmax = -inf) get BOUND rather than GELU(-inf) = NaN; they are never stored."""
    return tl.maximum(gelu_tanh(tl.where(rmask, xmax, 0.0), EMULATE), BOUND)


@triton.jit
def _row_quant_kernel(
    x_ptr,
    q_ptr,
    s_ptr,
    R,
    C,
    stride_xr,
    GELU_BOUND: tl.constexpr,
    GELU: tl.constexpr,
    EMULATE_FP8: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_C: tl.constexpr,  # columns per step; >= C means the whole row stays in registers (one read)
    TILES: tl.constexpr,  # > 0: the row as TILES tiles of BLOCK_C lanes in registers (one read), the last masked
):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rows < R
    rows64 = rows.to(tl.int64)  # R * C can pass 2^31
    if TILES > 0:
        # Rows past R load row R - 1 (never stored), so only the last tile needs a mask. With GELU the amax
        # comes from the raw inputs' maximum, as in the other paths.
        load_rows64 = tl.minimum(rows, R - 1).to(tl.int64)
        xs = ()
        for t in tl.static_range(TILES):
            cols = t * BLOCK_C + tl.arange(0, BLOCK_C)
            if t == TILES - 1:  # masked lanes load as -inf (GELU: they cannot be the max) or 0
                x = _load_rows(
                    x_ptr,
                    load_rows64,
                    cols,
                    (cols < C)[None, :],
                    stride_xr,
                    float("-inf") if GELU else 0.0,
                    "",
                )
            else:
                x = tl.load(x_ptr + load_rows64[:, None] * stride_xr + cols[None, :]).to(tl.float32)
            xs = xs + (x,)
            if t == 0:
                lane_max = x if GELU else tl.abs(x)
            else:
                lane_max = tl.maximum(lane_max, x if GELU else tl.abs(x))
        if GELU:
            amax = _gelu_amax(tl.max(lane_max, axis=1), rmask, GELU_BOUND, EMULATE_FP8)
        else:
            amax = tl.maximum(tl.max(lane_max, axis=1), _AMAX_FLOOR)
        mult, scale = fp8_row_mult_scale(amax)
        for t in tl.static_range(TILES):
            x = gelu_tanh(xs[t], EMULATE_FP8) if GELU else xs[t]
            cols, mask = tile_lanes(t, BLOCK_C, C, rmask)
            tl.store(
                q_ptr + rows64[:, None] * C + cols[None, :], fp8_row_codes(x, mult, EMULATE_FP8), mask=mask
            )
    elif BLOCK_C >= C:
        cols = tl.arange(0, BLOCK_C)
        mask = rmask[:, None] & (cols < C)[None, :]
        x = _load_rows(x_ptr, rows64, cols, mask, stride_xr, 0.0, "")
        if GELU:
            amax = _gelu_amax(
                tl.max(tl.where(mask, x, float("-inf")), axis=1), rmask, GELU_BOUND, EMULATE_FP8
            )
            mult, scale = fp8_row_mult_scale(amax)
            q = fp8_row_codes(gelu_tanh(x, EMULATE_FP8), mult, EMULATE_FP8)
        else:
            q, scale = fp8_quantize_rows_tile(x, EMULATE_FP8)
        tl.store(q_ptr + rows64[:, None] * C + cols[None, :], q, mask=mask)
    else:
        # First pass: the amax (with GELU, from the raw inputs only: no GELU evaluated here), kept per lane
        # and reduced across the row once after the loop, not once a step (shuffles and two barriers).
        if GELU:  # masked lanes load as -inf: they cannot be the max
            acc = tl.full([BLOCK_R, BLOCK_C], float("-inf"), dtype=tl.float32)
        else:  # masked lanes load as 0
            acc = tl.zeros([BLOCK_R, BLOCK_C], dtype=tl.float32)
        for c0 in range(0, C, BLOCK_C):
            cols = c0 + tl.arange(0, BLOCK_C)
            mask = rmask[:, None] & (cols < C)[None, :]
            # evict_last: the second pass reads these rows again, from L2 if they are still there
            if GELU:
                acc = tl.maximum(
                    acc, _load_rows(x_ptr, rows64, cols, mask, stride_xr, float("-inf"), "evict_last")
                )
            else:
                acc = tl.maximum(
                    acc, tl.abs(_load_rows(x_ptr, rows64, cols, mask, stride_xr, 0.0, "evict_last"))
                )
        if GELU:
            amax = _gelu_amax(tl.max(acc, axis=1), rmask, GELU_BOUND, EMULATE_FP8)
        else:
            amax = tl.maximum(tl.max(acc, axis=1), _AMAX_FLOOR)
        mult, scale = fp8_row_mult_scale(amax)
        for c0 in range(0, C, BLOCK_C):  # the rows were just read: this pass comes from L2 where it can
            cols = c0 + tl.arange(0, BLOCK_C)
            mask = rmask[:, None] & (cols < C)[None, :]
            x = _load_rows(x_ptr, rows64, cols, mask, stride_xr, 0.0, "evict_first")
            if GELU:
                x = gelu_tanh(x, EMULATE_FP8)
            tl.store(
                q_ptr + rows64[:, None] * C + cols[None, :], fp8_row_codes(x, mult, EMULATE_FP8), mask=mask
            )
    tl.store(s_ptr + rows64, scale, mask=rmask)


@dataclass(frozen=True)
class RowQuantLaunch:
    """Launch settings of the row quantiser: rows per program, columns per step (with ``tiles``, the width of
    each of the row's ``tiles`` tiles held in registers; 0: one tile, or a loop of steps), warps."""

    block_r: int
    block_c: int
    num_warps: int
    tiles: int = 0


def row_quant_launch(cols: int) -> RowQuantLaunch:
    """Default settings for a row of ``cols`` columns, from the sweeps of benchmarks/runs/h200-2026-12-02h,
    h200-2026-12-03e and gpu-2026-12-06.

    Rows that fill most of a power-of-two width stay whole in registers as one tile (one read); Wan's
    8960-wide FFN rows would waste 45% of a 16384-lane tile, so they are held as equal tiles of one width
    (``row_tiles``: 5 x 2,048), which share one register layout (an 8192-lane tile plus a masked 1024-lane
    one, two layouts, was slower than two passes on an H200: 0.264 against 0.242 ms).
    Equal tiles at 1,536, 5,120 and 13,824 wide were within 1.5% of the single padded tile (gpu-2026-12-06).
    """
    width = triton.next_power_of_2(cols)
    if width <= 2048:
        return RowQuantLaunch(4, width, 8)  # 32760 x 1536: 0.093 ms, the one-row default 0.155
    if width <= 8192:
        return RowQuantLaunch(1, width, 8)  # 75600 x 5120: 0.389 ms, 2,986 GB/s
    if width <= 16384 and cols * 5 >= width * 4:
        # 75600 x 13824 (GELU): 1.75 ms against 2.41 in two passes (h200-2026-12-02h); 8 warps 1.000 ms
        # against 16's 1.061 (32760 rows: 0.444 / 0.467 ms, h200-2026-12-03e)
        return RowQuantLaunch(1, width, 8)
    if cols <= 16384:
        # 32760 x 8960 (GELU): 0.287 ms as 5 tiles of 2,048 lanes held in registers (read once) on 4 warps,
        # against 0.363 ms in two passes of 2,048 columns, the default until then (1.26x, H100,
        # benchmarks/runs/gpu-2026-12-06); 9 tiles of 1,024, or 8 warps, were within 0.3%.
        tile, tiles = row_tiles(cols)
        return RowQuantLaunch(1, tile, 4, tiles)
    # Wider rows than Wan's: two passes of 2,048 columns, the second from L2 (0.242 ms at 32760 x 8960 on an
    # H200 against 0.299 with 4 rows of 1,024 on 8 warps, h200-2026-12-03e).
    return RowQuantLaunch(1, 2048, 4)


def quantize_rows_triton(
    x: Tensor, gelu: bool = False, launch: RowQuantLaunch | None = None
) -> tuple[Tensor, Tensor]:
    """Triton version of ``quantize_rows_reference``: x [R, C] fp32/bf16/fp16, last dim contiguous.

    Returns (codes [R, C] float8_e4m3fn, scale [R] fp32). ``launch`` overrides the default settings
    (benchmarks sweep them). On CPU it runs only under TRITON_INTERPRET=1.
    """
    check_row_quant_inputs(x)
    check_kernel_device(x)
    launch = launch or row_quant_launch(x.shape[1])
    cols = x.shape[1]
    if launch.tiles and not (launch.tiles - 1) * launch.block_c < cols <= launch.tiles * launch.block_c:
        raise ValueError(
            f"{launch.tiles} tiles of {launch.block_c} lanes do not cover a {cols}-wide row with only the "
            "last one padded; take ops.rms_norm.kernel.row_tiles(cols)"
        )
    return _row_quant_op(x, gelu, launch.block_r, launch.block_c, launch.num_warps, launch.tiles)


@torch.library.custom_op("turbodiffusion::quantize_rows_fp8", mutates_args=())
def _row_quant_op(
    x: Tensor, gelu: bool, block_r: int, block_c: int, num_warps: int, tiles: int
) -> tuple[Tensor, Tensor]:
    rows, cols = x.shape
    codes = torch.empty(rows, cols, dtype=torch.float8_e4m3fn, device=x.device)
    scale = torch.empty(rows, dtype=torch.float32, device=x.device)
    if rows == 0:
        return codes, scale
    _row_quant_kernel[(triton.cdiv(rows, block_r),)](
        x,
        codes,
        scale,
        rows,
        cols,
        x.stride(0),
        GELU_BOUND=GELU_NEGATIVE_BOUND,
        GELU=gelu,
        EMULATE_FP8=x.device.type == "cpu",  # the CPU runs kernels only in the interpreter
        BLOCK_R=block_r,
        BLOCK_C=block_c,
        TILES=tiles,
        num_warps=num_warps,
        enable_fp_fusion=False,  # an fma would round the e4m3-grid trick once instead of twice
    )
    return codes, scale


@_row_quant_op.register_fake
def _(x: Tensor, gelu: bool, block_r: int, block_c: int, num_warps: int, tiles: int) -> tuple[Tensor, Tensor]:
    rows, cols = x.shape
    return x.new_empty(rows, cols, dtype=torch.float8_e4m3fn), x.new_empty(rows, dtype=torch.float32)


__all__ = [
    "RowQuantLaunch",
    "fp8_quantize_rows_tile",
    "fp8_row_amax",
    "fp8_row_codes",
    "fp8_row_mult_scale",
    "gelu_tanh",
    "quantize_rows_triton",
]
