"""Public names of a package imported on first use (PEP 562), so that importing the package does no work:
``turbodiffusion.pipelines.presets`` (CLI help, downloads) must not pull in torch and the kernels through
its package's ``__init__``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``(__getattr__, __dir__)``: ``homes`` maps each public name to the module defining it
    (absolute, or relative to ``package`` with a leading dot). A name is imported on first access and then
    kept in the package's namespace."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(homes) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
