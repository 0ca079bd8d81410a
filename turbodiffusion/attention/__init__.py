"""Attention backends behind one interface: q, k, v [B, L, H, D] -> o [B, L, H, D]."""

from .config import AttentionConfig
from .registry import BACKENDS, build_attention
from .sdpa import sdpa_attention

__all__ = ["AttentionConfig", "BACKENDS", "build_attention", "sdpa_attention"]
