"""Wan's cross-attention after its q projection: q's RMSNorm, then softmax attention to the text's keys.

The specification of the fused kernel (models.md §1 step 4: the cross-attention normalises q over the whole
model width, splits heads and attends densely to the text's k and v; models.wan.text_padding adds a bias
per key for the padding's stand-ins):

    qn = q * rsqrt(mean(q^2) + eps) * weight                          # [B, L, dim], fp32
    out[h] = softmax(qn[h] k[h]^T / sqrt(D) + key_bias) v[h]           # per head, fp32
    out rounded once to q's dtype

The model's plain path rounds qn to q's dtype before the attention; the kernel does so too (its products
run on the tensor cores in q's dtype), so it matches the plain path's steps, not this all-fp32 truth.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..rms_norm.reference import check_rms_norm_inputs


def check_text_attention_inputs(
    q: Tensor, weight: Tensor, k: Tensor, v: Tensor, key_bias: Tensor | None
) -> None:
    """Shape, dtype and device checks shared by both impls; raises ValueError naming the tensor."""
    if q.dim() != 3:
        raise ValueError(f"q must be [B, L, dim] (got shape {tuple(q.shape)})")
    check_rms_norm_inputs(q, weight, None)
    for name, t in (("k", k), ("v", v)):
        if t.dim() != 4:
            raise ValueError(f"{name} must be [B, Lk, H, D] (got shape {tuple(t.shape)})")
        if t.dtype != q.dtype or t.device != q.device:
            raise ValueError(
                f"{name} must be q's dtype {q.dtype} on {q.device} (got {t.dtype} on {t.device})"
            )
    if k.shape != v.shape:
        raise ValueError(f"k {tuple(k.shape)} and v {tuple(v.shape)} must have the same shape")
    batch, keys, heads, head_dim = k.shape
    if batch != q.shape[0] or heads * head_dim != q.shape[-1] or keys == 0:
        raise ValueError(
            f"k and v must be [B, Lk, H, D] with B = {q.shape[0]}, Lk > 0 and H * D = dim = {q.shape[-1]} "
            f"(got {tuple(k.shape)})"
        )
    if key_bias is not None and (
        key_bias.shape != (keys,) or key_bias.dtype != q.dtype or key_bias.device != q.device
    ):
        raise ValueError(
            f"key_bias must be [Lk] = [{keys}] in q's dtype {q.dtype} on {q.device} (got "
            f"{tuple(key_bias.shape)} {key_bias.dtype} on {key_bias.device})"
        )


def text_attention_reference(
    q: Tensor, weight: Tensor, k: Tensor, v: Tensor, key_bias: Tensor | None = None, eps: float = 1e-6
) -> Tensor:
    """q: [B, L, dim] fp32/bf16/fp16 (the q projection's output); weight: [dim] (q's RMSNorm, any float
    dtype); k, v: [B, Lk, H, D] in q's dtype, H * D = dim (k already normalised); key_bias: [Lk] in q's
    dtype (-inf drops a key) or None. Returns [B, L, H, D] in q's dtype, computed in fp32."""
    check_text_attention_inputs(q, weight, k, v, key_bias)
    heads = k.shape[2]
    qf = q.float()
    qn = qf * torch.rsqrt(qf.pow(2).mean(dim=-1, keepdim=True) + eps) * weight.float()
    qh = qn.unflatten(-1, (heads, -1)).transpose(1, 2)  # [B, H, L, D]
    logits = qh @ k.float().permute(0, 2, 3, 1) / k.shape[-1] ** 0.5  # [B, H, L, Lk]
    if key_bias is not None:
        logits = logits + key_bias.float()
    out = logits.softmax(dim=-1) @ v.float().transpose(1, 2)  # [B, H, L, D]
    return out.transpose(1, 2).to(q.dtype)
