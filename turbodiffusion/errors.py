"""The exceptions TurboDiffusion raises on purpose.

Each subclasses the built-in type a caller would expect, so ``except ValueError`` still works.
"""

from __future__ import annotations


class CheckpointError(ValueError):
    """A checkpoint file cannot be read or does not match the model it is loaded into."""


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class DeviceMemoryError(RuntimeError):
    """A generation ran out of device memory; the message names the settings that need less. Raised from
    torch's OutOfMemoryError (``__cause__``), which is a RuntimeError too."""


def require(module: str, extra: str, purpose: str):
    """Import ``module`` or raise MissingDependencyError naming ``pip install "turbodiffusion[extra]"``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f'{purpose} needs the package "{module}": pip install "turbodiffusion[{extra}]"'
        ) from err
