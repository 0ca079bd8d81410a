"""What the sm_90 Gluon kernels (``sage.kernel_wgmma``, ``sla.kv_summary_wgmma``) share: the spellings of
Gluon's Hopper TMA load and of the shared-memory view, which changed between Triton releases, and the
torch-to-Gluon 16-bit dtypes. Importing this needs Triton >= 3.6 (Gluon's Hopper API, experimental in
Triton); older releases get an ImportError, which the callers take as "use the portable kernels"."""

from __future__ import annotations

import torch
import triton
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import tma

from ..kernel_device import triton_release

# The oldest Triton the kernels compile on: 3.5 has the Hopper API but another ``warp_specialize``. Refusing
# the import here makes every "is Gluon available" check fall back to the portable Triton kernels.
MIN_TRITON = (3, 6)
if triton_release(triton.__version__) < MIN_TRITON:
    raise ImportError(
        f"the sm_90 Gluon kernels need Triton >= {'.'.join(map(str, MIN_TRITON))} "
        f"(found {triton.__version__}); the portable Triton kernels run instead"
    )

# Triton 3.7 renamed the TMA load; the kernels run on both spellings.
tma_load = getattr(tma, "async_load", None) or tma.async_copy_global_to_shared
GL_DTYPES = {torch.bfloat16: gl.bfloat16, torch.float16: gl.float16}

# Triton 3.9 made the shared-memory view public as ``reinterpret``; 3.6-3.8 spell it ``_reinterpret``.
PUBLIC_REINTERPRET = gl.constexpr(hasattr(gl.shared_memory_descriptor, "reinterpret"))


@gluon.jit
def reinterpret(smem, dtype: gl.constexpr, shape: gl.constexpr, layout: gl.constexpr):
    """``smem``'s bytes viewed as a tile of ``shape`` in ``dtype`` with ``layout``: the same number of bytes
    (Triton 3.8 refuses a smaller view). A descriptor's attributes cannot be passed in with Triton 3.6: take
    them inside the kernel's own helper (``sage.kernel_wgmma._ring_as_m``)."""
    if PUBLIC_REINTERPRET:
        return smem.reinterpret(dtype, shape, layout)
    else:
        return smem._reinterpret(dtype, shape, layout)
