"""Attention backends behind one interface: q, k, v [B, L, H, D] -> o [B, L, H, D].

Names are imported on first use (``turbodiffusion.lazy``): the config needs neither torch nor the kernels.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_HOMES = {
    "AttentionConfig": ".config",
    "BACKENDS": ".registry",
    "build_attention": ".registry",
    "SageAttention": ".sage",
    "sage_attention": ".sage",
    "SageSLAAttention": ".sagesla",
    "sagesla_attention": ".sagesla",
    "sdpa_attention": ".sdpa",
    "SLAAttention": ".sla",
    "sla_attention": ".sla",
}
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
__all__ = sorted(_HOMES)
