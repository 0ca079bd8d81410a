"""Load a benchmark script (benchmarks/<name>.py) as a module, for the tests of its pure parts, or run it.

Benchmarks are scripts, not a package; only those whose imports are all installed packages (roofline,
peer_official, cublas_blockwise) load this way. Scripts that import their siblings (e2e.py, offload.py,
...) are run as subprocesses by ``run_benchmark``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from ..conftest import REPO


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as the module ``benchmark_<name>`` (loaded once per test session)."""
    key = f"benchmark_{name}"
    if key in sys.modules:
        return sys.modules[key]
    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(key, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module  # dataclasses look their module up here while the file executes
    spec.loader.exec_module(module)
    return module


def run_benchmark(cwd: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    """Run benchmarks/<name>.py with ``args`` in ``cwd`` on the CPU (no GPU visible, Triton interpreted);
    output captured as text, five minutes at most."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRITON_INTERPRET": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / f"{name}.py"), *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
