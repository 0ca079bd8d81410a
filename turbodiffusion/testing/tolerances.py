"""Every tolerance the test suite uses, in one place (STYLE.md §3). Never widen one to make a test pass.

Each constant says which comparison it bounds and why the number is what it is.
"""

from __future__ import annotations

import torch

# Model vs golden fixture, fp32: the reference code reproduces the fixtures to ~3e-7; exact GELU in
# place of the tanh form already gives 4e-5, so anything looser would let real bugs through.
GOLDEN_REL_L2 = 1e-5

# Kernel vs reference in fp32: max abs err / max abs ref.
KERNEL_FP32_REL_MAX = 1e-5

# Kernel vs fp32 reference in low precision: max(2 x the eager same-dtype error, this floor).
KERNEL_LOWP_FLOOR = {torch.bfloat16: 8e-3, torch.float16: 1e-3, torch.float32: 1e-5}
KERNEL_LOWP_EAGER_FACTOR = 2.0

# Lossy algorithm vs full precision: 1.5 x the official code's measured error.
LOSSY_FACTOR = 1.5
# W8A8 on Gaussian data: the official 128x128 rule gives relative L1 ~1.3% (quantization.md §7) and
# the issue sets relative L2 <= 1.1e-2 as the target; this bound is the official error x 1.5.
W8A8_GAUSSIAN_REL_L2 = 1.1e-2 * LOSSY_FACTOR


def lowp_bound(dtype: torch.dtype, eager_err: float) -> float:
    """Allowed max-abs-relative error of a low-precision kernel against the fp32 truth."""
    return max(KERNEL_LOWP_EAGER_FACTOR * eager_err, KERNEL_LOWP_FLOOR[dtype])
