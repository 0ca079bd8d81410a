"""Attention backends behind one interface: q, k, v [B, L, H, D] -> o [B, L, H, D]."""

from .config import AttentionConfig
from .registry import BACKENDS, build_attention
from .sage import SageAttention, sage_attention
from .sagesla import SageSLAAttention, sagesla_attention
from .sdpa import sdpa_attention
from .sla import SLAAttention, sla_attention

__all__ = [
    "AttentionConfig",
    "BACKENDS",
    "SLAAttention",
    "SageAttention",
    "SageSLAAttention",
    "build_attention",
    "sage_attention",
    "sagesla_attention",
    "sdpa_attention",
    "sla_attention",
]
