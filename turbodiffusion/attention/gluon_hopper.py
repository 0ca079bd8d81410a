"""What the sm_90 Gluon kernels (``sage.kernel_wgmma``, ``sla.kv_summary_wgmma``) share: the spelling of
Gluon's Hopper TMA load, which changed between Triton releases, and the torch-to-Gluon 16-bit dtypes.
Importing this needs a Triton with Gluon's Hopper API (experimental in Triton)."""

from __future__ import annotations

import torch
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import tma

# Triton 3.7 renamed the TMA load; the kernels run on both spellings.
tma_load = getattr(tma, "async_load", None) or tma.async_copy_global_to_shared
GL_DTYPES = {torch.bfloat16: gl.bfloat16, torch.float16: gl.float16}
