"""Where a Triton kernel can run: on a CUDA device, or on the CPU in Triton's interpreter; which release.

The interpreter is switched on by TRITON_INTERPRET=1 set before Triton is imported (the test suite does so
on machines without a GPU); a compiled kernel handed CPU tensors would fail with a pointer error instead.
"""

from __future__ import annotations

import functools
import os
import re
from types import MappingProxyType

import torch
from torch import Tensor


def interpreting() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


def triton_release(version: str) -> tuple[int, int]:
    """(major, minor) of a Triton version string such as "3.6.0" or "3.5.0+git1234", for comparisons."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"unrecognised Triton version {version!r}")
    return int(match[1]), int(match[2])


# Triton fuses a * b + c into one FMA unless a launch says otherwise, and 3.9 warns at the first compile that
# 3.10 will stop doing so by default. Every kernel here was written, tested on the GPU and measured with
# fusion, so every launch asks for it: ``kernel[grid](..., **FP_FUSION)``.
FP_FUSION = MappingProxyType({"enable_fp_fusion": True})


def autotune(configs: list, key: list[str], **kwargs):
    """``triton.autotune`` with its timings kept in Triton's on-disk cache (``cache_results``), keyed by the
    Triton release, the GPU architecture, the kernel's source, the tuning key and the configs.

    Every ``turbodiffusion generate`` is a new process, and without the disk cache each one benchmarked every
    config of every tuned kernel at its first call again (compiled kernels were already cached on disk). The
    interpreter never tunes, so there this changes nothing."""
    import triton

    return triton.autotune(configs, key, cache_results=True, **kwargs)


@functools.cache
def gluon_hopper_available() -> bool:
    """Whether the sm_90 Gluon kernels (``attention.sage.kernel_wgmma``, ``attention.sla.kv_summary_wgmma``)
    can be imported: a Triton >= 3.6 with Gluon's Hopper API (``attention/gluon_hopper.py``'s gate).

    Cached: callers ask once per attention layer, and a failed import is tried again every time it is asked
    (2.4 ms a call with Triton 3.5.1 on the 2-core CPU machine).
    """
    try:
        from .attention.sage import kernel_wgmma  # noqa: F401
        from .attention.sla import kv_summary_wgmma  # noqa: F401
    except (ImportError, AttributeError):
        return False
    return True


def has_fp8(device: torch.device) -> bool:
    """FP8 tensor-core products: CUDA compute capability >= 8.9 (Ada, Hopper and later)."""
    return device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 9)


def check_kernel_device(x: Tensor) -> None:
    """Raise ValueError unless a Triton kernel can read ``x``: CUDA, or anything under the interpreter."""
    if x.device.type != "cuda" and not interpreting():
        raise ValueError(
            f'impl="triton" needs CUDA tensors (got {x.device}): use impl="reference" there, or set '
            "TRITON_INTERPRET=1 before triton is imported to run the kernel in Triton's CPU interpreter"
        )
