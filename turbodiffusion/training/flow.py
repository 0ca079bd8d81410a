"""Flow-matching training of a Wan DiT, and the time/noise helpers every loss shares.

shared/docs/sampling-and-training.md §1: the DiT takes the rectified-flow sample
``x_rf = (1 − s) x0 + s ε`` and ``τ = 1000 s`` and predicts the velocity ``v ≈ ε − x0``.
Times come from ``log σ ~ N(p_mean, p_std²)``, ``s = σ/(1+σ)`` (the SLA recipe of §5 uses (1.5, 1.6);
for training a teacher from scratch we default to (0.0, 1.0), a logit-normal over s centred at 0.5:
our choice, the source does not give Wan's own pre-training recipe).

Random draws always take a ``torch.Generator`` and happen in a fixed order: times first, then noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..sampling.schedules import shift_time


@dataclass(frozen=True)
class LossOutput:
    """One loss evaluation. ``loss`` is the scalar to back-propagate; ``prediction`` (with grad) and
    ``target`` (detached) are what the loss pulls together, so callers can check that a step moved
    the prediction towards the target (the honest "decreases" test for surrogate losses)."""

    loss: Tensor  # [] float32
    prediction: Tensor  # [B, C, F, h, w]
    target: Tensor  # [B, C, F, h, w], no grad


def model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype the network computes in (its first floating parameter's)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def check_latents(x0: Tensor, context: Tensor) -> None:
    """Raise ValueError unless x0 is [B, C, F, h, w] and context is [B, Lt, text_dim] with the same B."""
    if x0.dim() != 5:
        raise ValueError(f"x0 must be latents [B, C, F, h, w] (got shape {tuple(x0.shape)})")
    if context.dim() != 3 or context.shape[0] != x0.shape[0]:
        raise ValueError(
            f"context must be [B, Lt, text_dim] with B={x0.shape[0]} like x0 (got shape {tuple(context.shape)})"
        )


def sample_rf_time(
    batch: int, *, p_mean: float, p_std: float, generator: torch.Generator, device: torch.device | str
) -> Tensor:
    """RF times s [B] float64 in (0, 1) from log σ ~ N(p_mean, p_std²), s = σ/(1+σ) (§1, §5)."""
    if p_std <= 0:
        raise ValueError(f"p_std must be positive (got {p_std}); the SLA recipe uses 1.6")
    z = torch.randn(batch, generator=generator, dtype=torch.float64, device=generator.device).to(device)
    sigma = torch.exp(p_mean + p_std * z)
    return sigma / (1.0 + sigma)


def sample_shifted_time(
    batch: int, *, shift: float, generator: torch.Generator, device: torch.device | str
) -> Tensor:
    """RF times s [B] float64 in [0, 1): u ~ U[0, 1), s = shift u / (1 + (shift − 1) u), the times a
    ``shift``-ed flow sampler visits with uniform steps (so a model trained on them is trained where it is
    sampled, pure noise included; §4's p_D is this at shift 5)."""
    if shift <= 0:
        raise ValueError(f"shift must be positive (got {shift}); Wan samples at 3 to 5")
    u = torch.rand(batch, generator=generator, dtype=torch.float64, device=generator.device).to(device)
    return shift_time(u, shift)


def rf_velocity(model: nn.Module, x_rf: Tensor, s: Tensor, context: Tensor) -> Tensor:
    """Run the DiT at RF time s [B]: input and τ = 1000 s are cast to the network's dtype first (§1).

    x_rf: [B, C, F, h, w]. Returns v in float32, same shape.
    """
    dtype = model_dtype(model)
    return model(x_rf.to(dtype), (1000.0 * s).to(dtype), context.to(dtype)).float()


def _bcast(t: Tensor) -> Tensor:
    return t.view(-1, 1, 1, 1, 1)


def noisy_rf(x0: Tensor, s: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Draw ε ~ N(0, I) like x0 and return (x_rf = (1−s) x0 + s ε, ε), both float32."""
    eps = torch.randn(x0.shape, generator=generator, device=generator.device).to(x0.device)
    sb = _bcast(s).float()
    return (1.0 - sb) * x0.float() + sb * eps, eps


def flow_matching_loss(
    model: nn.Module,
    x0: Tensor,
    context: Tensor,
    *,
    generator: torch.Generator,
    p_mean: float = 0.0,
    p_std: float = 1.0,
    shift: float | None = None,
) -> LossOutput:
    """Plain flow-matching loss ``mean((v_θ(x_s, 1000 s) − (ε − x0))²)`` over all latent elements.

    x0: [B, C, F, h, w] latents; context: [B, Lt, text_dim] text embeddings. Times are logit-normal
    (p_mean, p_std), or with ``shift`` those of a shifted sampler (``sample_shifted_time``).
    """
    check_latents(x0, context)
    if shift is None:
        s = sample_rf_time(x0.shape[0], p_mean=p_mean, p_std=p_std, generator=generator, device=x0.device)
    else:
        s = sample_shifted_time(x0.shape[0], shift=shift, generator=generator, device=x0.device)
    x_s, eps = noisy_rf(x0, s, generator)
    v = rf_velocity(model, x_s, s, context)
    target = (eps - x0.float()).detach()
    return LossOutput(((v - target) ** 2).mean(), v, target)


__all__ = [
    "LossOutput",
    "check_latents",
    "flow_matching_loss",
    "model_dtype",
    "noisy_rf",
    "rf_velocity",
    "sample_rf_time",
    "sample_shifted_time",
]
