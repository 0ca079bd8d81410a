"""What Triton's CPU interpreter (TRITON_INTERPRET=1) computes faithfully, probed rather than assumed by
version: tests that expect a kernel to equal its reference bit for bit under the interpreter check here first.

    fma_rounds_once()   # False on Triton 3.8 and earlier: tl.fma runs as a multiply and an add
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

from ..kernel_device import FP_FUSION


@triton.jit
def _fma_kernel(X, Out):
    x = tl.load(X + tl.arange(0, 4))
    tl.store(Out + tl.arange(0, 4), tl.fma(x, x, -(x * x)))


@functools.cache
def fma_rounds_once() -> bool:
    """Whether ``tl.fma`` rounds once under the interpreter, as the GPU's FMA does.

    x = 1 + 2^-12: x * x = 1 + 2^-11 + 2^-24 needs 25 bits, so fma(x, x, -round(x * x)) is the product's
    rounding error 2^-24 when fused and 0 when the product is rounded first. Needs TRITON_INTERPRET=1 set
    before Triton was imported (the suite's conftest sets it).
    """
    x = torch.full((4,), 1 + 2**-12, dtype=torch.float32)
    out = torch.empty_like(x)
    _fma_kernel[(1,)](x, out, **FP_FUSION)
    return bool((out == 2**-24).all())
