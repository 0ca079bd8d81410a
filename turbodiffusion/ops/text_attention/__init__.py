"""Wan's cross-attention after the q projection, q's RMSNorm and the attention to the text's keys as one op:
dispatcher over kernel.py and reference.py."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from ...errors import require
from .reference import check_text_attention_inputs, text_attention_reference

__all__ = ["text_attention", "text_attention_reference"]


def text_attention(
    q: Tensor,
    weight: Tensor,
    k: Tensor,
    v: Tensor,
    key_bias: Tensor | None = None,
    eps: float = 1e-6,
    *,
    impl: Literal["auto", "triton", "reference"] = "auto",
) -> Tensor:
    """softmax(RMSNorm(q)[h] k[h]^T / sqrt(D) + key_bias) v[h] for every head h, returned in q's dtype.

    q: [B, L, dim] fp32/bf16/fp16, the q projection's output; weight: [dim], q's RMSNorm weight; k, v:
    [B, Lk, H, D] in q's dtype with H * D = dim (k already normalised: WanCrossAttention.keys_values);
    key_bias: [Lk] in q's dtype, added to every query's logit of each key (-inf drops a key), or None.
    Returns [B, L, H, D]. impl: "auto" = Triton on CUDA for head sizes it takes (powers of two, 16 to 256),
    else the reference. Inference only (no autograd through the kernel).
    """
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
    check_text_attention_inputs(q, weight, k, v, key_bias)
    if impl == "auto":
        from .kernel import kernel_supports

        impl = "triton" if q.is_cuda and kernel_supports(k.shape[-1]) else "reference"
    if impl == "reference":
        return text_attention_reference(q, weight, k, v, key_bias, eps)
    require("triton", "kernels", "the Triton text attention")
    from .kernel import text_attention_triton

    return text_attention_triton(q, weight, k, v, key_bias, eps)
