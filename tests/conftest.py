"""Test-suite setup: devices, markers and the Triton interpreter on CPU-only machines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from turbodiffusion.pipelines.gemm_workspace import WORKSPACE_VARIABLE

# Must happen before any kernel module is imported, so every Triton kernel also runs on the CPU.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TURBODIFFUSION_SHARED", REPO.parent / "shared"))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def device() -> str:
    """ "cuda" when a GPU is present, else "cpu" (kernels then run under TRITON_INTERPRET=1)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout. A missing folder fails under CI=true and skips locally."""
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared reference folder not found at {SHARED}")
        pytest.skip(f"shared reference folder not found at {SHARED}")
    return SHARED


@pytest.fixture
def no_cublaslt_workspace_variable(monkeypatch):
    """The process environment without CUBLASLT_WORKSPACE_SIZE for the test, and without it again after,
    even when the test's code sets it (``generate`` does): setting it first makes monkeypatch record its
    absence, so the teardown removes whatever value it then has."""
    monkeypatch.setenv(WORKSPACE_VARIABLE, "0")
    monkeypatch.delenv(WORKSPACE_VARIABLE)
