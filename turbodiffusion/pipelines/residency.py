"""Which model sits on the compute device: the only code in the pipelines that moves modules.

Policy (sampling-and-training.md §7, models.md §4):

* the text encoder is moved to the device for encoding and parked on the CPU right after;
* modules in one ``group`` are exclusive: using one parks the others first. The two Wan2.2 experts form
  one (only one resident, as the official inference runs them) unless both fit on the device with room
  to spare (``expert_group``), when each stays once used and no call moves an expert;
* ``offload=True`` (model CPU offload, for small GPUs): every module is moved to the device only while
  it is used, then parked again;
* otherwise DiT and VAE stay on the device once moved there;
* a module added with ``streamed=`` (a ``BlockOffload``, for a DiT larger than the GPU) moves only its
  trunk here; its blocks come to the device one at a time while it runs (block_offload.py).

``events`` records every move as ``(name, "device" | "park")``, which is what the tests check (the labels
stay meaningful when the device is the CPU itself).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .block_offload import BlockOffload

logger = logging.getLogger(__name__)


@dataclass
class _Entry:
    module: nn.Module
    keep: bool  # stay on the device after use (unless offloading)
    group: str | None  # at most one module of a group on the device
    on_device: bool  # logical place, tracked even when device and park are both the CPU
    pinned: dict[str, Tensor] = field(default_factory=dict)  # CUDA only: page-locked parking buffers
    streamed: BlockOffload | None = None  # blocks streamed: moving the module moves only its trunk


class Residency:
    """Moves named modules between the compute device and a parking device (the CPU).

    device: where modules run. offload: park every module after each use. park: where idle modules wait.
    """

    def __init__(
        self, device: torch.device | str, *, offload: bool = False, park: torch.device | str = "cpu"
    ):
        self.device = torch.device(device)
        self.park_device = torch.device(park)
        self.offload = offload
        self._entries: dict[str, _Entry] = {}
        self.events: list[tuple[str, str]] = []

    def add(
        self,
        name: str,
        module: nn.Module,
        *,
        keep: bool = True,
        group: str | None = None,
        streamed: BlockOffload | None = None,
    ) -> None:
        """Register ``module`` under ``name``: on the parking device, or already on the device where the
        loader quantised it (``load_components(resident=True)``; its first activation then moves nothing).

        streamed: the module's installed BlockOffload; activating then moves only the trunk (the blocks
        stream during forward), parking returns the trunk and frees the block slots.
        """
        if name in self._entries:
            raise ValueError(f"a module named {name!r} is already registered")
        if streamed is not None and streamed.model is not module:
            raise ValueError(f"streamed= must be the BlockOffload installed on {name!r} itself")
        self._entries[name] = _Entry(module, keep, group, on_device=False, streamed=streamed)

    def module(self, name: str) -> nn.Module:
        return self._entries[name].module

    def on_device(self) -> list[str]:
        """Names of the modules now on the compute device."""
        return [n for n, e in self._entries.items() if e.on_device]

    def _move(self, name: str, to_device: bool) -> None:
        entry = self._entries[name]
        if entry.on_device == to_device:
            return
        device = self.device if to_device else self.park_device
        if entry.streamed is not None and to_device:
            entry.streamed.activate()
        elif entry.streamed is not None:
            entry.streamed.park()
        elif not to_device and self.device.type == "cuda" and self.park_device.type == "cpu":
            _park_pinned(entry, self.park_device)
        else:
            entry.module.to(device)
        entry.on_device = to_device
        self.events.append((name, "device" if to_device else "park"))
        logger.debug("moved %s to %s", name, device)

    def park(self, name: str) -> None:
        """Move ``name`` to the parking device (a no-op if it is there)."""
        self._move(name, False)

    def activate(self, name: str) -> nn.Module:
        """Move ``name`` onto the device, parking the other modules of its group first; returns it."""
        entry = self._entries[name]
        if entry.group is not None:
            for other, e in self._entries.items():
                if other != name and e.group == entry.group:
                    self.park(other)
        self._move(name, True)
        return entry.module

    def release(self, name: str) -> None:
        """Done with ``name`` for now: park it when offloading or when it is not kept on the device."""
        entry = self._entries[name]
        if self.offload or not entry.keep:
            self.park(name)

    @contextmanager
    def use(self, name: str) -> Iterator[nn.Module]:
        """``activate(name)`` for the ``with`` body, then ``release(name)``."""
        module = self.activate(name)
        try:
            yield module
        finally:
            self.release(name)


def _park_pinned(entry: _Entry, park: torch.device) -> None:
    """Copy every parameter and buffer into page-locked CPU tensors kept for the next park.

    Why: ``module.to("cpu")`` copies into pageable memory at a few GB/s, so parking umT5-XXL (11 GB) after
    each prompt would cost seconds each way; pinned buffers move at PCIe speed, and ``module.to(device)``
    reads them back just as fast. The buffers stay allocated (host RAM = the module's size).
    """
    tensors = [*entry.module.named_parameters(), *entry.module.named_buffers()]
    cuda = {t.device for _, t in tensors if t.is_cuda}
    if not cuda:  # nothing on a GPU (or a module that moves itself): the plain move
        entry.module.to(park)
        return
    for name, t in tensors:
        buf = entry.pinned.get(name)
        if buf is None or buf.shape != t.shape or buf.dtype != t.dtype:
            buf = torch.empty(t.shape, dtype=t.dtype, device="cpu", pin_memory=True)
            entry.pinned[name] = buf
        buf.copy_(t.detach(), non_blocking=True)
    for device in cuda:
        torch.cuda.synchronize(device)  # the copies must land before the device memory is released
    for name, t in tensors:
        t.data = entry.pinned[name]


def module_bytes(*modules: nn.Module) -> int:
    """Bytes of the parameters and buffers of ``modules`` (shared tensors counted once)."""
    seen: dict[int, int] = {}
    for module in modules:
        for t in (*module.parameters(), *module.buffers()):
            seen[id(t)] = t.numel() * t.element_size()
    return sum(seen.values())


def keeps_everything(weight_bytes: int, device_bytes: int) -> bool:
    """Whether every network may stay on the device between calls: their weights take at most half of
    its memory, leaving the rest to activations (a 14B DiT at 720p peaks near 20 GiB, the VAE decode
    adapts its chunks to what is free). Parking the text encoder (umT5-XXL, 11 GB) after each prompt
    and bringing it back costs about 0.4 s a call on an H200, more than a 1.3B model's four steps save."""
    return 2 * weight_bytes <= device_bytes


def expert_group(weight_bytes: int, device_bytes: int) -> str | None:
    """The residency group of Wan2.2's two experts: "dit" (they take turns on the device, the idle one parked
    on the CPU) unless the experts and the VAE, ``weight_bytes``, pass ``keeps_everything`` on a device of
    ``device_bytes`` (0 off CUDA): then None, and both stay once used. Taking turns moves a whole expert
    out and the other in twice a generation (high, then low, then high again at the next call's first
    step), 14 GB each way in FP8 and 28 GB in bf16."""
    return None if keeps_everything(weight_bytes, device_bytes) else "dit"
