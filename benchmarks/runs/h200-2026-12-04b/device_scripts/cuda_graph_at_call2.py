"""Frozen record (not imported by anything): the ``GraphedCall`` that call 2 and call 4 ran inside the
pipeline (``turbodiffusion/pipelines/cuda_graph.py`` in the working tree then, default on for CUDA, wired into
``denoise.sample_latent`` for the rCM sampler: per context, ``GraphedCall(lambda x, t: model(x, t, cache,
y))``). Removed before commit on those calls' result: capturing at the second step cost 0.11-0.21 s more
than an eager step, and the two replays after it saved at most 0.02 s each (README.md, calls 2 and 4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

Capture = Callable[[Callable[[], Tensor]], tuple[Callable[[], None], Tensor]]


def cuda_capture(run: Callable[[], Tensor]) -> tuple[Callable[[], None], Tensor]:
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = run()
    return graph.replay, out


def _signature(tensors: tuple[Tensor, ...]) -> tuple:
    return tuple((t.shape, t.dtype, t.device) for t in tensors)


class GraphedCall:
    """fn(*tensors) -> Tensor: call 1 eager, call 2 captured on static copies of its inputs and replayed,
    later calls copy in and replay; other shapes run eagerly; a failed capture warns and stays eager."""

    def __init__(self, fn: Callable[..., Tensor], *, capture: Capture = cuda_capture) -> None:
        self.fn = fn
        self._capture = capture
        self.calls = 0
        self.replays = 0
        self.failed: str | None = None
        self._static: tuple[Tensor, ...] | None = None
        self._replay: Callable[[], None] | None = None
        self._out: Tensor | None = None

    def __call__(self, *inputs: Tensor) -> Tensor:
        self.calls += 1
        if self.calls == 1 or self.failed is not None:
            return self.fn(*inputs)
        if self._replay is None:
            static = tuple(t.clone() for t in inputs)
            try:
                self._replay, self._out = self._capture(lambda: self.fn(*static))
            except RuntimeError as err:
                self.failed = str(err).splitlines()[0] if str(err) else type(err).__name__
                logger.warning("CUDA graph capture failed, sampling continues eagerly: %s", self.failed)
                return self.fn(*inputs)
            self._static = static
        elif _signature(inputs) != _signature(self._static):
            return self.fn(*inputs)
        for dst, src in zip(self._static, inputs, strict=True):
            dst.copy_(src)
        self._replay()
        self.replays += 1
        return self._out
