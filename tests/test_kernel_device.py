"""A Triton kernel handed tensors it cannot read refuses them with a message that says what to do, instead
of failing inside Triton's launcher with a pointer error (what a GPU machine, where the interpreter is
off, did with CPU tensors). The SLA kernels' case: tests/attention/test_sla_kernel.py."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.attention.jvp.kernel import attention_jvp_triton
from turbodiffusion.kernel_device import check_kernel_device, interpreting, triton_release
from turbodiffusion.ops.causal_conv3d.kernel import causal_conv3d_triton
from turbodiffusion.ops.gated_residual.kernel import gated_residual_triton
from turbodiffusion.ops.rms_norm.kernel import rms_norm_triton
from turbodiffusion.quant.act_quant.kernel import quantize_blockwise_triton

REFUSAL = r'impl="triton" needs CUDA tensors \(got cpu\): use impl="reference"'


def _launches():
    x = torch.randn(2, 4, 8)
    q = torch.randn(1, 4, 1, 64)
    return {
        "rms_norm": lambda: rms_norm_triton(x, torch.ones(8)),
        "gated_residual": lambda: gated_residual_triton(x, x, torch.ones(2, 1, 8)),
        "act_quant": lambda: quantize_blockwise_triton(torch.randn(128, 128)),
        "attention_jvp": lambda: attention_jvp_triton(q, q, q, q, q, q),
        "causal_conv3d": lambda: causal_conv3d_triton(
            torch.randn(1, 8, 3, 4, 5).contiguous(memory_format=torch.channels_last_3d),
            torch.randn(3, 8, 3, 3, 3),
            None,
        ),
    }


@pytest.mark.parametrize("name", list(_launches()))
def test_cpu_tensors_without_the_interpreter_are_refused(name, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert not interpreting()
    with pytest.raises(ValueError, match=REFUSAL):
        _launches()[name]()


def test_the_interpreter_or_cuda_passes(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    check_kernel_device(torch.zeros(1))
    monkeypatch.delenv("TRITON_INTERPRET")
    with pytest.raises(ValueError, match=r"got meta"):
        check_kernel_device(torch.zeros(1, device="meta"))
    if torch.cuda.is_available():
        check_kernel_device(torch.zeros(1, device="cuda"))


@pytest.mark.parametrize(
    ("version", "release"),
    [("3.6.0", (3, 6)), ("3.5.0+git1a2b3c", (3, 5)), ("3.10.1", (3, 10)), ("4.0", (4, 0))],
)
def test_triton_release_reads_major_and_minor(version, release):
    assert triton_release(version) == release


def test_triton_releases_compare_as_numbers_not_strings():
    assert triton_release("3.10.0") > (3, 6) > triton_release("3.5.1")
    with pytest.raises(ValueError, match="unrecognised Triton version 'nightly'"):
        triton_release("nightly")


def test_tuned_kernels_keep_their_timings_on_disk():
    """Every Autotuner in the package has Triton's disk cache on, as a process without the interpreter builds
    it (under the interpreter Triton never tunes, and switches the cache off)."""
    import ast
    import os
    import subprocess
    import sys

    script = """
import importlib, pkgutil
import turbodiffusion
from triton.runtime.autotuner import Autotuner
found = {}
for info in pkgutil.walk_packages(turbodiffusion.__path__, "turbodiffusion."):
    if info.name.rsplit(".", 1)[-1].startswith("kernel"):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if isinstance(obj, Autotuner):
                found[info.name + "." + name] = obj.cache_results
print(found)
"""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = ast.literal_eval(result.stdout)
    assert len(found) == 10 and all(found.values()), found
