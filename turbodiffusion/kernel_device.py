"""Where a Triton kernel can run: on a CUDA device, or on the CPU in Triton's interpreter.

The interpreter is switched on by TRITON_INTERPRET=1 set before Triton is imported (the test suite does so
on machines without a GPU); a compiled kernel handed CPU tensors would fail with a pointer error instead.
"""

from __future__ import annotations

import os

from torch import Tensor


def interpreting() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def check_kernel_device(x: Tensor) -> None:
    """Raise ValueError unless a Triton kernel can read ``x``: CUDA, or anything under the interpreter."""
    if x.device.type != "cuda" and not interpreting():
        raise ValueError(
            f'impl="triton" needs CUDA tensors (got {x.device}): use impl="reference" there, or set '
            "TRITON_INTERPRET=1 before triton is imported to run the kernel in Triton's CPU interpreter"
        )
