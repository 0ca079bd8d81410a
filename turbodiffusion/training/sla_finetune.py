"""SLA fine-tuning by output matching (shared/docs/sampling-and-training.md §5).

The student is the pretrained DiT with every self-attention replaced by SLA (``proj_l`` starting at
zero, so training starts from the sparse branch alone); all of its weights train. The teacher is the
same pretrained model with full attention, frozen. Both see the same input, conditional text only:
``log σ ~ N(1.5, 1.6²)``, ``s = σ/(1+σ)``, ``x_s = (1−s) x0 + s ε``, and the loss is
``mean((v_student − v_teacher)²)`` over all latent elements.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from .flow import LossOutput, check_latents, noisy_rf, rf_velocity, sample_rf_time

SLA_P_MEAN = 1.5
SLA_P_STD = 1.6


def sla_distill_loss(
    student: nn.Module,
    teacher: nn.Module,
    x0: Tensor,
    context: Tensor,
    *,
    generator: torch.Generator,
    p_mean: float = SLA_P_MEAN,
    p_std: float = SLA_P_STD,
) -> LossOutput:
    """Output-matching loss between an SLA student and its full-attention teacher.

    x0: [B, C, F, h, w] latents; context: [B, Lt, text_dim]. The teacher runs without grad.
    """
    check_latents(x0, context)
    s = sample_rf_time(x0.shape[0], p_mean=p_mean, p_std=p_std, generator=generator, device=x0.device)
    x_s, _ = noisy_rf(x0, s, generator)
    with torch.no_grad():
        target = rf_velocity(teacher, x_s, s, context)
    v = rf_velocity(student, x_s, s, context)
    return LossOutput(((v - target) ** 2).mean(), v, target)


def load_sla_pair(
    source: str | os.PathLike,
    config=None,
    *,
    topk: float = 0.1,
    dtype: torch.dtype | None = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, nn.Module]:
    """(student, teacher) from one pretrained Wan checkpoint: the student with SLA self-attention and
    zero ``proj_l`` (trainable), the teacher with full attention (frozen, eval)."""
    from ..attention import AttentionConfig
    from ..models.loading import load_dit

    student = load_dit(
        source,
        config,
        attention=AttentionConfig("sla", sla_topk=topk),
        dtype=dtype,
        device=device,
        init_missing="sla",
    ).train()
    teacher = load_dit(source, config, attention=AttentionConfig("sdpa"), dtype=dtype, device=device)
    teacher.requires_grad_(False)
    return student, teacher


__all__ = ["SLA_P_MEAN", "SLA_P_STD", "load_sla_pair", "sla_distill_loss"]
