"""What a generation that ran out of device memory tells its caller: the device's memory and the settings
that need less of it, cheapest in speed first.

A 14B DiT in bf16 is 28 GB of weights, more than a 24 GB GPU holds, and torch's own error names only the
allocation that failed. ``TurboPipeline.__call__`` turns it into a ``DeviceMemoryError``
built here, chained to torch's.
"""

from __future__ import annotations

import torch

from ..errors import DeviceMemoryError
from ..kernel_device import has_fp8

_GIB = 2**30


def ways_to_need_less(
    offload: str | None, quant: str | None, fp8: bool, num_frames: int, height: int, width: int
) -> list[str]:
    """The settings that lower a generation's device memory, as ``TurboPipeline.from_pretrained`` and
    ``generate`` spell them, in the order that costs the least speed: model offload, 8-bit DiT weights
    (FP8 where the GPU has FP8 tensor cores, ``fp8``; else INT8), block streaming, a smaller video.
    ``offload`` and ``quant`` are the pipeline's (None: off)."""
    ways = []
    if offload is None:
        ways.append('offload="model" (generate --offload): each network on the GPU only while it runs')
    if quant is None:
        mode = "fp8-row" if fp8 else "int8"
        ways.append(f'quant="{mode}" (generate --quant {mode}): 8-bit DiT weights, half the bytes of bf16')
    if offload != "blocks":
        ways.append(
            'offload="blocks" (generate --offload blocks): the DiT\'s blocks also stream from CPU memory one '
            "at a time, for a DiT larger than the GPU (slower steps)"
        )
    ways.append(f"fewer frames or a smaller size than {num_frames} frames of {width}x{height}")
    return ways


def device_memory_error(
    device: torch.device, offload: str | None, quant: str | None, num_frames: int, height: int, width: int
) -> DeviceMemoryError:
    """The error for a generation on ``device`` that ran out of memory, with the device's total and free
    memory (read now, after torch's cache is emptied) and ``ways_to_need_less``."""
    memory = ""
    fp8 = False
    if device.type == "cuda":
        torch.cuda.empty_cache()  # what the failed call held goes back, so "free" is what a retry has
        free, total = torch.cuda.mem_get_info(device)
        memory = f" ({total / _GIB:.1f} GiB in all, {free / _GIB:.1f} GiB free now)"
        fp8 = has_fp8(device)
    ways = ways_to_need_less(offload, quant, fp8, num_frames, height, width)
    return DeviceMemoryError(
        f"{device} ran out of memory making {num_frames} frames of {width}x{height}{memory}. To need less: "
        + "; or ".join(ways)
    )
