"""Sage-style low-bit attention in plain PyTorch: the same lossy algorithm as ``kernel.py``, step by step
(shared/docs/attention.md §4-5). The kernel is tested against this; this is compared with fp32 attention.

The algorithm:
1. Q -> int8 per block of ``block_q`` tokens; K - mean_L(K) -> int8 per block of ``block_k`` tokens.
   scale = max|x| / 127 + 1e-7, codes = x * (1 / scale) rounded half away from zero (the Triton/Sparge
   quantisers, with the reciprocal taken once per block).
2. S = (Q_int8 . K_int8^T) (exact int32) * (q_scale * k_scale), with 1/sqrt(D) * log2(e) folded into q_scale.
3. Online softmax in base 2 over key tiles in the kernel's order (ascending; for SageSLA the lut order).
4. P.V: ``pv="fp8"``: V per channel to e4m3 with scale max_L|v| / v_range; P~ = exp2(s - m + log2 448)
   (un-normalised, times 448) rounded to e4m3, fp32 accumulation, the row sum from the same P~, and the
   output times v_scale at the end. Where a key tile has one K scale, the kernels hold the dot as
   INT32_BIAS + dot in fp32 and form the exponent with fused multiply-adds, fma(INT32_BIAS + dot, r,
   -fma(r, INT32_BIAS, m - log2 448)) with r = q_scale * k_scale, rather than dot * r - (m - log2 448):
   this reference does the same, so that P~ rounds to the same e4m3 values. ``pv="half"`` (GPUs without
   FP8): P~ = exp2(s - m) and V in the input's 16-bit dtype.
Because step 4 rounds P~ at the running maximum, the result depends on the key-tile size and order,
which is why ``tile_k`` and ``lut`` are arguments. Memory is O(L^2): for test sizes.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

LOG2E = 1.4426950408889634
INT8_SCALE_EPS = 1e-7  # added to max|x| / 127 by the Triton quantisers SageSLA uses (attention.md §4)
FP8_MAX = 448.0  # largest finite e4m3 value; P~ is scaled to it
LOG2_FP8_MAX = math.log2(FP8_MAX)  # the exponent offset 8.807 that scales P~ by 448
INT32_BIAS = 12582912.0  # 1.5 * 2^23: fp32 INT32_BIAS + x is exact for |x| < 2^22, x its low mantissa bits
V_RANGE_OFFICIAL = 2.25  # SageSLA's V range on every GPU (from SageAttention2++'s fp16 accumulator limit)
V_RANGE_FULL = 448.0  # the whole e4m3 range: better accuracy when accumulating in fp32

PV = Literal["fp8", "half"]


def quantize_int8_reference(x: Tensor, block: int, mean: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Symmetric int8 per block of ``block`` tokens, optionally after subtracting a per-channel mean.

    x: [B, L, H, D] float; mean: fp32 [B, H, D] or None. Returns (codes int8 [B, H, L, D],
    scale fp32 [B, H, ceil(L / block)]) with x - mean ~= codes * scale on the block's rows.
    """
    b, seq, h, d = x.shape
    nb = -(-seq // block)
    xf = x.transpose(1, 2).float()
    if mean is not None:
        xf = xf - mean[:, :, None, :]
    xf = torch.nn.functional.pad(xf, (0, 0, 0, nb * block - seq)).view(b, h, nb, block, d)
    amax = xf.abs().amax(dim=(-1, -2))
    # A tensor divisor: PyTorch's CUDA division by a Python scalar multiplies by its reciprocal, which
    # can differ from the kernel's IEEE division by one ulp.
    scale = amax / torch.full_like(amax, 127.0) + INT8_SCALE_EPS
    c = xf * (1.0 / scale)[..., None, None]  # the reciprocal once per block, as the kernel
    codes = (c + torch.where(c >= 0, 0.5, -0.5)).trunc().to(torch.int8)  # round half away from zero
    return codes.view(b, h, nb * block, d)[:, :, :seq].contiguous(), scale


def v_scale_reference(v: Tensor, v_range: float) -> Tensor:
    """Per-channel V scale max_L |v| / v_range: fp32 [B, H, D] (1 for an all-zero channel)."""
    # One reduction kernel (max |v|), not an abs pass followed by a max pass.
    return v_scale_of_amax(torch.linalg.vector_norm(v, float("inf"), dim=1).float(), v_range)


def v_scale_of_amax(amax: Tensor, v_range: float) -> Tensor:
    """The V scale from max_L |v| (fp32 [B, H, D], e.g. ``summarize_kv``'s): amax / v_range, 1 where 0."""
    scale = amax / torch.full_like(amax, v_range)  # IEEE division on every device (see above)
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def quantize_v_fp8_reference(v: Tensor, scale: Tensor) -> Tensor:
    """V times 1 / scale per channel, rounded to e4m3 (nearest even). v: [B, L, H, D]; returns fp8
    [B, H, L, D]."""
    return (v.transpose(1, 2).float() * (1.0 / scale)[:, :, None, :]).to(torch.float8_e4m3fn)


def smoothing_mean(k: Tensor) -> Tensor:
    """Per-channel mean of K over all tokens, fp32 [B, H, D] (fp32 accumulation, no rounding to k's dtype)."""
    return k.mean(dim=1, dtype=torch.float32)


def sage_attention_reference(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    block_q: int,
    block_k: int,
    tile_k: int | None = None,
    lut: Tensor | None = None,
    pv: PV = "fp8",
    v_range: float = V_RANGE_FULL,
    out_dtype: torch.dtype | None = None,
) -> Tensor:
    """Sage-style INT8 Q.K^T / FP8 P.V attention, dense (``lut=None``) or block-sparse (SageSLA's o_s).

    q, k, v: [B, L, H, D], one float dtype. Dense: keys in tiles of ``tile_k`` (default block_k), ascending.
    Sparse: ``lut`` int [B, H, ceil(L / block_q), topk] lists each query block's key blocks of ``block_k``
    tokens in kernel order. Returns o [B, L, H, D] in ``out_dtype`` (default q's dtype).
    """
    b, seq, h, d = q.shape
    mq = -(-seq // block_q)
    if lut is None:
        tile = block_k if tile_k is None else tile_k
        nt = -(-seq // tile)
        lut = torch.arange(nt, device=q.device).expand(b, h, mq, nt)
    else:
        tile = block_k
    qi, qs = quantize_int8_reference(q, block_q)
    ki, ks = quantize_int8_reference(k, block_k, smoothing_mean(k))
    row_scale = qs.repeat_interleave(block_q, dim=-1)[..., :seq] * (LOG2E / math.sqrt(d))
    col_scale = ks.repeat_interleave(block_k, dim=-1)[..., :seq]
    # int8 products summed exactly (|sum| <= 127^2 * D < 2^53), then scaled as the kernel does.
    dot = qi.double() @ ki.double().transpose(-1, -2)
    r = row_scale[..., None] * col_scale[..., None, :]
    s = dot.float() * r

    def tiles(x: Tensor) -> Tensor:  # [B, H, L, L] -> [B, H, Mq, block_q, L], query rows padded
        return torch.nn.functional.pad(x, (0, 0, 0, mq * block_q - seq)).view(b, h, mq, block_q, seq)

    s = tiles(s)
    # The kernels' biased exponent (step 4) where a tile has one K scale: FP8 P~ only.
    fold = pv == "fp8" and tile <= block_k
    if fold:
        biased, r = tiles((dot + INT32_BIAS).float()), tiles(r)
    if pv == "fp8":
        scale = v_scale_reference(v, v_range)
        vv = quantize_v_fp8_reference(v, scale).float()
    else:
        vv = v.transpose(1, 2).float()

    m = torch.full((b, h, mq, block_q), float("-inf"), device=q.device)
    row_sum = torch.zeros_like(m)
    acc = torch.zeros((b, h, mq, block_q, d), device=q.device)
    offsets = torch.arange(tile, device=q.device)
    for t in range(lut.shape[-1]):
        cols = lut[..., t, None].long() * tile + offsets  # [B, H, Mq, tile]
        valid = cols < seq
        cols = cols.clamp_max(seq - 1)
        index = cols[:, :, :, None, :].expand(-1, -1, -1, block_q, -1)
        st = torch.gather(s, -1, index).masked_fill(~valid[:, :, :, None, :], float("-inf"))
        vt = torch.gather(
            vv[:, :, None].expand(-1, -1, mq, -1, -1), 3, cols[..., None].expand(-1, -1, -1, -1, d)
        )
        vt = vt.masked_fill(~valid[..., None], 0.0)
        m_new = torch.maximum(m, st.amax(dim=-1))
        alpha = torch.exp2(m - m_new)
        if fold:
            xt = torch.gather(biased, -1, index).masked_fill(~valid[:, :, :, None, :], float("-inf"))
            rt = torch.gather(r, -1, index)
            # Two fp32 fmas, each one rounding of its float64 value, which is exact: the products of 24-bit
            # values are, and so are the sums here (their operands' bits span fewer than 53 places).
            shift = (INT32_BIAS * rt.double() + (m_new - LOG2_FP8_MAX)[..., None].double()).float()
            p = torch.exp2((xt.double() * rt.double() - shift.double()).float())
            pq = p.to(torch.float8_e4m3fn).float()
        elif pv == "fp8":
            p = torch.exp2(st - (m_new - LOG2_FP8_MAX)[..., None])
            pq = p.to(torch.float8_e4m3fn).float()
        else:
            p = torch.exp2(st - m_new[..., None])
            pq = p.to(v.dtype).float()
        acc = acc * alpha[..., None] + pq @ vt
        row_sum = row_sum * alpha + p.sum(dim=-1)
        m = m_new
    o = acc / row_sum[..., None]
    if pv == "fp8":
        o = o * scale[:, :, None, None, :]
    return o.reshape(b, h, mq * block_q, d)[:, :, :seq].transpose(1, 2).to(out_dtype or q.dtype)
