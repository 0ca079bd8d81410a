"""What a pipeline call returns: the frames, the settings that made them, and per-stage timings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor


@dataclass(frozen=True)
class GenerationSettings:
    """Every choice behind one video, so a run can be repeated from its output alone."""

    model: str  # preset name
    task: str  # "t2v" or "i2v"
    prompt: str
    image: bool  # whether an image conditioned the video (i2v)
    num_frames: int
    height: int
    width: int
    steps: int
    seed: int
    sampler: str  # "rcm", "unipc" or "euler"
    sigma_max: float | None  # rCM only
    shift: float | None  # baseline samplers only
    guidance: float | None  # baseline samplers only (classifier-free guidance scale)
    ode: bool  # rCM: deterministic steps instead of re-noising
    attention: str
    sla_topk: float | None  # sla / sagesla only
    quant: str | None  # "int8", "fp8-row", "fp8-row-fast" or None (float linears)
    dtype: str
    device: str
    offload: str | None  # None (off), "model" or "blocks"


@dataclass(frozen=True)
class StageTimings:
    """Wall-clock seconds per stage (the device is synchronised at every boundary)."""

    text_encoding: float
    image_encoding: float | None  # i2v only: VAE encode of the conditioning clip
    steps: tuple[float, ...]  # one entry per sampling step
    decode: float  # VAE decode + conversion to uint8 frames

    @property
    def sampling(self) -> float:
        return sum(self.steps)

    @property
    def total(self) -> float:
        return self.text_encoding + (self.image_encoding or 0.0) + self.sampling + self.decode

    def summary(self) -> str:
        """One line: ``text 0.12 s | image 0.30 s | steps 0.41+0.40+0.40+0.40 = 1.61 s | decode 0.9 s | total ...``."""
        parts = [f"text {self.text_encoding:.2f} s"]
        if self.image_encoding is not None:
            parts.append(f"image {self.image_encoding:.2f} s")
        each = "+".join(f"{t:.2f}" for t in self.steps)
        parts.append(f"steps {each} = {self.sampling:.2f} s")
        parts.append(f"decode {self.decode:.2f} s")
        parts.append(f"total {self.total:.2f} s")
        return " | ".join(parts)


@dataclass(frozen=True)
class VideoOutput:
    """A generated video.

    frames: [T, H, W, 3] uint8 on the CPU (RGB). fps: playback rate (16 for Wan).
    """

    frames: Tensor
    fps: int
    settings: GenerationSettings
    timings: StageTimings

    def save(self, path: str | os.PathLike) -> Path:
        """Write the video as H.264 mp4 (atomically; needs PyAV, the "video" extra). Returns the path."""
        from .video_io import write_mp4

        return write_mp4(self.frames, path, fps=self.fps)
