"""EDM2-style power-function EMA of the trained weights (shared/docs/sampling-and-training.md §4).

After student update n (n = 0, 1, ...): ``ema ← β_n ema + (1 − β_n) θ`` with
``β_n = (1 − 1/(n + 1))^(γ + 1)``, so the first update copies θ. The exponent γ comes from the
relative width σ_rel of the averaging profile (EDM2): ``σ_rel² = (γ + 1) / ((γ + 2)² (γ + 3))``;
σ_rel = 0.1 gives γ ≈ 6.94. The average is kept in float32 whatever the parameter dtype, and works
on FSDP2-sharded (DTensor) parameters shard by shard.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

DEFAULT_SIGMA_REL = 0.1


def power_from_sigma_rel(sigma_rel: float) -> float:
    """γ ≥ 0 with (γ+1)/((γ+2)²(γ+3)) = σ_rel² (EDM2), by bisection; ValueError outside (0, 1/√12]."""
    limit = 1.0 / math.sqrt(12.0)  # σ_rel at γ = 0; above it the width falls monotonically with γ
    if not 0.0 < sigma_rel <= limit:
        raise ValueError(f"sigma_rel must be in (0, {limit:.4f}] (got {sigma_rel}); the recipe uses 0.1")

    def width(g: float) -> float:
        return math.sqrt((g + 1) / ((g + 2) ** 2 * (g + 3)))

    lo, hi = 0.0, 1e6  # width falls monotonically from 1/√12 to ~0 over this range
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if width(mid) > sigma_rel else (lo, mid)
    return 0.5 * (lo + hi)


class PowerEMA:
    """Float32 power-function EMA of a module's trainable parameters (names as in named_parameters)."""

    def __init__(self, model: nn.Module, sigma_rel: float = DEFAULT_SIGMA_REL) -> None:
        self.gamma = power_from_sigma_rel(sigma_rel)
        # float32 on purpose: the reference keeps the EMA in fp32 over bf16 parameters.
        self.shadow: dict[str, Tensor] = {
            name: p.detach().to(torch.float32).clone()
            for name, p in model.named_parameters()
            if p.requires_grad
        }

    def beta(self, n: int) -> float:
        return (1.0 - 1.0 / (n + 1)) ** (self.gamma + 1.0)

    @torch.no_grad()
    def update(self, model: nn.Module, n: int) -> None:
        """Fold the current weights in after update ``n`` (0-based count of updates before this one)."""
        weight = 1.0 - self.beta(n)
        params = dict(model.named_parameters())
        for name, avg in self.shadow.items():
            avg.lerp_(params[name].detach().to(torch.float32), weight)


__all__ = ["DEFAULT_SIGMA_REL", "PowerEMA", "power_from_sigma_rel"]
