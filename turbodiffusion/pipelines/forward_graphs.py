"""``ForwardGraphs``: CUDA graphs of a DiT's forward that a pipeline keeps from one call to the next.

Why across calls: a graph replays a forward's ~1,300 kernels (1.3B) with one launch, so the GPU no longer
waits for a host that issues them more slowly than it runs them. On one H200 host (benchmarks/runs/
h200-2026-12-04c) eager 1.3B-480p steps took 0.16-0.21 s and replays 0.145-0.16 s: four steps 0.733 -> 0.613
s; on a host that keeps ahead of the GPU the two are within 1%. Capturing costs about one host pass over
the forward, which one call's four steps do not earn back (0.27 s for the 1.3B's two graphs there), so the
graphs are kept by the pipeline: captured once, replayed by every later call of the same shape.

Per (model, context slot, shapes) two graphs, both on static copies of x, t, the context and y:

* the *fill* graph runs a sampling run's first forward: it computes the text embedding and every block's
  cross-attention k and v into the entry's ``TextContextCache`` (its tensors are the graph's), then the rest;
* the *cached* graph runs the later forwards, which read that cache.

Each graph is captured right after the forward it stands for has run eagerly (that eager run autotunes the
kernels and is the step's result), so a first call costs the captures' host time, not extra GPU work; the
cache filled eagerly is copied into the fill graph's tensors. The graphs on one device share a memory pool
(replays never overlap, and each graph's inputs and outputs stay referenced, so no capture reuses them),
whose size ``pool_bytes`` reports: memory the rest of the pipeline cannot use (the VAE's decode chunks
account for it). One consequence of the sharing: a capture may place its entry's cache in memory an earlier
capture freed, where an earlier graph keeps its intermediates, and replaying that graph overwrites it. So an
entry's cache holds its k and v from its fill replay until another entry's earlier-captured graph replays:
every sampling run starts with its fill graph (``velocity``'s first call), and a guided step's two slots,
captured in the order they run, fill before either reads.

A graph replays fixed addresses: the entry keeps the model's parameter addresses and recaptures if they
change (a model moved off the device and back). Captures skip ``torch.cuda.graph``'s empty-cache and
synchronisation, so queued eager work keeps the GPU busy meanwhile.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor, nn

from ..models.wan import TextContextCache

logger = logging.getLogger(__name__)

Replay = Callable[[], None]


class Capture(Protocol):
    """Records ``fn`` (a forward on static tensors) into a graph; returns (replay, fn's output, pool)."""

    def __call__(self, fn: Callable[[], Tensor], pool: object | None) -> tuple[Replay, Tensor, object]: ...


class CudaGraphCapture:
    """Captures into CUDA graphs, all on one side stream of the current device (made on first use): blocks a
    capture frees stay tagged with its stream, so captures sharing a pool reuse each other's memory only on
    the same one. ``ForwardGraphs`` makes the model's device current around captures and replays."""

    def __init__(self) -> None:
        self._streams: dict[int, torch.cuda.Stream] = {}

    def __call__(self, fn: Callable[[], Tensor], pool: object | None) -> tuple[Replay, Tensor, object]:
        """Capture ``fn`` into a CUDA graph drawing on ``pool`` (None: a new pool)."""
        index = torch.cuda.current_device()
        if index not in self._streams:
            self._streams[index] = torch.cuda.Stream()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.stream(self._streams[index]):
            graph.capture_begin(pool=pool) if pool is not None else graph.capture_begin()
            try:
                out = fn()
            except BaseException:
                try:
                    graph.capture_end()
                except RuntimeError:
                    pass  # the capture is invalid anyway; the forward's own error is the one to report
                raise
            graph.capture_end()
        return graph.replay, out, graph.pool()


def _addresses(model: nn.Module) -> tuple[int, ...]:
    return tuple(t.data_ptr() for t in itertools.chain(model.parameters(), model.buffers()))


def _signature(*tensors: Tensor | None) -> tuple:
    return tuple(None if t is None else (tuple(t.shape), t.dtype, t.device) for t in tensors)


def _on(device: torch.device) -> contextlib.AbstractContextManager:
    """``device`` made current (graphs capture and replay on the current device's streams), e.g. cuda:1."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


class _Entry:
    """One model's two graphs for one context slot and one set of shapes."""

    def __init__(self, model: nn.Module, context: Tensor, y: Tensor | None) -> None:
        self.model = model
        self.addresses = _addresses(model)
        self.context = context.clone()
        self.y = None if y is None else y.clone()
        self.cache = TextContextCache(self.context)  # the graphs' own: its tensors are captured
        self.x: Tensor | None = None
        self.t: Tensor | None = None
        self.fill: tuple[Replay, Tensor] | None = None
        self.cached: tuple[Replay, Tensor] | None = None

    def forward(self, cache: TextContextCache, *, fill: bool = False) -> Tensor:
        """The model on the static inputs; ``fill``: with ``cache`` emptied first, so the forward computes
        the text's k and v into it (what the fill graph records) rather than reading them."""
        if fill:
            cache.clear()
        return self.model(self.x, self.t, cache, self.y)


class ForwardGraphs:
    """The graphs one pipeline keeps; ``velocity`` gives a sampling run's forward for one context.

    capture: how a forward is recorded (default: a ``CudaGraphCapture``; tests pass a stand-in that re-runs
    it).
    """

    def __init__(self, capture: Capture | None = None) -> None:
        self._capture = capture if capture is not None else CudaGraphCapture()
        self._entries: dict[tuple, _Entry] = {}
        self._pools: dict[torch.device, object] = {}  # one a device: the graphs of each share it
        self.pool_bytes = 0  # device memory the graphs' pools have reserved (CUDA)

    def __len__(self) -> int:
        """Graphs held."""
        return sum((e.fill is not None) + (e.cached is not None) for e in self._entries.values())

    def clear(self) -> None:
        """Drop every graph (their memory goes back to torch's allocator once nothing else holds it)."""
        self._entries.clear()
        self._pools.clear()
        self.pool_bytes = 0

    def velocity(
        self, model: nn.Module, context: Tensor, y: Tensor | None, *, slot: int = 0
    ) -> Callable[[Tensor, Tensor], Tensor]:
        """A sampling run's forward ``(x, t) -> velocity`` of ``model`` for ``context`` (and i2v's ``y``):
        its first call computes the text's k and v, later calls reuse them, as with a ``TextContextCache``.

        context: [B, Lt, text_dim]; y: [B, C, F, h, w] or None; both are copied into the graphs' inputs
        now. slot: which of a run's contexts this is (0 the prompt, 1 the negative prompt for guidance):
        each slot has its own graphs, so both may be used in one step. Returns a velocity that takes x
        [B, 16, F, h, w] and t [B] (the dtypes of the run's first call thereafter) and returns a fresh
        float32 tensor.
        """
        key = (id(model), slot, _signature(context, y))
        entry = self._entries.get(key)
        # The entry holds its model, so no other model can take its id while the entry lives.
        if entry is not None and entry.addresses != _addresses(model):
            logger.info("the model's weights moved since its CUDA graphs were captured: capturing anew")
            entry = None
        if entry is None:
            entry = self._entries[key] = _Entry(model, context, y)
        else:
            entry.context.copy_(context)
            if y is not None:
                entry.y.copy_(y)
        calls = itertools.count()

        def run(x: Tensor, t: Tensor) -> Tensor:
            return self._run(entry, x, t, first=next(calls) == 0)

        return run

    def _run(self, entry: _Entry, x: Tensor, t: Tensor, *, first: bool) -> Tensor:
        if entry.x is None:
            entry.x, entry.t = x.clone(), t.clone()
        elif _signature(x, t) != _signature(entry.x, entry.t):
            raise ValueError(
                f"ForwardGraphs: x {tuple(x.shape)} {x.dtype} and t {tuple(t.shape)} {t.dtype} differ from "
                f"the first call's {tuple(entry.x.shape)} {entry.x.dtype} and {tuple(entry.t.shape)} "
                f"{entry.t.dtype}; ask velocity() again for another shape"
            )
        else:
            entry.x.copy_(x)
            entry.t.copy_(t)
        graph = entry.fill if first else entry.cached
        if graph is not None:
            replay, out = graph
            with _on(out.device):
                replay()
            return out.clone()  # the next replay overwrites ``out``
        if first:
            eager = TextContextCache(entry.context)
            result = entry.forward(eager)
            entry.fill = self._record(lambda: entry.forward(entry.cache, fill=True), x.device)
            entry.cache.copy_(eager)  # the captured forward ran nothing: its cache tensors hold no values yet
        else:
            result = entry.forward(entry.cache)
            entry.cached = self._record(lambda: entry.forward(entry.cache), x.device)
        return result

    def _record(self, fn: Callable[[], Tensor], device: torch.device) -> tuple[Replay, Tensor]:
        cuda = device.type == "cuda"
        with _on(device):
            before = torch.cuda.memory_reserved(device) if cuda else 0
            replay, out, self._pools[device] = self._capture(fn, self._pools.get(device))
            if cuda:
                self.pool_bytes += max(0, torch.cuda.memory_reserved(device) - before)
        return replay, out
