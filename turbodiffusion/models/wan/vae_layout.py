"""The memory layout the Wan VAE's new activations take: the one their input has (vae.py's
``use_channels_last`` makes a whole clip channels-last, and each op keeps it)."""

from __future__ import annotations

import torch
from torch import Tensor

_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def memory_format_of(x: Tensor) -> torch.memory_format:
    """channels_last (4D: per-frame) or channels_last_3d (5D: a clip) for x stored channels-last and not also
    plain contiguous (a tensor with one position is both), else contiguous_format."""
    layout = _CHANNELS_LAST.get(x.dim())
    channels_last = layout is not None and x.is_contiguous(memory_format=layout) and not x.is_contiguous()
    return layout if channels_last else torch.contiguous_format
