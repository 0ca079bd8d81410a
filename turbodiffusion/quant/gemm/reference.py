"""Block-scaled W8A8 GEMM, the specification (quantization.md §3 and §8): plain PyTorch.

    for kb in 0 .. K/128 - 1:                                   # sequential, as the kernel does
        P   = A_codes[:, kb-slice] @ B_codes[:, kb-slice]^T       # INT8: exact int32; FP8: fp32
        acc += P * (a_scale[m // tile_rows, kb] * b_scale[n // 128, kb])   # scale product formed first
    Y = acc.to(out_dtype) (+ bias.to(out_dtype))                  # bias cast to the run dtype first (§4)

A [M, K] is the activation (codes + scales [ceil(M / tile_rows), K/128]), B [N, K] the weight in
nn.Linear layout (codes + scales [ceil(N/128), K/128]).
"""

from __future__ import annotations

import torch
from torch import Tensor

BLOCK = 128


def check_scaled_mm_inputs(
    a: Tensor, a_scale: Tensor, b: Tensor, b_scale: Tensor, bias: Tensor | None, a_tile_rows: int
) -> None:
    """Shape, dtype and device agreement for both impls; raises ValueError naming the tensor."""
    if a.dim() != 2 or b.dim() != 2:
        raise ValueError(f"a and b must be 2-D [M, K] and [N, K] (got {tuple(a.shape)} and {tuple(b.shape)})")
    if a.dtype != b.dtype or a.dtype not in (torch.int8, torch.float8_e4m3fn):
        raise ValueError(
            f"a and b must both be int8 or both float8_e4m3fn codes (got {a.dtype} and {b.dtype})"
        )
    if a_tile_rows not in (1, BLOCK):
        raise ValueError(f"a_tile_rows must be 128 or 1 (got {a_tile_rows})")
    (m, k), (n, kb) = a.shape, b.shape
    if k != kb:
        raise ValueError(f"a is [M, K] = {list(a.shape)} but b is [N, K] = {list(b.shape)}: K differs")
    if k % BLOCK:
        raise ValueError(f"K={k} is not a multiple of 128; the block-scaled format needs K % 128 == 0")
    want_a = (-(-m // a_tile_rows), k // BLOCK)
    want_b = (-(-n // BLOCK), k // BLOCK)
    if tuple(a_scale.shape) != want_a:
        raise ValueError(
            f"a_scale must be [ceil(M/{a_tile_rows}), K/128] = {list(want_a)} (got {list(a_scale.shape)})"
        )
    if tuple(b_scale.shape) != want_b:
        raise ValueError(f"b_scale must be [ceil(N/128), K/128] = {list(want_b)} (got {list(b_scale.shape)})")
    if a_scale.dtype != torch.float32 or b_scale.dtype != torch.float32:
        raise ValueError(f"scales must be float32 (got a_scale {a_scale.dtype}, b_scale {b_scale.dtype})")
    if bias is not None and tuple(bias.shape) != (n,):
        raise ValueError(f"bias must be [N] = [{n}] (got {list(bias.shape)})")
    tensors = [a, a_scale, b, b_scale] + ([bias] if bias is not None else [])
    if len({t.device for t in tensors}) != 1:
        raise ValueError(f"all inputs must be on one device (got {sorted({str(t.device) for t in tensors})})")


def scaled_mm_reference(
    a: Tensor,
    a_scale: Tensor,
    b: Tensor,
    b_scale: Tensor,
    bias: Tensor | None = None,
    *,
    out_dtype: torch.dtype = torch.bfloat16,
    a_tile_rows: int = BLOCK,
) -> Tensor:
    """Y [M, N] = dequant(A) @ dequant(B)^T (+ bias), folded per 128-wide K slice.

    a: [M, K] int8 or float8_e4m3fn codes; a_scale: [ceil(M / a_tile_rows), K/128] fp32.
    b: [N, K] codes of the same dtype; b_scale: [ceil(N/128), K/128] fp32. bias: [N] any float dtype.
    Returns [M, N] in out_dtype.
    """
    check_scaled_mm_inputs(a, a_scale, b, b_scale, bias, a_tile_rows)
    (m, k), n = a.shape, b.shape[0]
    sa = a_scale.repeat_interleave(a_tile_rows, 0)[:m]  # [M, K/128]: each row's scale per K slice
    sb = b_scale.repeat_interleave(BLOCK, 0)[:n]  # [N, K/128]
    acc = torch.zeros(m, n, dtype=torch.float32, device=a.device)
    for kb in range(k // BLOCK):
        cols = slice(kb * BLOCK, (kb + 1) * BLOCK)
        if a.dtype == torch.int8:
            # Exact: |P| <= 128 * 128 * 128 = 2^21, and fp32 holds every integer below 2^24 (float64 keeps
            # the CPU path free of TF32 or int-matmul support questions).
            p = (a[:, cols].double() @ b[:, cols].double().T).float()
        else:
            p = a[:, cols].float() @ b[:, cols].float().T
        acc += p * (sa[:, kb : kb + 1] * sb[None, :, kb])
    y = acc.to(out_dtype)
    return y if bias is None else y + bias.to(out_dtype)
