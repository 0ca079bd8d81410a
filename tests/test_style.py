"""The house style's mechanical rules: ruff lint and format, and no unsafe torch.load."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .conftest import REPO

SOURCES = ["turbodiffusion", "tests", "benchmarks"]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed (pip install -e .[dev])")
@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff(args):
    result = subprocess.run(["ruff", *args, *SOURCES], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_torch_load_is_weights_only():
    offenders = []
    for path in (REPO / "turbodiffusion").rglob("*.py"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"torch\.load\(", line) and "weights_only=True" not in line:
                offenders.append(f"{path.relative_to(REPO)}:{lineno}")
    assert not offenders, f"torch.load without weights_only=True: {offenders}"


def test_every_tuned_kernel_keeps_its_timings_on_disk():
    """Tuned kernels go through kernel_device.autotune (Triton's autotuner with cache_results), so a new
    process reuses the timings instead of benchmarking every config again."""
    offenders = []
    for path in (REPO / "turbodiffusion").rglob("*.py"):
        if path.name == "kernel_device.py":
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\btriton\.autotune\b|from triton import .*\bautotune\b", line):
                offenders.append(f"{path.relative_to(REPO)}:{lineno}")
    assert not offenders, f"triton.autotune instead of kernel_device.autotune: {offenders}"


def test_every_kernel_launch_says_whether_it_fuses_multiply_adds():
    """Each Triton launch in the package passes ``**FP_FUSION`` (or its own enable_fp_fusion): Triton 3.10
    changes the default, and the kernels were measured with fusion on."""
    import ast

    offenders, launches = [], 0
    for path in (REPO / "turbodiffusion").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript)):
                continue
            target = node.func.value
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            if not (name.endswith(("_kernel", "_tuned")) or name in ("kernel", "tuned")):
                continue
            launches += 1
            says = any(
                k.arg == "enable_fp_fusion" or (k.arg is None and getattr(k.value, "id", "") == "FP_FUSION")
                for k in node.keywords
            )
            if not says:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert launches >= 30 and not offenders, f"launches without **FP_FUSION: {offenders}"
