"""Peak bytes of the tensors an operation keeps alive, counted on any device, the meta device included, so
the activation memory of a model at a real shape can be counted on a machine without that memory.

Every tensor an ATen op returns is counted once per storage (views and in-place results share their
input's) from the op that made it until its storage is freed. Tensors made before the count started
(weights, inputs) are not counted; allocator rounding, caching and library workspaces (cuDNN's) are not
seen, so a GPU's peak is this plus those.

    with PeakLiveBytes() as count:
        vae.decode(latent_on_meta, chunk_latents=4)
    count.peak   # bytes
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class PeakLiveBytes(TorchDispatchMode):
    """A dispatch mode that tracks ``live`` (bytes of storages made under it and not yet freed) and
    ``peak`` (its largest value)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._counted: set[int] = set()  # storages (by their C pointer) counted and still alive

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self._count(leaf.untyped_storage())
        return out

    def _count(self, storage: torch.UntypedStorage) -> None:
        key = storage._cdata
        if key in self._counted:  # a view, or an op that wrote into its input
            return
        self._counted.add(key)
        size = storage.nbytes()
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key, size)

    def _free(self, key: int, size: int) -> None:
        self.live -= size
        self._counted.discard(key)
