"""Block streaming: run a DiT whose transformer blocks do not all fit on the device at once.

``BlockOffload(model, device)`` parks the model in host memory and, while installed, brings each block of
``model.blocks`` onto the device just before it runs and releases it right after; everything else (patch,
text and time embeddings, head: "the trunk") is moved onto the device by ``activate()`` and stays there
until ``park()``. The model's code is untouched: forward pre-/post-hooks rebind each block's parameters
and buffers (float weights, W8A8 ``int8_weight`` codes and ``scale`` alike) to device memory and back.

What moves where, and why:

* Parking: every block's tensors are packed into one flat byte range per block, and the trunk's into one
  more, on the park device (the CPU; page-locked when the device is CUDA, so the copies run at PCIe speed
  and asynchronously). The ranges share a few host allocations sized against the page-locked allocator's
  power-of-two rounding (``_pack``). At rest the model's tensors are views into these ranges, so parking
  never copies back: inference does not change the weights, and the parked copy stays the truth.
* Device memory is ``depth + 1`` slots, each one block's bytes, allocated once per activation; block i
  always uses slot i % (depth + 1). One flat copy per block is one large DMA rather than one small copy
  per tensor, and fixed slots keep the footprint at trunk + (depth + 1) blocks whatever the allocator does.
* A forward first queues the copies of blocks 0..depth (they overlap the trunk's embeddings); when block
  i finishes, block i + depth + 1 is copied into the slot block i just left, while blocks i + 1 .. i + depth
  compute. On CUDA the copies run on a side stream; two events per slot order the streams without the
  host ever waiting: the compute stream waits on ``ready`` (the copy into the slot has landed) before the
  block runs, and the copy stream waits on ``free`` (recorded on the compute stream after the slot's
  previous block) before overwriting a slot.
* On the CPU (device and park both "cpu") the same bookkeeping runs and the block copies are real copies
  into the slots, so tests see every move in ``events``.

Limits, each refused with an error rather than run wrong: inference only (with autograd on, saved
tensors would point into slots that later blocks overwrite); no CUDA graph capture (the weight moves are
queued by the host between blocks, which a graph cannot replay); one block at a time (a block started
inside another raises; blocks called out of order still run, only without the copy ahead). Weights are
read-only while installed (edit them after ``remove()``). torch.compile is not supported over the hooks.
"""

from __future__ import annotations

import logging
from functools import partial

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

# Byte alignment of every tensor inside a flat buffer: any dtype's view is legal and vectorised / TMA loads
# in the kernels see the alignment a fresh allocation would give them.
_ALIGN = 256


class _Layout:
    """Where each parameter and buffer of a module tree sits inside one flat uint8 buffer.

    module: the tree; skip: a subtree left out (the blocks, for the trunk). Tensors registered twice
    (tied weights) share their bytes.
    """

    def __init__(self, module: nn.Module, skip: nn.Module | None = None) -> None:
        skipped = {id(m) for m in skip.modules()} if skip is not None else set()
        # (owner module, attribute, is a parameter, byte offset, dtype, shape)
        self.entries: list[tuple[nn.Module, str, bool, int, torch.dtype, torch.Size]] = []
        offsets: dict[int, int] = {}
        size = 0
        for mod in module.modules():
            if id(mod) in skipped:
                continue
            owned = [(n, t, True) for n, t in mod.named_parameters(recurse=False)]
            owned += [(n, t, False) for n, t in mod.named_buffers(recurse=False)]
            for name, t, is_param in owned:
                if t.is_meta:
                    raise ValueError(
                        f"{type(mod).__name__}.{name} is on the meta device; load the weights "
                        f"(load_state_dict(..., assign=True)) before streaming the blocks"
                    )
                if id(t) not in offsets:
                    offsets[id(t)] = size
                    size += -(-t.numel() * t.element_size() // _ALIGN) * _ALIGN
                self.entries.append((mod, name, is_param, offsets[id(t)], t.dtype, t.shape))
        self.nbytes = size

    def views(self, flat: Tensor) -> list[Tensor]:
        """One tensor per entry, viewing its bytes in ``flat`` (uint8, at least ``nbytes`` long)."""
        out = []
        for _, _, _, offset, dtype, shape in self.entries:
            nbytes = shape.numel() * dtype.itemsize
            out.append(flat[offset : offset + nbytes].view(dtype).view(shape))
        return out

    def fill(self, flat: Tensor) -> None:
        """Copy the tree's current tensors (on any device) into ``flat``."""
        for (mod, name, *_), view in zip(self.entries, self.views(flat)):
            view.copy_(getattr(mod, name).detach())

    def bind(self, tensors: list[Tensor]) -> None:
        """Make ``tensors`` the tree's parameters and buffers (the Parameter objects themselves are kept)."""
        for (mod, name, is_param, *_), t in zip(self.entries, tensors):
            if is_param:
                getattr(mod, name).data = t
            else:
                setattr(mod, name, t)


def _pack(sizes: list[int]) -> list[list[int]]:
    """Split items (in order) into runs, one host allocation each; returns the item indices per run.

    Why: PyTorch's page-locked allocator rounds every request up to a power of two, so one 702 MB Wan-14B
    block alone would take 1 GiB (46% more host memory than the model). The runs minimise the rounded
    total (a small dynamic programme over the cut points): Wan 14B's 28 GB then takes 30 GB.
    """
    n = len(sizes)
    # best[i] = (rounded bytes, runs, end of the first run) for items i.. (ties: fewer runs)
    best: list[tuple[int, int, int]] = [(0, 0, n)] * (n + 1)
    for i in reversed(range(n)):
        options, total = [], 0
        for j in range(i, n):
            total += sizes[j]
            rounded = 1 << (total - 1).bit_length() if total else 0
            options.append((rounded + best[j + 1][0], 1 + best[j + 1][1], j + 1))
        best[i] = min(options)
    runs, i = [], 0
    while i < n:
        runs.append(list(range(i, best[i][2])))
        i = best[i][2]
    return runs


class BlockOffload:
    """Streams ``model.blocks`` onto ``device`` one block at a time (see the module docstring).

    model: a module whose ``blocks`` (an nn.ModuleList, run in order) hold most of the weights, e.g.
    WanDiT, plain or quantised, weights materialised on any device. device: where the model runs. park:
    where weights wait (host memory; page-locked when device is CUDA). depth: blocks copied ahead of the
    running one; at most depth + 1 blocks are on the device at a time.

    Construction parks the whole model (the trunk too); ``activate()`` then brings the trunk onto the
    device (``stream_blocks`` does both). ``events`` lists the latest forward's block moves in order, as
    ``(block index, "device" | "park")``. ``remove()`` (or leaving a ``with`` block) undoes it all.
    Raises ValueError for a model without ``blocks``, weights on the meta device, a park device that is
    not the CPU, or a negative depth.
    """

    def __init__(
        self,
        model: nn.Module,
        device: torch.device | str,
        *,
        park: torch.device | str = "cpu",
        depth: int = 1,
    ) -> None:
        blocks = getattr(model, "blocks", None)
        if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
            raise ValueError(
                f"block streaming needs model.blocks, a non-empty nn.ModuleList run in order (as WanDiT has); "
                f"{type(model).__name__} has {type(blocks).__name__ if blocks is not None else 'none'}"
            )
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ValueError(
                f"depth must be an int >= 0 (got {depth!r}); 1 overlaps each copy with one block"
            )
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            # Streams, events and slots must agree on one GPU: pin "cuda" to the current one now.
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.park_device = torch.device(park)
        if self.park_device.type != "cpu":
            raise ValueError(f"park must be the CPU (got {self.park_device}); blocks wait in host memory")
        self.model = model
        self.depth = depth
        self.events: list[tuple[int, str]] = []
        self._cuda = self.device.type == "cuda"
        self._blocks = list(blocks)
        self._layouts = [_Layout(b) for b in self._blocks]
        self._trunk = _Layout(model, skip=blocks)
        pin = self._cuda  # page-locked only where a GPU copies from it (pinning needs CUDA)
        self._trunk_parked, *self._parked = self._park_all([self._trunk, *self._layouts], pin)
        self._park_views = [layout.views(flat) for layout, flat in zip(self._layouts, self._parked)]
        self._trunk_device: Tensor | None = None  # the trunk's device copy while active
        self.num_slots = min(depth + 1, len(self._blocks))
        self._slots: list[Tensor] | None = None
        self._slot_views: dict[int, list[Tensor]] = {}  # block -> its views into its slot (cached)
        self._owner: list[int | None] = [None] * self.num_slots  # block whose weights fill each slot
        self._bound: int | None = None  # block whose tensors point into its slot now
        if self._cuda:
            self._copy_stream = torch.cuda.Stream(self.device)
            self._ready = [torch.cuda.Event() for _ in range(self.num_slots)]
            self._free = [torch.cuda.Event() for _ in range(self.num_slots)]
        self._handles = [model.register_forward_pre_hook(self._start)]
        for i, block in enumerate(self._blocks):
            self._handles.append(block.register_forward_pre_hook(partial(self._enter, i)))
            self._handles.append(block.register_forward_hook(partial(self._exit, i)))
        logger.info(
            "streaming %d blocks (%.2f GiB) from %s memory to %s, %d on the device at a time (%.2f GiB)",
            len(self._blocks),
            sum(layout.nbytes for layout in self._layouts) / 1024**3,
            "page-locked" if pin else "host",
            self.device,
            self.num_slots,
            self.slot_bytes * self.num_slots / 1024**3,
        )

    # -- public state ------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the trunk is on the device (forward runs only then)."""
        return self._trunk_device is not None

    @property
    def slot_bytes(self) -> int:
        """Device bytes of one slot: the largest block, tensors aligned to 256 bytes."""
        return max(layout.nbytes for layout in self._layouts)

    @property
    def block_bytes(self) -> int:
        """Bytes the blocks take in all (what one forward copies host -> device)."""
        return sum(layout.nbytes for layout in self._layouts)

    @property
    def trunk_bytes(self) -> int:
        """Bytes of everything outside the blocks (on the device while active)."""
        return self._trunk.nbytes

    def resident(self) -> list[int]:
        """Indices of the blocks whose weights are on the device now (running or copied ahead)."""
        return sorted(j for j in self._owner if j is not None)

    # -- trunk -------------------------------------------------------------------------------------------

    def activate(self) -> None:
        """Copy the trunk onto the device (a no-op if it is there). The blocks stay parked."""
        self._check_installed()
        if self._trunk_device is not None:
            return
        if self.device == self.park_device:
            dev = self._trunk_parked  # nothing to move: the parked copy is already where the model runs
        else:
            dev = torch.empty(self._trunk.nbytes, dtype=torch.uint8, device=self.device)
            dev.copy_(self._trunk_parked, non_blocking=True)  # in stream order with the forward that reads it
        self._trunk.bind(self._trunk.views(dev))
        self._trunk_device = dev

    def park(self) -> None:
        """Return the trunk to its parked copy and free the device slots (no copy back: see module doc)."""
        self._check_installed()
        self._release_all()
        self._trunk.bind(self._trunk.views(self._trunk_parked))
        self._trunk_device = None
        self._free_slots()

    # -- undo --------------------------------------------------------------------------------------------

    def remove(self, to: torch.device | str | None = None) -> nn.Module:
        """Undo: hooks removed, every parameter and buffer its own tensor on ``to`` (default: the park
        device, since the whole model may not fit on the compute device); the parked buffers are freed.

        Returns the model, now a plain module on one device. Calling it twice is a no-op.
        """
        if self._handles is None:
            return self.model
        for handle in self._handles:
            handle.remove()
        self._handles = None
        self._release_all()
        target = self.park_device if to is None else torch.device(to)
        # Copies, not the views: each tensor gets its own storage again, as a freshly loaded model has
        # (safetensors refuses to save tensors that share memory), and the flat buffers can be freed.
        self._trunk.bind([v.to(target, copy=True) for v in self._trunk.views(self._trunk_parked)])
        for layout, views in zip(self._layouts, self._park_views):
            layout.bind([v.to(target, copy=True) for v in views])
        self._trunk_device = None
        self._free_slots()
        self._parked, self._park_views = [], []
        self._trunk_parked = torch.empty(0, dtype=torch.uint8)
        return self.model

    def __enter__(self) -> BlockOffload:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    # -- hooks -------------------------------------------------------------------------------------------

    def _start(self, module: nn.Module, args) -> None:
        """Model forward pre-hook: checks, then queue the first depth + 1 blocks (overlapping the trunk)."""
        if self._cuda and torch.cuda.is_current_stream_capturing():
            raise RuntimeError(
                "a model with streamed blocks cannot be captured in a CUDA graph: its weights are moved by "
                "the host between blocks, which a graph cannot replay; run it eagerly, or keep the DiT "
                "resident (offload='model' or no offload) to use CUDA graphs"
            )
        if not self.active:
            raise RuntimeError(
                "the model's trunk is parked; call activate() first (Residency does this for a pipeline)"
            )
        if torch.is_grad_enabled() and any(p.requires_grad for b in self._blocks for p in b.parameters()):
            raise RuntimeError(
                "block streaming is inference-only: autograd would keep views into device slots that later "
                "blocks overwrite; run under torch.inference_mode() or torch.no_grad()"
            )
        self.events.clear()
        self._release_all()  # what a forward that raised left behind (recorded: it is this forward's work)
        for j in range(self.num_slots):
            self._fetch(j)

    def _enter(self, i: int, module: nn.Module, args) -> None:
        """Block pre-hook: make sure block i is (being) copied, wait for the copy, point its tensors there."""
        if self._bound is not None:
            raise RuntimeError(
                f"block {i} started while block {self._bound} is still running; streamed blocks must run one "
                f"after another, in order"
            )
        for j in self.resident():
            if not i <= j <= i + self.depth:  # outside this block's window: a skipped or out-of-order call
                self._release(j)
        if self._owner[i % self.num_slots] != i:
            self._fetch(i)
        s = i % self.num_slots
        if self._cuda:
            torch.cuda.current_stream(self.device).wait_event(self._ready[s])
        views = self._slot_views.get(i)
        if views is None:
            views = self._slot_views[i] = self._layouts[i].views(self._slots[s])
        self._layouts[i].bind(views)
        self._bound = i

    def _exit(self, i: int, module: nn.Module, args, output) -> None:
        """Block post-hook: release block i, then start copying the block that takes its slot."""
        self._release(i)
        nxt = i + self.num_slots
        if nxt < len(self._blocks):
            self._fetch(nxt)

    # -- moves -------------------------------------------------------------------------------------------

    def _fetch(self, j: int) -> None:
        """Queue block j's copy into its slot (releasing the slot's previous block first)."""
        s = j % self.num_slots
        if self._owner[s] is not None:
            self._release(self._owner[s])
        slots = self._ensure_slots()
        dst = slots[s][: self._layouts[j].nbytes]
        if self._cuda:
            with torch.cuda.stream(self._copy_stream):
                # The slot's previous block must be done computing before its bytes are overwritten.
                self._copy_stream.wait_event(self._free[s])
                dst.copy_(self._parked[j], non_blocking=True)
                self._ready[s].record(self._copy_stream)
        else:
            dst.copy_(self._parked[j])
        self._owner[s] = j
        self.events.append((j, "device"))

    def _release(self, j: int) -> None:
        """Point block j back at its parked copy and mark its slot free once queued compute is done."""
        s = j % self.num_slots
        assert self._owner[s] == j, (j, self._owner)
        self._layouts[j].bind(self._park_views[j])
        if self._cuda:
            self._free[s].record(torch.cuda.current_stream(self.device))
        self._owner[s] = None
        if self._bound == j:
            self._bound = None
        self.events.append((j, "park"))

    def _release_all(self) -> None:
        for j in self.resident():
            self._release(j)
        self._bound = None

    def _ensure_slots(self) -> list[Tensor]:
        if self._slots is None:
            # Normal tensors even when the first forward runs under inference_mode: later forwards under
            # no_grad copy into them in place, which PyTorch forbids for inference tensors.
            with torch.inference_mode(False):
                self._slots = [
                    torch.empty(self.slot_bytes, dtype=torch.uint8, device=self.device)
                    for _ in range(self.num_slots)
                ]
            if self._cuda:
                # The allocator hands out memory in the compute stream's order; work queued there may still
                # use these bytes, so the side stream must not write them before that work is done.
                self._copy_stream.wait_stream(torch.cuda.current_stream(self.device))
        return self._slots

    def _free_slots(self) -> None:
        if self._cuda:
            # Freed slots go back to the compute stream's pool: copies still queued on the side stream
            # must land before anything on the compute stream can reuse them.
            torch.cuda.current_stream(self.device).wait_stream(self._copy_stream)
        self._slots = None
        self._slot_views.clear()

    def _park_all(self, layouts: list[_Layout], pin: bool) -> list[Tensor]:
        """Copy each layout's tensors into its own flat range of a few host chunks, and bind them there.

        Chunks are allocated one after another, each once the tensors parked before it are bound (and so
        freed, if nothing else holds them): host memory peaks at the model plus one chunk.
        """
        flats = []
        for group in _pack([layout.nbytes for layout in layouts]):
            size = sum(layouts[k].nbytes for k in group)
            chunk = torch.empty(size, dtype=torch.uint8, device=self.park_device, pin_memory=pin)
            offset = 0
            for k in group:
                flat = chunk[offset : offset + layouts[k].nbytes]
                layouts[k].fill(flat)
                layouts[k].bind(layouts[k].views(flat))
                flats.append(flat)
                offset += layouts[k].nbytes
        return flats

    def _check_installed(self) -> None:
        if self._handles is None:
            raise RuntimeError("this BlockOffload was removed; build a new one to stream the blocks again")


def stream_blocks(
    model: nn.Module, device: torch.device | str, *, park: torch.device | str = "cpu", depth: int = 1
) -> BlockOffload:
    """Stream ``model.blocks`` onto ``device`` with the rest of the model moved there; returns the handle.

        with stream_blocks(dit, "cuda") as offload:   # blocks in page-locked host memory, the rest on GPU
            v = dit(x, t, context)                      # under torch.inference_mode()
        # dit is a plain module on the CPU again

    See ``BlockOffload`` for the arguments and errors.
    """
    offload = BlockOffload(model, device, park=park, depth=depth)
    offload.activate()
    return offload


__all__ = ["BlockOffload", "stream_blocks"]
