"""Attention configuration: which backend runs a model's self-attention, and its knobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Backend = Literal["sdpa", "sla", "sage", "sagesla"]
Impl = Literal["auto", "triton", "reference"]
BACKEND_NAMES: tuple[str, ...] = ("sdpa", "sla", "sage", "sagesla")


@dataclass(frozen=True)
class AttentionConfig:
    backend: Backend = "sdpa"  # sdpa: dense baseline; sla/sagesla: sparse-linear; sage: dense INT8
    sla_topk: float = 0.1  # fraction of key blocks each query block attends to (sla, sagesla)
    block_q: int | None = None  # query block size; None = the backend's default for the device
    block_k: int | None = None  # key block size; None = the backend's default for the device
    impl: Impl = "auto"  # "auto": kernel on CUDA, reference on CPU; "triton" or "reference" to force

    def __post_init__(self) -> None:
        if self.backend not in BACKEND_NAMES:
            raise ValueError(
                f"unknown attention backend {self.backend!r}; use one of {', '.join(BACKEND_NAMES)}"
            )
        if not 0.0 < self.sla_topk <= 1.0:
            raise ValueError(f"sla_topk must be in (0, 1] (got {self.sla_topk}); 0.1 is the default")
        for name in ("block_q", "block_k"):
            value = getattr(self, name)
            if value is not None and value not in (16, 32, 64, 128):
                raise ValueError(f"{name} must be one of 16, 32, 64, 128 (got {value})")
        if self.impl not in ("auto", "triton", "reference"):
            raise ValueError(f'impl must be "auto", "triton" or "reference" (got {self.impl!r})')

    @property
    def has_sla_weights(self) -> bool:
        """Whether modules built from this config own SLA's learned ``proj_l``."""
        return self.backend in ("sla", "sagesla")
