"""Tiny Wan DiTs and batches shared by the training tests (dim 32, 1 block, 2 heads, 24 tokens)."""

from __future__ import annotations

import copy
import socket

import torch

from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.dit import WanDiT

TINY = WanDiTConfig(dim=32, ffn_dim=64, num_heads=2, num_layers=1, text_dim=16, text_len=8, freq_dim=16)
# SLA needs head_dim 64 or 128: one 64-wide head.
TINY_SLA = WanDiTConfig(dim=64, ffn_dim=64, num_heads=1, num_layers=1, text_dim=16, text_len=8, freq_dim=16)
TINY_DICT = {
    "dim": 32,
    "ffn_dim": 64,
    "num_heads": 2,
    "num_layers": 1,
    "text_dim": 16,
    "text_len": 8,
    "freq_dim": 16,
}
# Latent [C, F, h, w]: F = 2, h = 4, w = 6 -> 2 x 2 x 3 = 12 tokens per sample (ragged, not a power of 2).
LATENT = (16, 2, 4, 6)


def tiny_teacher(seed: int = 0, attention=None, dtype=torch.float32, config: WanDiTConfig = TINY) -> WanDiT:
    """A frozen tiny WanDiT with weights drawn N(0, 0.1²) (the default init zeroes the head)."""
    g = torch.Generator().manual_seed(seed)
    model = WanDiT(config, attention)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model.to(dtype).requires_grad_(False).eval()


def trainable_copy(model: WanDiT) -> WanDiT:
    return copy.deepcopy(model).requires_grad_(True).train()


def batch(seed: int, b: int = 2, latent=LATENT) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x0 [b, *latent], context [b, 5, 16], uncond [b, 5, 16]); Lt = 5 < text_len exercises padding."""
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(b, *latent, generator=g),
        torch.randn(b, 5, 16, generator=g),
        torch.randn(b, 5, 16, generator=g),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
