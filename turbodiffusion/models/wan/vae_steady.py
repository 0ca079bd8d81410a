"""The VAE encoder on a clip whose last frames repeat: each stage computes a repeated frame once.

Wan's I2V conditioning encodes [image, 80 zero frames]. Every stage of the encoder is causal in time and
reaches a fixed number of frames into its input's past:
- a 3-tap causal convolution's output frame t reads input frames t-2..t;
- a residual block's reads t-4..t (two of them in a row);
- a per-frame layer (norm, attention, spatial resample) reads frame t alone;
- the temporal downsample's output k (k >= 1) reads frames 2k-2..2k, and its output 0 is frame 0.

So when a stage's input frames are all equal from frame s on, its output frames are all equal from
``steady_output_start(stage, s)`` on: each of them is the same function of the same frames. For
[image, zeros] at 81 frames the Wan2.1 encoder's full-resolution stages turn steady at frame 3-11 (of 81),
the half-resolution ones at 15-19 (of 81), the quarter-resolution ones at 11-19 (of 41 after the first
temporal downsample), the eighth-resolution ones at 11-19 (of 21); the middle and the head never (23-29).

``SteadyTail`` runs the encoder's stages on such a clip chunk by chunk. For each chunk and stage it
computes the output frames before the stage's steady start, plus the first steady one, which it keeps;
the rest of the chunk is that kept frame (``Frames``). A stage whose whole chunk is steady computes
nothing, and the stages before the last such one are never run again. The stages' chunk caches stay
right: a stage that computes only part of a chunk never computes again (its later frames are all steady).

Exact in exact arithmetic; in floating point the kept frame stands for frames a convolution would have
computed at other positions of a chunk, which can round differently (as other chunkings do).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .vae_blocks import AttentionBlock, CausalConv3d, ChunkCache, Resample, ResidualBlock
from .vae_layout import memory_format_of


def steady_start(video: Tensor) -> int:
    """The first frame index s such that frames s..T-1 of ``video`` [B, C, T, H, W] all equal frame T-1
    exactly (every batch item, channel and pixel). T - 1 when only the last frame qualifies; T when the last
    frame is not equal to itself (a NaN). Costs one pass over the clip and one device-to-host read."""
    t = video.shape[2]
    same = (video == video[:, :, -1:]).all(dim=4).all(dim=3).all(dim=1).all(dim=0)  # [T] bool
    trailing = torch.flip(same, dims=[0]).int().cumprod(dim=0).sum()
    return t - int(trailing)


def _reach(stage: nn.Module) -> int:
    """Frames of input past a stride-1 stage's output frame reads (its causal convolutions' contexts in a
    row; a residual block's shortcut reaches less than its residual path)."""
    if isinstance(stage, CausalConv3d):
        if stage.stride[0] != 1:
            raise TypeError(f"no steady-tail rule for a temporally strided {type(stage).__name__}")
        return stage.context
    if isinstance(stage, ResidualBlock):
        shortcut = stage.shortcut.context if isinstance(stage.shortcut, CausalConv3d) else 0
        return max(_reach(stage.residual), shortcut)
    if isinstance(stage, nn.Sequential):
        return sum(_reach(m) for m in stage if isinstance(m, CausalConv3d))
    if isinstance(stage, AttentionBlock) or (isinstance(stage, Resample) and stage.mode == "downsample2d"):
        return 0
    raise TypeError(f"no steady-tail rule for {type(stage).__name__}")


def _halves_time(stage: nn.Module) -> bool:
    if isinstance(stage, Resample) and stage.mode in ("upsample2d", "upsample3d"):
        raise TypeError(f"no steady-tail rule for an {stage.mode} Resample (the decoder's)")
    return isinstance(stage, Resample) and stage.mode == "downsample3d"


def steady_output_start(stage: nn.Module, start: int) -> int:
    """The first output frame from which ``stage``'s output frames are all equal, when its input frames are
    all equal from ``start`` on. The temporal downsample's output k >= 1 reads input frames 2k-2..2k;
    a stride-1 stage's output t reads frames t - reach..t (zeros before frame 0, so never steady earlier)."""
    if _halves_time(stage):
        return 1 + (start + 1) // 2
    return start + _reach(stage)


def output_frames(stage: nn.Module, first: int, count: int) -> tuple[int, int]:
    """(first, count) of the output frames ``stage`` gives for input frames [first, first + count) of a
    chunk. The temporal downsample passes its first chunk (frame 0) through and halves later ones, which
    start at an odd frame with an even count (the encoder's chunks: 1, then 4k frames)."""
    if not _halves_time(stage) or first == 0:
        return first, count
    if first % 2 == 0 or count % 2:
        raise ValueError(
            f"a temporal downsample takes chunks at odd frames with an even count (got frames {first} "
            f"to {first + count - 1})"
        )
    return (first + 1) // 2, count // 2


def input_frames(stage: nn.Module, first: int, outputs: int) -> int:
    """How many of a chunk's first input frames (from frame ``first``) give its first ``outputs``."""
    return 2 * outputs if _halves_time(stage) and first > 0 else outputs


@dataclass
class Frames:
    """A chunk of ``count`` frames: ``head``'s frames [B, C, n, H, W] (n <= count), then ``count - n``
    copies of ``tail`` [B, C, 1, H, W] (None when n == count)."""

    head: Tensor | None
    tail: Tensor | None
    count: int

    @property
    def computed(self) -> int:
        return 0 if self.head is None else self.head.shape[2]

    def first(self, n: int) -> Tensor:
        """The chunk's first n frames as one tensor [B, C, n, H, W], in the memory format of its parts."""
        if n <= self.computed:
            return self.head[:, :, :n]
        if self.tail is None:
            raise ValueError(f"asked for {n} frames of a chunk that holds {self.computed}")
        b, c, _, h, w = self.tail.shape
        out = torch.empty(
            (b, c, n, h, w), dtype=self.tail.dtype, device=self.tail.device,
            memory_format=memory_format_of(self.tail),
        )  # fmt: skip
        if self.computed:
            out[:, :, : self.computed].copy_(self.head)
        out[:, :, self.computed :].copy_(self.tail.expand(b, c, n - self.computed, h, w))
        return out


StageRunner = Callable[[nn.Module, Tensor, ChunkCache], Tensor]


class SteadyTail:
    """Runs ``stages`` (in order, each called as ``run(stage, x, cache)``) over a clip chunk by chunk, with
    its frames all equal from frame ``start`` on (``steady_start``). One instance per clip, like its cache.
    """

    def __init__(self, stages: Sequence[nn.Module], run: StageRunner, start: int) -> None:
        self.stages = list(stages)
        self.run = run
        self.steady: list[int] = []
        for stage in self.stages:
            start = steady_output_start(stage, start)
            self.steady.append(start)
        self.kept: list[Tensor | None] = [None] * len(self.stages)
        self.retired = 0  # stages below this index never run again

    def __call__(self, chunk: Tensor, first: int, cache: ChunkCache) -> Frames:
        """chunk [B, C, t, H, W]: the clip's frames [first, first + t). Returns the last stage's output for
        it, its steady frames as the kept one."""
        spans = []
        count = chunk.shape[2]
        for stage in self.stages:
            out_first, out_count = output_frames(stage, first, count)
            spans.append((first, out_first, out_count))
            first, count = out_first, out_count
        start = self.retired
        for i in range(len(self.stages) - 1, self.retired - 1, -1):
            if self.kept[i] is not None and spans[i][1] >= self.steady[i]:
                start = i + 1  # stage i's whole chunk is its kept frame: nothing before it is needed
                break
        for i in range(self.retired, max(start - 1, self.retired)):
            self.kept[i] = None
        self.retired = max(self.retired, start - 1)
        frames = (
            Frames(chunk, None, chunk.shape[2])
            if start == 0
            else Frames(None, self.kept[start - 1], spans[start - 1][2])
        )
        for i in range(start, len(self.stages)):
            stage = self.stages[i]
            in_first, out_first, out_count = spans[i]
            todo = self._todo(i, out_first, out_count)
            x = frames.first(input_frames(stage, in_first, todo))
            # Where x is a filled copy, the computed frames it was filled from can go before the stage runs.
            frames = None
            y = self.run(stage, x, cache)
            del x
            if y.shape[2] != todo:
                raise RuntimeError(
                    f"stage {i} ({type(stage).__name__}) gave {y.shape[2]} frames, expected {todo}"
                )
            if self.kept[i] is None and out_first + todo - 1 >= self.steady[i]:
                self.kept[i] = y[:, :, -1:].clone()
            frames = Frames(y, self.kept[i] if todo < out_count else None, out_count)
        return frames

    def _todo(self, i: int, out_first: int, out_count: int) -> int:
        """How many of stage i's first output frames of a chunk [out_first, out_first + out_count) to compute:
        those before its steady start, and the first steady one unless it is kept already."""
        steady = self.steady[i]
        if steady >= out_first + out_count:
            return out_count  # no steady frame in this chunk
        return min(out_count, max(steady - out_first, 0) + (1 if self.kept[i] is None else 0))
