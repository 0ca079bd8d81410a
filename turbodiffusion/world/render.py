"""Render scenes to video tensors: analytic shapes on a pixel-centre grid, vectorised over batch, frames
and pixels, on any device.

Each shape is a signed distance (pixels, negative inside) from the object's bounding-box centre; coverage
is ``clamp(0.5 - distance, 0, 1)``, a ~1 px anti-aliased edge. The frame is the background colour blended
with the object colour by coverage.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .scenes import Combination, Scene, sample_scene
from .vocabulary import BACKGROUNDS, COLOURS, DEFAULT_BACKGROUND, DIRECTIONS, SHAPES

_SQRT2 = math.sqrt(2.0)
_SQRT5 = math.sqrt(5.0)


def _signed_distance(shape: str, dx: Tensor, dy: Tensor, r: Tensor) -> Tensor:
    """Signed distance in pixels to the outline of ``shape`` (half-size r) centred at the origin.

    dx: [n, T, 1, W], dy: [n, T, H, 1], r: [n, 1, 1, 1], all float32. Returns [n, T, H, W].
    """
    if shape == "circle":
        return torch.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return torch.maximum(dx.abs(), dy.abs()) - r
    if shape == "diamond":
        # |x| + |y| = r; dividing by sqrt(2) makes it a euclidean distance near the edges.
        return (dx.abs() + dy.abs() - r) / _SQRT2
    if shape == "triangle":
        # Upward-pointing, base 2r at y = +r, apex at (0, -r): the slanted sides are 2|x| = y + r, whose
        # unit normals give the 1/sqrt(5). The max of the three half-plane distances is exact inside and
        # near the edges, which is all the anti-aliasing reads.
        sides = (2.0 * dx.abs() - dy - r) / _SQRT5
        return torch.maximum(sides, dy - r)
    raise ValueError(f"unknown shape {shape!r}; known shapes: {', '.join(SHAPES)}")


def _background_rgb(scene: Scene) -> tuple[int, int, int]:
    return DEFAULT_BACKGROUND if scene.background is None else BACKGROUNDS[scene.background]


def render(
    scenes: list[Scene], num_frames: int, height: int, width: int, *, device: str | torch.device = "cpu"
) -> Tensor:
    """Render B scenes as videos.

    Returns [B, 3, T, H, W] float32 in [-1, 1] on ``device`` (the VAE's input convention: pixel / 127.5 - 1).
    The object's bounding-box centre at frame t is ``start + travel * direction * t / (T - 1)`` in fractions of
    (W, H); a single frame shows the start.
    """
    if not scenes:
        raise ValueError("scenes is empty; pass at least one Scene")
    if num_frames < 1 or height < 1 or width < 1:
        raise ValueError(f"num_frames, height and width must be >= 1 (got {num_frames}, {height}, {width})")
    device = torch.device(device)
    f32 = dict(dtype=torch.float32, device=device)
    # Per-scene parameters, [B] each (a loop over scenes only; the pixels are computed in one go below).
    start_x = torch.tensor([s.start[0] for s in scenes], **f32)
    start_y = torch.tensor([s.start[1] for s in scenes], **f32)
    travel = torch.tensor([s.travel for s in scenes], **f32)
    step_x = torch.tensor([DIRECTIONS[s.direction][0] for s in scenes], **f32)
    step_y = torch.tensor([DIRECTIONS[s.direction][1] for s in scenes], **f32)
    radius = torch.tensor([s.radius for s in scenes], **f32) * min(height, width)
    colour = torch.tensor([COLOURS[s.colour] for s in scenes], **f32)  # [B, 3], 0-255
    background = torch.tensor([_background_rgb(s) for s in scenes], **f32)  # [B, 3]

    progress = torch.arange(num_frames, **f32) / max(num_frames - 1, 1)  # [T], 0 -> 1
    centre_x = (start_x[:, None] + travel[:, None] * step_x[:, None] * progress) * width  # [B, T] pixels
    centre_y = (start_y[:, None] + travel[:, None] * step_y[:, None] * progress) * height
    xs = torch.arange(width, **f32) + 0.5  # pixel centres
    ys = torch.arange(height, **f32) + 0.5
    dx = xs.view(1, 1, 1, width) - centre_x[:, :, None, None]  # [B, T, 1, W]
    dy = ys.view(1, 1, height, 1) - centre_y[:, :, None, None]  # [B, T, H, 1]

    coverage = torch.empty(len(scenes), num_frames, height, width, **f32)
    shapes = [s.shape for s in scenes]
    for shape in SHAPES:  # at most four passes, each over the scenes of one shape
        idx = [i for i, name in enumerate(shapes) if name == shape]
        if not idx:
            continue
        index = torch.tensor(idx, device=device)
        distance = _signed_distance(shape, dx[index], dy[index], radius[index].view(-1, 1, 1, 1))
        coverage[index] = (0.5 - distance).clamp_(0.0, 1.0)

    alpha = coverage.unsqueeze(1)  # [B, 1, T, H, W]
    video = torch.lerp(background.view(-1, 3, 1, 1, 1), colour.view(-1, 3, 1, 1, 1), alpha)
    return video / 127.5 - 1.0


def to_uint8_frames(video: Tensor) -> Tensor:
    """[3, T, H, W] float in [-1, 1] -> [T, H, W, 3] uint8 (rounded, clamped), on the input's device."""
    if video.dim() != 4 or video.shape[0] != 3:
        raise ValueError(
            f"video must be [3, T, H, W] (got shape {tuple(video.shape)}); index one clip of a batch"
        )
    pixels = ((video.float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
    return pixels.permute(1, 2, 3, 0).contiguous()


def sample_clips(
    batch: int,
    num_frames: int,
    height: int,
    width: int,
    generator: torch.Generator,
    *,
    device: str | torch.device = "cpu",
    combinations: list[Combination] | None = None,
    background_prob: float = 0.5,
) -> tuple[Tensor, list[Scene]]:
    """``batch`` random scenes (see sample_scene) and their videos [B, 3, T, H, W] float32 in [-1, 1] on
    ``device``. The scenes are drawn from ``generator`` (any device), so the same seed gives the same clips."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1 (got {batch})")
    scenes = [
        sample_scene(generator, combinations=combinations, background_prob=background_prob)
        for _ in range(batch)
    ]
    return render(scenes, num_frames, height, width, device=device), scenes
