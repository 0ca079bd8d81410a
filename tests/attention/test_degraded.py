"""The WARNING an attention backend logs when it runs a slower path than it is built for: once, not per layer."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from turbodiffusion.attention import SageAttention, SageSLAAttention, SLAAttention
from turbodiffusion.attention import sage as sage_module
from turbodiffusion.attention.degraded import report_degraded_attention

LOGGER = "turbodiffusion.attention.degraded"
CPU = torch.device("cpu")


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


def qkv(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, 96, 2, 64, generator=g, dtype=torch.bfloat16) for _ in range(3))


@pytest.mark.parametrize(
    "module, name",
    [
        (SLAAttention(64, topk=0.5), "SLA"),
        (SageAttention(64), "SageAttention"),
        (SageSLAAttention(64, topk=0.5), "SageSLAAttention"),
    ],
    ids=["sla", "sage", "sagesla"],
)
def test_a_module_on_the_cpu_warns_once_over_many_forwards(module, name, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for _ in range(3):
        module(*qkv())
    (message,) = warnings_of(caplog)
    assert message.startswith(f"{name} on cpu runs the plain-PyTorch reference")


@pytest.mark.parametrize(
    "module", [SLAAttention(64, topk=0.5, impl="reference"), SageAttention(64, impl="reference")]
)
def test_a_module_asked_for_its_reference_does_not_warn(module, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    assert module.degraded_reason(CPU) is None
    module(*qkv())
    assert warnings_of(caplog) == []


def test_sage_on_a_gpu_without_fp8_names_the_16_bit_products(monkeypatch):
    monkeypatch.setattr(sage_module, "has_fp8", lambda device: False)
    cuda = torch.device("cuda")
    assert "no FP8 products; P.V runs in 16 bits" in SageSLAAttention(64, topk=0.1).degraded_reason(cuda)
    assert SageAttention(64, pv="half").degraded_reason(cuda) is None  # asked for: nothing to warn about
    monkeypatch.setattr(sage_module, "has_fp8", lambda device: True)
    assert SageAttention(64).degraded_reason(cuda) is None


def test_a_model_reports_each_reason_once_with_its_layer_count(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    model = nn.ModuleList(
        [SLAAttention(64, topk=0.5) for _ in range(3)]
        + [SageAttention(64), SLAAttention(64, topk=0.5, impl="reference")]
    )
    assert report_degraded_attention(model, CPU) == 2
    assert sorted(warnings_of(caplog)) == [
        "SLA on cpu runs the plain-PyTorch reference, not the Triton kernels (3 attention layers)",
        "SageAttention on cpu runs the plain-PyTorch reference (slow), not the Triton kernel (1 attention layer)",
    ]
    caplog.clear()
    for module in model:
        module(*qkv())
    assert warnings_of(caplog) == []  # the forwards stay quiet once the model has spoken for them
    assert report_degraded_attention(model, CPU) == 0
