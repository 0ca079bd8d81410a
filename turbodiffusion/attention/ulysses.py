"""Ulysses sequence parallelism: all-to-all around any attention backend (explicit process group).

Each rank of a group of P holds a contiguous 1/P of the tokens of the same samples, all heads:
q, k, v [B, L/P, H, D]. One all-to-all turns that into all tokens for H/P heads [B, L, H/P, D]; the
wrapped backend runs on it unchanged; a second all-to-all turns the output back into the rank's
token shard. P must divide H (shared/docs/sampling-and-training.md §7). The all-to-all is linear, so
its backward is the inverse all-to-all and its JVP is the same all-to-all applied to the tangent: the
wrapper works under autograd and ``torch.func.jvp`` alike (rCM ships tangents through it too).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


def _a2a(x: Tensor, group: dist.ProcessGroup) -> Tensor:
    x = x.contiguous()
    # Contiguous on purpose: empty_like would copy a permuted input's strides, but the collective
    # splits and fills dim 0 as flat memory.
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    dist.all_to_all_single(out, x, group=group)
    return out


def _seq_to_head(x: Tensor, group: dist.ProcessGroup) -> Tensor:
    """[B, Ls, H, D] token shard, all heads -> [B, P·Ls, H/P, D] all tokens, this rank's heads."""
    P = dist.get_world_size(group)
    B, Ls, H, D = x.shape
    chunks = x.reshape(B, Ls, P, H // P, D).permute(2, 0, 1, 3, 4)  # [P, B, Ls, H/P, D], dim 0 = destination
    got = _a2a(chunks, group)  # dim 0 = source rank = token shard
    return got.permute(1, 0, 2, 3, 4).reshape(B, P * Ls, H // P, D)


def _head_to_seq(x: Tensor, group: dist.ProcessGroup) -> Tensor:
    """Inverse of ``_seq_to_head``: [B, L, H/P, D] -> [B, L/P, H, D]."""
    P = dist.get_world_size(group)
    B, L, Hp, D = x.shape
    chunks = x.reshape(B, P, L // P, Hp, D).permute(1, 0, 2, 3, 4)  # dim 0 = destination token shard
    got = _a2a(chunks, group)  # dim 0 = source rank = head group
    return got.permute(1, 2, 0, 3, 4).reshape(B, L // P, P * Hp, D)


class _SeqToHead(torch.autograd.Function):
    @staticmethod
    def forward(x: Tensor, group: dist.ProcessGroup, inverse: bool) -> Tensor:
        return _head_to_seq(x, group) if inverse else _seq_to_head(x, group)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        _, ctx.group, ctx.inverse = inputs

    @staticmethod
    def backward(ctx, grad: Tensor):
        f = _seq_to_head if ctx.inverse else _head_to_seq
        return f(grad, ctx.group), None, None

    @staticmethod
    def jvp(ctx, tangent: Tensor, _group, _inverse) -> Tensor:
        return _head_to_seq(tangent, ctx.group) if ctx.inverse else _seq_to_head(tangent, ctx.group)


def seq_to_head(x: Tensor, group: dist.ProcessGroup) -> Tensor:
    """Differentiable token-shard -> head-shard all-to-all; x: [B, L/P, H, D] -> [B, L, H/P, D]."""
    return _SeqToHead.apply(x, group, False)


def head_to_seq(x: Tensor, group: dist.ProcessGroup) -> Tensor:
    """Differentiable head-shard -> token-shard all-to-all; x: [B, L, H/P, D] -> [B, L/P, H, D]."""
    return _SeqToHead.apply(x, group, True)


class UlyssesAttention(nn.Module):
    """Wrap an attention module ``inner(q, k, v) -> o`` ([B, L, H, D]) for sequence-parallel inputs.

    forward takes this rank's token shard q, k, v [B, L/P, H, D] (equal shard sizes on every rank,
    H divisible by P) and returns this rank's shard of the output [B, L/P, H, D]. ``inner`` sees the
    full sequence for H/P heads, so any backend (SDPA, SLA, the JVP attention) works unchanged;
    learned weights of ``inner`` stay under ``inner.``.
    """

    def __init__(self, inner: nn.Module, group: dist.ProcessGroup) -> None:
        super().__init__()
        self.inner = inner
        self.group = group

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        P = dist.get_world_size(self.group)
        for name, t in (("q", q), ("k", k), ("v", v)):
            if t.dim() != 4:
                raise ValueError(f"{name} must be a token shard [B, L/P, H, D] (got shape {tuple(t.shape)})")
            if t.shape[2] % P:
                raise ValueError(
                    f"{name} has {t.shape[2]} heads, not divisible by the sequence-parallel size {P}; "
                    f"use a group size that divides the head count"
                )
        o = self.inner(seq_to_head(q, self.group), seq_to_head(k, self.group), seq_to_head(v, self.group))
        return head_to_seq(o, self.group)


__all__ = ["UlyssesAttention", "head_to_seq", "seq_to_head"]
