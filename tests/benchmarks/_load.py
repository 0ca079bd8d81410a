"""Load a benchmark script (benchmarks/<name>.py) as a module, for the tests of its pure parts.

Benchmarks are scripts, not a package; only those whose imports are all installed packages (roofline,
peer_official) load this way. e2e.py imports its sibling scripts, so its tests run it as a subprocess.
"""

from __future__ import annotations

import importlib.util
import sys
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
