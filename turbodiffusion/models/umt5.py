"""umT5-XXL text encoder, as Wan and TurboDiffusion run it (shared/docs/models.md §6).

Design choices, each one part of the numerical contract with the official Wan ``t5.py``:

- Parameter names are those of ``models_t5_umt5-xxl-enc-bf16.pth``, so the official file loads with
  ``load_state_dict(strict=True)``; the FFN gate stays ``ffn.gate.0`` because the official module is
  ``Sequential(Linear, GELU)``.
- Pre-norm blocks with T5's RMSNorm: no mean subtraction, no bias, statistics in float32.
- Attention has **no** 1/sqrt(D) scaling (T5 folds it into the initialisation of ``q``) and adds a learned
  relative-position bias, one table per layer for umT5 (``shared_pos=False``). Softmax runs in float32.
- The FFN is gated GELU with the tanh approximation: ``fc2(fc1(x) * gelu_tanh(gate(x)))``; no biases.
- Output rows of padding tokens are set to exact zeros, which is what the DiT sees in the official
  pipeline (it trims each prompt to its length and re-pads with zeros).

The encoder holds no buffers, so it can be built on ``torch.device("meta")`` and filled with
``load_state_dict(..., assign=True)`` without allocating memory first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

_INT_FIELDS = (
    "vocab_size",
    "dim",
    "dim_attn",
    "dim_ffn",
    "num_heads",
    "num_layers",
    "num_buckets",
    "max_distance",
    "text_len",
)


@dataclass(frozen=True)
class UMT5Config:
    """What a umT5 encoder checkpoint needs; the defaults are umT5-XXL as shipped with Wan."""

    vocab_size: int = 256384  # rows of token_embedding (the SentencePiece vocabulary, padded)
    dim: int = 4096  # model width
    dim_attn: int = 4096  # width of q, k, v (= num_heads x head dim); T5 lets it differ from dim
    dim_ffn: int = 10240  # hidden width of the gated-GELU FFN
    num_heads: int = 64  # attention heads; head dim = dim_attn // num_heads (64 for XXL)
    num_layers: int = 24  # encoder blocks
    num_buckets: int = 32  # relative-position buckets, half for each sign of key - query
    max_distance: int = 128  # |key - query| from which a sign's last bucket is used
    shared_pos: bool = False  # True: one bias table for all blocks (T5 v1.1); umT5 has one per block
    eps: float = 1e-6  # RMSNorm epsilon
    text_len: int = 512  # rows of text context the pipeline tokenises prompts to

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int (got {value!r})")
        if self.dim_attn % self.num_heads:
            raise ValueError(
                f"dim_attn={self.dim_attn} is not divisible by num_heads={self.num_heads}; "
                f"use a multiple of {self.num_heads}"
            )
        if self.num_buckets % 2 or self.num_buckets < 4:
            raise ValueError(
                f"num_buckets must be even and >= 4 (half for each direction, each half split into exact "
                f"and logarithmic buckets) (got {self.num_buckets}); umT5 uses 32"
            )
        max_exact = self.num_buckets // 4
        if self.max_distance <= max_exact:
            raise ValueError(
                f"max_distance must exceed num_buckets // 4 = {max_exact}, where the logarithmic buckets "
                f"start (got {self.max_distance}); umT5 uses 128"
            )
        if not isinstance(self.shared_pos, bool):
            raise ValueError(f"shared_pos must be a bool (got {self.shared_pos!r})")
        if not self.eps > 0:
            raise ValueError(f"eps must be > 0 (got {self.eps!r}); umT5 uses 1e-6")

    @property
    def head_dim(self) -> int:
        return self.dim_attn // self.num_heads


UMT5_XXL = UMT5Config()


def relative_position_bucket(rel: Tensor, num_buckets: int = 32, max_distance: int = 128) -> Tensor:
    """Bidirectional T5 bucket of each relative position ``rel = key - query`` (models.md §6).

    Half of the buckets serve rel <= 0, half rel > 0 (offset by h = num_buckets // 2). Within a half, with
    ``e = h // 2``: |rel| < e maps to itself; larger |rel| to
    ``e + floor(ln(|rel| / e) / ln(max_distance / e) * (h - e))``, capped at the half's last bucket h - 1.
    umT5 (32, 128): e = 8, so 8 + floor(ln(|rel| / 8) / ln(16) * 8), capped at 15.

    rel: integer tensor of any shape. Returns int64 buckets of the same shape, in [0, num_buckets).
    """
    half = num_buckets // 2
    offset = (rel > 0).long() * half
    distance = rel.abs().long()
    max_exact = half // 2
    # The official float32 operations in the official order, so that bucket edges, where the product is
    # an exact integer (distance 16, 32, 64 for umT5), floor the same way as in the released model.
    scaled = torch.log(distance.float() / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)
    # distance 0 gives log(0) = -inf here; torch.where below never selects those entries.
    large = (max_exact + scaled.long()).clamp(max=half - 1)
    return offset + torch.where(distance < max_exact, distance, large)


class T5RMSNorm(nn.Module):
    """T5 layer norm: ``weight * x / sqrt(mean(x^2) + eps)``, no mean subtraction, no bias.

    x: [..., dim] any float dtype. Returns the same shape in the weight's dtype.
    """

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        # float32 statistics as in the official code; rounded to the weight's dtype before the scale.
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return self.weight * y.to(self.weight.dtype)


class RelativePositionBias(nn.Module):
    """Learned per-head bias for each relative-position bucket (``pos_embedding.embedding.weight``)."""

    def __init__(self, num_buckets: int, num_heads: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_buckets, num_heads)

    def forward(self, buckets: Tensor) -> Tensor:
        """buckets: [Lt, Lt] int64 (query, key). Returns [1, H, Lt, Lt] float32."""
        return self.embedding(buckets).permute(2, 0, 1).unsqueeze(0).float()


class T5Attention(nn.Module):
    """Multi-head self-attention without 1/sqrt(D) scaling; q, k, v, o have no bias."""

    def __init__(self, dim: int, dim_attn: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim_attn, bias=False)
        self.k = nn.Linear(dim, dim_attn, bias=False)
        self.v = nn.Linear(dim, dim_attn, bias=False)
        self.o = nn.Linear(dim_attn, dim, bias=False)

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        """x: [B, Lt, dim]; bias: [B, H, Lt, Lt] float32 (position bias + key mask). Returns [B, Lt, dim]."""
        b, lt, _ = x.shape
        q = self.q(x).view(b, lt, self.num_heads, -1)
        k = self.k(x).view(b, lt, self.num_heads, -1)
        v = self.v(x).view(b, lt, self.num_heads, -1)
        # No 1/sqrt(D): T5 trains with the scale folded into q. Logits come out in x's dtype as in the
        # official code; the bias is added and the softmax taken in float32.
        logits = torch.einsum("bqhd,bkhd->bhqk", q, k).float() + bias
        probs = logits.softmax(dim=-1).to(v.dtype)
        out = torch.einsum("bhqk,bkhd->bqhd", probs, v).reshape(b, lt, -1)
        return self.o(out)


class GatedGELUFFN(nn.Module):
    """``fc2(fc1(x) * gelu_tanh(gate(x)))`` with no biases."""

    def __init__(self, dim: int, dim_ffn: int) -> None:
        super().__init__()
        # Sequential so the gate's weight keeps the official name ``gate.0.weight``. The tanh form is the
        # official GELU; the erf form is not interchangeable (rel L2 ~1.5e-4 on the tests' tiny model).
        self.gate = nn.Sequential(nn.Linear(dim, dim_ffn, bias=False), nn.GELU(approximate="tanh"))
        self.fc1 = nn.Linear(dim, dim_ffn, bias=False)
        self.fc2 = nn.Linear(dim_ffn, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, Lt, dim]. Returns [B, Lt, dim] in x's dtype."""
        return self.fc2(self.fc1(x) * self.gate(x))


class T5Block(nn.Module):
    """Pre-norm encoder block: ``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``."""

    def __init__(self, config: UMT5Config) -> None:
        super().__init__()
        self.norm1 = T5RMSNorm(config.dim, config.eps)
        self.attn = T5Attention(config.dim, config.dim_attn, config.num_heads)
        self.norm2 = T5RMSNorm(config.dim, config.eps)
        self.ffn = GatedGELUFFN(config.dim, config.dim_ffn)
        # umT5 learns one bias table per block; with shared_pos the encoder owns the only one.
        self.pos_embedding = (
            None if config.shared_pos else RelativePositionBias(config.num_buckets, config.num_heads)
        )

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        """x: [B, Lt, dim]; bias: [B, H, Lt, Lt] float32. Returns [B, Lt, dim]."""
        x = x + self.attn(self.norm1(x), bias)
        return x + self.ffn(self.norm2(x))


class UMT5Encoder(nn.Module):
    """The umT5 encoder stack: token embedding, ``num_layers`` blocks, final RMSNorm.

    Build it on ``torch.device("meta")`` and load the official weights with ``assign=True``; run it in
    float32 or bfloat16 (``.to(dtype)``). float16 is refused: T5-family activations can exceed its range.
    """

    def __init__(self, config: UMT5Config) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.dim)
        self.pos_embedding = (
            RelativePositionBias(config.num_buckets, config.num_heads) if config.shared_pos else None
        )
        self.blocks = nn.ModuleList(T5Block(config) for _ in range(config.num_layers))
        self.norm = T5RMSNorm(config.dim, config.eps)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Encode token ids.

        ids: [B, Lt] int64 (or int32) token ids in [0, vocab_size), on the weights' device.
        mask: [B, Lt], nonzero (1 / True) for real tokens, EOS included, 0 for padding; any dtype.
        Returns [B, Lt, dim] in the weights' dtype; rows where mask == 0 are exact zeros.
        Raises ValueError on a wrong rank, dtype, shape, device or out-of-range id, and for float16 weights.
        """
        weight = self.token_embedding.weight
        self._check_inputs(ids, mask, weight)
        cfg = self.config
        b, lt = ids.shape
        keep = mask != 0

        # 1. Relative-position buckets, shared by every block; rel = key - query.
        pos = torch.arange(lt, device=ids.device)
        buckets = relative_position_bucket(pos[None, :] - pos[:, None], cfg.num_buckets, cfg.max_distance)

        # 2. Padded keys get the most negative float32 (not -inf, so an all-padding prompt stays finite;
        #    its rows are zeroed at the end anyway).
        key_bias = torch.zeros(b, 1, 1, lt, device=ids.device, dtype=torch.float32)
        key_bias = key_bias.masked_fill(~keep[:, None, None, :], torch.finfo(torch.float32).min)
        shared = self.pos_embedding(buckets) if self.pos_embedding is not None else None

        # 3. Blocks, each with its own position-bias table (umT5) or the shared one.
        x = self.token_embedding(ids)
        for block in self.blocks:
            pos_bias = shared if block.pos_embedding is None else block.pos_embedding(buckets)
            x = block(x, key_bias + pos_bias)

        # 4. Final norm; padding rows become exact zeros (masked_fill, not a multiply, so no NaN leaks).
        return self.norm(x).masked_fill(~keep[..., None], 0)

    def _check_inputs(self, ids: Tensor, mask: Tensor, weight: Tensor) -> None:
        if weight.dtype == torch.float16:
            raise ValueError(
                "umT5 does not run in float16: T5-family activations can exceed its range and the official "
                "code only clamps the infinities; use torch.bfloat16 (as Wan does) or torch.float32 "
                "(got weights in torch.float16)"
            )
        if ids.ndim != 2:
            raise ValueError(
                f"ids must be 2-D [B, Lt] (got shape {list(ids.shape)}); batch a single prompt as [1, Lt]"
            )
        if ids.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                f"ids must be integer token ids, torch.int64 or torch.int32 (got {ids.dtype}); use ids.long()"
            )
        if ids.shape[1] == 0:
            raise ValueError(
                f"ids must hold at least one token per prompt (got shape {list(ids.shape)}); "
                "a tokenised prompt always has its EOS"
            )
        if mask.shape != ids.shape:
            raise ValueError(
                f"mask must have the shape of ids {list(ids.shape)} (got {list(mask.shape)}); "
                "pass the mask the tokenizer returned with these ids"
            )
        if ids.device != weight.device or mask.device != weight.device:
            raise ValueError(
                f"ids and mask must be on the weights' device {weight.device} (got ids on {ids.device}, "
                f"mask on {mask.device}); move them with .to({str(weight.device)!r})"
            )
        if ids.device.type != "meta" and ids.numel():
            low, high = int(ids.min()), int(ids.max())
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"token ids must lie in [0, {self.config.vocab_size}) (got min {low}, max {high}); "
                    "use the umT5 tokenizer that matches this checkpoint"
                )


__all__ = ["UMT5_XXL", "UMT5Config", "UMT5Encoder", "relative_position_bucket"]
