"""The only place an attention backend is chosen: name -> builder, capability check, backward flag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .config import BACKEND_NAMES, AttentionConfig
from .sage import SAGE_DTYPES, SageAttention
from .sagesla import SageSLAAttention
from .sdpa import SDPAAttention, check_sdpa
from .sla import HEAD_DIMS, SLAAttention


@dataclass(frozen=True)
class BackendSpec:
    name: str
    build: Callable[[AttentionConfig, int], nn.Module]  # (config, head_dim) -> module(q, k, v) -> o
    check: Callable[[torch.device, torch.dtype, int], str | None]  # why it cannot run, or None
    has_backward: bool


def _sdpa_build(cfg: AttentionConfig, head_dim: int) -> nn.Module:
    return SDPAAttention()


def _sla_build(cfg: AttentionConfig, head_dim: int) -> nn.Module:
    return SLAAttention(head_dim, topk=cfg.sla_topk, block_q=cfg.block_q, block_k=cfg.block_k, impl=cfg.impl)


def _sage_build(cfg: AttentionConfig, head_dim: int) -> nn.Module:
    return SageAttention(head_dim, block_q=cfg.block_q, block_k=cfg.block_k, impl=cfg.impl)


def _sagesla_build(cfg: AttentionConfig, head_dim: int) -> nn.Module:
    return SageSLAAttention(
        head_dim, topk=cfg.sla_topk, block_q=cfg.block_q, block_k=cfg.block_k, impl=cfg.impl
    )


def _check_sla(device: torch.device, dtype: torch.dtype, head_dim: int) -> str | None:
    if head_dim not in HEAD_DIMS:
        return f"SLA needs head_dim in {HEAD_DIMS} (got {head_dim})"
    if not dtype.is_floating_point:
        return f"SLA needs a float dtype (got {dtype})"
    return None


def _check_sage(device: torch.device, dtype: torch.dtype, head_dim: int) -> str | None:
    if head_dim not in HEAD_DIMS:
        return f"Sage kernels need head_dim in {HEAD_DIMS} (got {head_dim})"
    if dtype not in SAGE_DTYPES:
        return f"Sage kernels take bf16 or fp16 (got {dtype})"
    if device.type != "cuda":
        return f"needs a CUDA GPU (got {device.type})"
    return None


def _specs() -> dict[str, BackendSpec]:
    specs = {
        "sdpa": BackendSpec("sdpa", _sdpa_build, check_sdpa, has_backward=True),
        "sla": BackendSpec("sla", _sla_build, _check_sla, has_backward=True),
        "sage": BackendSpec("sage", _sage_build, _check_sage, has_backward=False),
        "sagesla": BackendSpec("sagesla", _sagesla_build, _check_sage, has_backward=False),
    }
    return specs


BACKENDS: dict[str, BackendSpec] = _specs()


def build_attention(
    cfg: AttentionConfig,
    head_dim: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Build the attention module for ``cfg``. Its forward takes q, k, v [B, L, H, D] and returns o.

    When ``device`` and ``dtype`` are given, the backend's capability check runs now and a failure
    raises ValueError naming a backend that would run.
    """
    if cfg.backend not in BACKENDS:
        known = ", ".join(n for n in BACKEND_NAMES if n in BACKENDS)
        raise ValueError(f"attention backend {cfg.backend!r} is not available; known: {known}")
    spec = BACKENDS[cfg.backend]
    if device is not None and dtype is not None:
        why = spec.check(torch.device(device), dtype, head_dim)
        if why is not None:
            runnable = [
                n for n, s in BACKENDS.items() if s.check(torch.device(device), dtype, head_dim) is None
            ]
            raise ValueError(f'attention "{cfg.backend}" cannot run here: {why}; use {" or ".join(runnable)}')
    return spec.build(cfg, head_dim)
