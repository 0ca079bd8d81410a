"""Dense attention through torch's scaled_dot_product_attention: the baseline backend."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def check_qkv(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Validate the [B, L, H, D] layout shared by every backend; raises ValueError naming the tensor."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.dim() != 4:
            raise ValueError(f"{name} must be [B, L, H, D] (got shape {tuple(t.shape)})")
    if q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]:
        raise ValueError(f"q {tuple(q.shape)} and k {tuple(k.shape)} must share B, H and D")
    if k.shape != v.shape:
        raise ValueError(f"k {tuple(k.shape)} and v {tuple(v.shape)} must have the same shape")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k, v must be on one device (got {q.device}, {k.device}, {v.device})")


def sdpa_attention(q: Tensor, k: Tensor, v: Tensor, key_bias: Tensor | None = None) -> Tensor:
    """Softmax attention, scale 1/sqrt(D), no mask.

    q: [B, Lq, H, D]; k, v: [B, Lk, H, D], any float dtype. key_bias: None, or [Lk] added to every query's
    logit of each key (-inf drops a key), in q's dtype (values exact in it; models.wan.text_padding).
    Returns [B, Lq, H, D] in q's dtype.
    """
    check_qkv(q, k, v)
    mask = None
    if key_bias is not None:
        if key_bias.shape != (k.shape[1],) or key_bias.dtype != q.dtype or key_bias.device != q.device:
            raise ValueError(
                f"key_bias must be [Lk] = [{k.shape[1]}] in q's dtype {q.dtype} on {q.device} (got "
                f"{tuple(key_bias.shape)} {key_bias.dtype} on {key_bias.device})"
            )
        mask = key_bias.view(1, 1, 1, -1)  # broadcast over batch, heads and queries: nothing materialised
    out = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask
    )
    return out.transpose(1, 2)


class SDPAAttention(nn.Module):
    """Backend module for ``sdpa``: no parameters."""

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_bias: Tensor | None = None) -> Tensor:
        return sdpa_attention(q, k, v, key_bias)


def check_sdpa(device: torch.device, dtype: torch.dtype, head_dim: int) -> str | None:
    return None
