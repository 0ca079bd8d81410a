"""Scenes of the synthetic world: one object of a shape and colour moving in a straight line across a plain
background, and the fixed split of (colour, shape, direction) combinations into training and held-out.

A Scene is pure description (words and fractions of the frame); ``render.py`` turns scenes into pixels at
any size. Every random draw takes a ``torch.Generator`` so the same seed gives the same scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .vocabulary import BACKGROUNDS, COLOURS, DIRECTIONS, SHAPES, compatible_backgrounds

Combination = tuple[str, str, str]  # (colour, shape, direction)

RADIUS_RANGE = (0.10, 0.15)  # object half-size, fraction of min(H, W)
TRAVEL_RANGE = (0.35, 0.50)  # distance covered over the clip, fraction of the frame along the motion
# Gap kept between the object's bounding box and the frame edge at every frame, fraction of the frame, so
# the border pixels an analyser reads are pure background: the ~1 px anti-aliased edge reaches 0.5 px past
# the box, so the outermost pixel row stays clean whenever the gap is >= 1 px (min(H, W) >= 34).
EDGE_MARGIN = 0.03

# Held-out rule: (colour index + 3 * shape index + 5 * direction index) % 7 == 3, indices in vocabulary
# order. It holds out 19 of 128 combinations (15%), at most one per (colour, shape) pair, so every pair of
# words is still seen in training; it is arithmetic rather than a seeded draw so no torch version can move it.
_HELD_OUT_WEIGHTS = (1, 3, 5)
_HELD_OUT_MODULUS = 7
_HELD_OUT_REMAINDER = 3


@dataclass(frozen=True)
class Scene:
    """One clip's content.

    start is the object's bounding-box centre at frame 0 as (x / W, y / H); the centre at frame t of T is
    ``start + travel * DIRECTIONS[direction] * t / (T - 1)``. radius is the half-size of the bounding box as a
    fraction of min(H, W), so shapes keep their proportions on non-square frames.
    """

    shape: str
    colour: str
    direction: str
    background: str | None  # a BACKGROUNDS name; None = DEFAULT_BACKGROUND (the caption names none)
    radius: float
    start: tuple[float, float]
    travel: float

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; known shapes: {', '.join(SHAPES)}")
        if self.colour not in COLOURS:
            raise ValueError(f"unknown colour {self.colour!r}; known colours: {', '.join(COLOURS)}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {self.direction!r}; known: {', '.join(DIRECTIONS)}")
        if self.background is not None and self.background not in BACKGROUNDS:
            raise ValueError(
                f"unknown background {self.background!r}; known: {', '.join(BACKGROUNDS)} or None (default)"
            )
        if not 0.0 < self.radius < 0.5:
            raise ValueError(f"radius must be in (0, 0.5) as a fraction of min(H, W) (got {self.radius})")

    @property
    def combination(self) -> Combination:
        return (self.colour, self.shape, self.direction)


def all_combinations() -> list[Combination]:
    """Every (colour, shape, direction), sorted."""
    return sorted((c, s, d) for c in COLOURS for s in SHAPES for d in DIRECTIONS)


def _is_held_out(colour: str, shape: str, direction: str) -> bool:
    indices = (list(COLOURS).index(colour), SHAPES.index(shape), list(DIRECTIONS).index(direction))
    weighted = sum(w * i for w, i in zip(_HELD_OUT_WEIGHTS, indices, strict=True))
    return weighted % _HELD_OUT_MODULUS == _HELD_OUT_REMAINDER


def held_out_combinations() -> list[Combination]:
    """The fixed ~15% of combinations never shown in training (evaluation prompts come from here), sorted."""
    return [combo for combo in all_combinations() if _is_held_out(*combo)]


def training_combinations() -> list[Combination]:
    """All combinations except the held-out ones, sorted."""
    return [combo for combo in all_combinations() if not _is_held_out(*combo)]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=generator, device=generator.device).item()


def _randint(generator: torch.Generator, n: int) -> int:
    return int(torch.randint(n, (), generator=generator, device=generator.device).item())


def sample_scene(
    generator: torch.Generator,
    *,
    combinations: Sequence[Combination] | None = None,
    background_prob: float = 0.5,
) -> Scene:
    """A random scene whose object stays fully inside the frame (plus EDGE_MARGIN) for the whole clip.

    combinations: restrict (colour, shape, direction) to these (the trainer passes training_combinations());
    None = all. background_prob: chance that the scene names a background (uniform over those the colour
    is drawable on); otherwise background is None (DEFAULT_BACKGROUND).

    The start is drawn in fractions of the frame for a square frame; on a non-square frame the object's
    extent along the longer side is a smaller fraction, so it stays inside there too.
    """
    if not 0.0 <= background_prob <= 1.0:
        raise ValueError(f"background_prob must be in [0, 1] (got {background_prob})")
    pool = list(all_combinations() if combinations is None else combinations)
    if not pool:
        raise ValueError("combinations is empty; pass None for all, or training_combinations()")
    colour, shape, direction = pool[_randint(generator, len(pool))]
    # Validates the words before any further draw.
    Scene(shape, colour, direction, None, RADIUS_RANGE[0], (0.5, 0.5), 0.0)

    background = None
    if _uniform(generator, 0.0, 1.0) < background_prob:
        options = compatible_backgrounds(colour)
        background = options[_randint(generator, len(options))]

    radius = _uniform(generator, *RADIUS_RANGE)
    travel = _uniform(generator, *TRAVEL_RANGE)
    step_x, step_y = DIRECTIONS[direction]
    lo = radius + EDGE_MARGIN
    hi = 1.0 - radius - EDGE_MARGIN

    def axis_start(step: int) -> float:
        # The whole path [start, start + travel * step] must lie in [lo, hi].
        if step > 0:
            return _uniform(generator, lo, hi - travel)
        if step < 0:
            return _uniform(generator, lo + travel, hi)
        return _uniform(generator, lo, hi)

    start = (axis_start(step_x), axis_start(step_y))
    return Scene(shape, colour, direction, background, radius, start, travel)
