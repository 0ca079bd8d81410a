"""The text context's padding, attended to as a few weighted rows instead of ``text_len - Lt`` equal ones.

Wan's cross-attention reads all ``text_len`` context rows, the zero rows past the prompt included (models.md
§1 step 3: no text mask). Every zero row embeds to the same key and value, and n equal keys in a softmax act
as one key whose logit is raised by ln n. So the DiT appends a few zero rows to a context of Lt < text_len
rows and adds a bias b_i to their logits, with sum_i exp(b_i) = text_len - Lt: the attention is the padded
one's, over 32 keys in place of 512 for a 24-row context in bf16 (24 rows, 4 weighted, 4 alignment rows;
models.wan.dit).

Each bias must be exact in the attention's dtype (the bias is added in it; bf16's ln 488 is off by up to 1.6%
of the padding's weight), so the sum is built greedily: the largest representable b at most ln of what is
left, until the rest is below 2^-24 of the count (at most ``MAX_WEIGHTED_ROWS`` rows: up to four in bf16, two
in float32). Rows of bias -inf (weight zero) fill the key count up to a multiple of ``KEY_ALIGNMENT``: torch's
memory-efficient attention copies a bias whose rows are not 16-element aligned.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

KEY_ALIGNMENT = 16  # keys a padded context ends on a multiple of (SDPA's bias alignment)
MAX_WEIGHTED_ROWS = 4  # bf16's worst case to reach a 2^-24 remainder
_REMAINDER = 2.0**-24  # of the count: where the greedy sum stops (float32's resolution)


# Significand bits (the implicit one included) of the dtypes the attention may run in.
_SIGNIFICAND_BITS = {torch.bfloat16: 8, torch.float16: 11, torch.float32: 24, torch.float64: 53}


def _on_grid(value: float, dtype: torch.dtype, rounding) -> float:
    """``value`` on ``dtype``'s grid of numbers, rounded by ``rounding`` (math.floor, or round for the
    nearest), in plain Python arithmetic (exact: the grid's spacing is a power of two), so a forward
    that calls this runs no tensor op for it (a CUDA graph or torch.compile sees constants)."""
    if value == 0.0 or dtype == torch.float64:
        return value
    _, exponent = math.frexp(value)  # |value| in [2^(e-1), 2^e)
    spacing = math.ldexp(1.0, exponent - _SIGNIFICAND_BITS[dtype])
    return rounding(value / spacing) * spacing


def weighted_rows(count: int, dtype: torch.dtype) -> list[float]:
    """Biases b_i, each exact in ``dtype``, with sum exp(b_i) = count to within 2^-24 of count (of the
    last row's rounding in ``dtype`` past ``MAX_WEIGHTED_ROWS``). count >= 1."""
    if count < 1:
        raise ValueError(f"count must be at least 1 (got {count})")
    if dtype not in _SIGNIFICAND_BITS:
        raise ValueError(f"dtype must be one of {', '.join(map(str, _SIGNIFICAND_BITS))} (got {dtype})")
    biases: list[float] = []
    left = float(count)
    while left > count * _REMAINDER and len(biases) < MAX_WEIGHTED_ROWS - 1:
        biases.append(_on_grid(math.log(left), dtype, math.floor))  # exp(b) <= left: the rest stays >= 0
        left -= math.exp(biases[-1])
    if left > count * _REMAINDER:  # the last row rounds to nearest: its error is what is left
        biases.append(_on_grid(math.log(left), dtype, round))
    return biases


def padding_biases(rows: int, text_len: int, dtype: torch.dtype) -> list[float]:
    """The biases of the zero rows the DiT appends to a context of ``rows`` rows: ``weighted_rows`` for the
    text_len - rows padding rows, then rows of bias -inf (weight zero) up to a multiple of KEY_ALIGNMENT
    keys; or, where that is no fewer keys than text_len, the padding rows themselves (all biases zero, the
    plain padded context). Empty when rows == text_len. 0 <= rows <= text_len."""
    if not 0 <= rows <= text_len:
        raise ValueError(f"a context has 0 to text_len={text_len} rows (got {rows})")
    count = text_len - rows
    if count == 0:
        return []
    weighted = weighted_rows(count, dtype)
    weighted += [-math.inf] * (-(rows + len(weighted)) % KEY_ALIGNMENT)
    return weighted if rows + len(weighted) < text_len else [0.0] * count


def key_bias(rows: int, biases: list[float], dtype: torch.dtype, device: torch.device) -> Tensor | None:
    """The cross-attention's bias over its keys, [rows + len(biases)] in ``dtype``: zero on the context's
    rows, ``biases`` (``padding_biases``) on the appended ones; None where all are zero (plain padding or
    none). Made with fills on ``device`` (nothing copied from the host, so a CUDA graph may capture it)."""
    if not any(biases):
        return None
    bias = torch.zeros(rows + len(biases), dtype=dtype, device=device)
    for i, b in enumerate(biases):
        if b != 0.0:
            bias[rows + i].fill_(b)  # a python scalar: one fill kernel each
    return bias


__all__ = ["KEY_ALIGNMENT", "key_bias", "padding_biases", "weighted_rows"]
