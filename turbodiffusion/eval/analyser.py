"""Read a synthetic-world video back into words: object colour, shape, direction of motion, background.

The analyser only assumes what the world promises: a plain background (estimated from the border pixels,
which the object never touches) and one object of a saturated colour. Steps, all vectorised over frames:

1. Background: per-channel median of every frame's border pixels; "uniform" when most border pixels sit
   within the noise threshold of it; named by the nearest plain colour (DEFAULT_BACKGROUND = "default").
2. Object mask: pixels farther from the background than a threshold set from the border's noise, cleaned
   by a 3x3 majority filter (drops isolated noise pixels). Object colour: median of the mask's interior.
3. Coverage (~[0, 1]): each pixel projected on the background -> object colour line, kept within 2 px of
   the mask. Sums of coverage survive blur, so areas and centroids are sub-pixel and blur-robust.
4. Shape per frame: fill = area / (box width x box height), the box measured by the max of the (stretched)
   coverage along each row and column; square ~1, circle ~pi/4, diamond and triangle ~1/2, the two told apart
   by where the centroid sits in the box (a third of the half-height low for the upward triangle). Frames
   vote.
5. Direction: least-squares slope of the centroid over the frames, as a fraction of the frame; the
   dominant axis and its sign, or None when the object travels less than MIN_TRAVEL of the frame.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..world.captions import PromptSpec
from ..world.vocabulary import BACKGROUNDS, COLOURS, DEFAULT_BACKGROUND

# Noise threshold on the RGB distance to the background (0-255 scale): at least this, and at least
# NOISE_SIGMAS x the border's estimated per-pixel noise norm. Half of MIN_CONTRAST (100) keeps every
# drawable object well above it.
MIN_MASK_DISTANCE = 45.0
NOISE_SIGMAS = 4.0
# A background is "uniform" when its per-pixel noise norm is at most this (std 10 per channel gives ~17) and
# UNIFORM_FRACTION of the border pixels lie within the mask threshold of its median.
MAX_BACKGROUND_NOISE = 30.0
UNIFORM_FRACTION = 0.85
# The estimated background must be this close to a plain colour to be named: under half the closest pair
# (beige-pink, 99), so a name is never ambiguous.
BACKGROUND_TOLERANCE = 45.0
# A frame shows the object when its coverage is between these fractions of min(H, W)^2 (the smallest
# object, radius 0.10, covers 0.02; the largest square, radius 0.15, covers 0.09).
MIN_AREA = 0.006
MAX_AREA = 0.25
MIN_VISIBLE_FRAMES = 0.5  # visible when at least this share of frames shows the object
# Shape thresholds on fill (ideal 1/2 for diamond and triangle, pi/4 circle, 1 square) and on the centroid's
# offset below the box centre as a fraction of the box height (ideal 1/6 triangle, 0 diamond). Set between
# the ranges measured on renders with noise (std 10) and a 3x3 blur at 40-256 px: blur rounds the tips, so
# diamonds and triangles read up to ~0.65 at 64 px and triangles' offsets drop to ~0.07 at 40 px, while
# circles stay within 0.75-0.83 and squares above 0.89.
FILL_SQUARE = 0.86
FILL_CIRCLE = 0.68
TRIANGLE_OFFSET = 0.06
NOISE_STRETCH_SIGMAS = 3.0  # see the box measurement in analyse()
MAX_STRETCH = 0.3
MIN_TRAVEL = 0.1  # fraction of the frame; the world's objects travel 0.35-0.5

_PLAIN = {"default": DEFAULT_BACKGROUND, **BACKGROUNDS}


@dataclass(frozen=True)
class Analysis:
    """What a video shows. Fields are vocabulary words, or None when they cannot be read.

    background: "default" (DEFAULT_BACKGROUND), a BACKGROUNDS name, or None when the border is not uniform
    or matches no plain colour. visible: whether one object was found in enough frames.
    """

    colour: str | None
    shape: str | None
    direction: str | None
    background: str | None
    visible: bool


def _border(frames: Tensor) -> Tensor:
    """frames [T, H, W, 3] float -> border pixels [N, 3]."""
    return torch.cat([frames[:, 0], frames[:, -1], frames[:, 1:-1, 0], frames[:, 1:-1, -1]], dim=1).reshape(
        -1, 3
    )


def _nearest(rgb: Tensor, table: dict[str, tuple[int, int, int]]) -> tuple[str, float]:
    names = list(table)
    colours = torch.tensor([table[n] for n in names], dtype=torch.float32)
    distances = (colours - rgb).norm(dim=1)
    best = int(distances.argmin())
    return names[best], float(distances[best])


def _shape_of(fill: float, offset: float) -> str:
    if fill >= FILL_SQUARE:
        return "square"
    if fill >= FILL_CIRCLE:
        return "circle"
    return "triangle" if offset >= TRIANGLE_OFFSET else "diamond"


def _direction_of(centre_x: Tensor, centre_y: Tensor, frame_index: Tensor, num_frames: int) -> str | None:
    """Dominant axis and sign of the centroid's travel over the clip (least-squares slope x (T - 1)).

    centre_x, centre_y: [n] float32 in fractions of (W, H) for the frames ``frame_index`` [n] that show the
    object. None when fewer than two frames show it or it travels less than MIN_TRAVEL.
    """
    if frame_index.numel() < 2:
        return None
    t = frame_index.float() - frame_index.float().mean()
    denom = float((t * t).sum())
    travel_x = float((t * centre_x).sum()) / denom * (num_frames - 1)
    travel_y = float((t * centre_y).sum()) / denom * (num_frames - 1)
    if max(abs(travel_x), abs(travel_y)) < MIN_TRAVEL:
        return None
    if abs(travel_x) >= abs(travel_y):
        return "right" if travel_x > 0 else "left"
    return "down" if travel_y > 0 else "up"


def analyse(frames: Tensor) -> Analysis:
    """Analyse one video: frames [T, H, W, 3] uint8 (RGB, any device; computed in float32 on it)."""
    if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
        raise ValueError(
            f"frames must be uint8 [T, H, W, 3] (got {frames.dtype} {tuple(frames.shape)}); "
            "use world.render.to_uint8_frames for a [3, T, H, W] float video"
        )
    num_frames, height, width, _ = frames.shape
    if height < 8 or width < 8:
        raise ValueError(f"frames must be at least 8x8 pixels (got {height}x{width})")
    video = frames.float()

    # 1. Background from the border, and the noise around it.
    border = _border(video)
    background = border.median(dim=0).values  # [3]
    sigma = 1.4826 * (border - background).abs().median(dim=0).values  # robust per-channel noise std
    threshold = max(MIN_MASK_DISTANCE, NOISE_SIGMAS * float(sigma.norm()))
    noise = float(sigma.norm())
    close = float(((border - background).norm(dim=1) < threshold).float().mean())
    uniform = noise <= MAX_BACKGROUND_NOISE and close >= UNIFORM_FRACTION
    name, gap = _nearest(background.cpu(), _PLAIN)
    background_name = name if uniform and gap <= BACKGROUND_TOLERANCE else None
    invisible = Analysis(None, None, None, background_name, visible=False)
    if not uniform:
        return invisible  # nothing to segment against

    # 2. Object mask and colour.
    distance = (video - background).norm(dim=-1)  # [T, H, W]
    raw = (distance > threshold).float().unsqueeze(1)  # [T, 1, H, W]
    mask = F.avg_pool2d(raw, 3, stride=1, padding=1, count_include_pad=False) > 0.5
    core = -F.max_pool2d(-mask.float(), 3, stride=1, padding=1) > 0.5  # eroded: away from blended edges
    core_pixels = video[core[:, 0]]
    if core_pixels.shape[0] < 4:
        core_pixels = video[mask[:, 0]]
    if core_pixels.shape[0] < 4:
        return invisible
    object_rgb = core_pixels.median(dim=0).values  # [3]
    colour, _ = _nearest(object_rgb.cpu(), COLOURS)

    # 3. Coverage: projection on the background -> object line, near the mask only. Left unclamped for sums
    # (area, centroid): zero-mean noise then averages out instead of being clipped into a bias.
    line = object_rgb - background
    coverage = (video - background) @ line / line.dot(line).clamp_min(1.0)  # [T, H, W]
    near = F.max_pool2d(mask.float(), 5, stride=1, padding=2)[:, 0] > 0.5
    coverage = coverage * near
    # For the box, stretch [k, 1 - k] to [0, 1] with k three standard deviations of the border's noise as seen
    # through the projection: background noise drops to exactly 0 and interior noise to exactly 1, so
    # row/column maxima measure the box, not the noise (a blurred edge is a ramp symmetric about 0.5, whose
    # sum the stretch keeps). A clean video gets k = 0 and an exact box.
    projected_noise = float((sigma * line).norm() / line.dot(line).clamp_min(1.0))
    k = min(NOISE_STRETCH_SIGMAS * projected_noise, MAX_STRETCH)
    solid = ((coverage - k) / (1.0 - 2.0 * k)).clamp(0.0, 1.0)

    # 4. Per-frame geometry.
    side = min(height, width)
    area = coverage.sum(dim=(1, 2))  # [T]
    shown = (area >= MIN_AREA * side * side) & (area <= MAX_AREA * side * side)
    if float(shown.float().mean()) < MIN_VISIBLE_FRAMES:
        return invisible
    coverage, solid, area = coverage[shown], solid[shown], area[shown]
    ys = torch.arange(height, device=video.device, dtype=torch.float32) + 0.5
    xs = torch.arange(width, device=video.device, dtype=torch.float32) + 0.5
    rows = solid.amax(dim=2)  # [n, H]: the box's vertical extent, soft
    cols = solid.amax(dim=1)  # [n, W]
    box_h, box_w = rows.sum(1).clamp_min(1.0), cols.sum(1).clamp_min(1.0)
    box_y = (rows * ys).sum(1) / box_h
    centre_x = (coverage.sum(1) * xs).sum(1) / area
    centre_y = (coverage.sum(2) * ys).sum(1) / area
    fill = area / (box_h * box_w)
    offset = (centre_y - box_y) / box_h
    votes = Counter(_shape_of(f, o) for f, o in zip(fill.tolist(), offset.tolist(), strict=True))
    shape = votes.most_common(1)[0][0]

    # 5. Motion.
    frame_index = torch.arange(num_frames, device=video.device)[shown]
    direction = _direction_of(centre_x / width, centre_y / height, frame_index, num_frames)
    return Analysis(colour, shape, direction, background_name, visible=True)


def score(analysis: Analysis, spec: PromptSpec) -> dict[str, bool]:
    """Which attributes of the prompt the video shows: colour, shape, direction, background (the named one,
    or "default" when the prompt names none); object (the object visible with colour, shape and direction
    right: the issue's adherence) and all (object and background)."""
    result = {
        "colour": analysis.colour == spec.colour,
        "shape": analysis.shape == spec.shape,
        "direction": analysis.direction == spec.direction,
        "background": analysis.background == (spec.background or "default"),
    }
    object_right = analysis.visible and result["colour"] and result["shape"] and result["direction"]
    result["object"] = object_right
    result["all"] = object_right and result["background"]
    return result


def describe(analysis: Analysis) -> str:
    """One line for logs: "red circle moving right on default" or "no object (background navy)"."""
    if not analysis.visible:
        return f"no object (background {analysis.background})"
    return f"{analysis.colour} {analysis.shape} moving {analysis.direction} on {analysis.background}"
