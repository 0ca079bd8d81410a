"""The words of the synthetic world: object shapes, object colours, motion directions and plain backgrounds.

Everything here is data (tuples and dicts filled once at import, never mutated) plus two small rules:
which background an object colour may be drawn on, and which background a caption's absence means.
Colours are saturated and far apart in RGB so a frame analyser can name them under noise and blur.
"""

from __future__ import annotations

import math

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")

# Object colours, RGB 0-255. Every pair is at least ~85 apart (orange-yellow is the closest pair).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 200, 30),
    "blue": (40, 70, 230),
    "yellow": (240, 220, 30),
    "purple": (150, 40, 200),
    "orange": (255, 140, 0),
    "white": (245, 245, 245),
    "cyan": (0, 210, 220),
}

# Unit steps in image coordinates: x grows to the right, y grows downwards.
DIRECTIONS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}

# Plain backgrounds a caption may name. No "black": it would sit too close to DEFAULT_BACKGROUND for an
# analyser (or a viewer) to tell "no background named" from "black background".
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "navy": (0, 0, 128),
    "beige": (225, 205, 160),
    "pink": (255, 120, 200),
    "teal": (0, 128, 128),
    "olive": (128, 128, 0),
}

# The plain background of a caption that names none (the issue: "a prompt that names no background gets a
# plain uniform one").
DEFAULT_BACKGROUND: tuple[int, int, int] = (32, 32, 32)

# An object is never drawn on a background closer than this (euclidean RGB distance, 0-255 scale): the
# object must stand out clearly enough to be segmented after noise, blur and VAE reconstruction.
MIN_CONTRAST = 100.0


def rgb_distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """Euclidean distance between two RGB triples on the 0-255 scale."""
    return math.dist(a, b)


def is_drawable(colour: str, background: str | None) -> bool:
    """Whether a ``colour`` object may be drawn on ``background`` (a BACKGROUNDS name, None = default)."""
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; known colours: {', '.join(COLOURS)}")
    if background is None:
        bg = DEFAULT_BACKGROUND
    elif background in BACKGROUNDS:
        bg = BACKGROUNDS[background]
    else:
        raise ValueError(f"unknown background {background!r}; known backgrounds: {', '.join(BACKGROUNDS)}")
    return rgb_distance(COLOURS[colour], bg) >= MIN_CONTRAST


def compatible_backgrounds(colour: str) -> tuple[str, ...]:
    """The BACKGROUNDS names a ``colour`` object may be drawn on, in BACKGROUNDS order."""
    return tuple(name for name in BACKGROUNDS if is_drawable(colour, name))
