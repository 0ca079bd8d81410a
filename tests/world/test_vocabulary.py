"""The world's vocabulary: required words, colours far apart, and the colour/background drawability rule."""

from __future__ import annotations

import itertools

import pytest

from turbodiffusion.world.vocabulary import (
    BACKGROUNDS,
    COLOURS,
    DEFAULT_BACKGROUND,
    DIRECTIONS,
    MIN_CONTRAST,
    SHAPES,
    compatible_backgrounds,
    is_drawable,
    rgb_distance,
)


def test_required_words_present():
    assert {"circle", "square"} <= set(SHAPES)
    assert {"red", "green", "blue", "yellow"} <= set(COLOURS)
    assert DIRECTIONS == {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    assert len(COLOURS) == 8 and 6 <= len(BACKGROUNDS) <= 8


def test_object_colours_far_apart():
    closest = min(rgb_distance(COLOURS[a], COLOURS[b]) for a, b in itertools.combinations(COLOURS, 2))
    assert closest >= 80, closest


def test_backgrounds_distinct_from_each_other_and_the_default():
    plain = {**BACKGROUNDS, "default": DEFAULT_BACKGROUND}
    closest = min(rgb_distance(plain[a], plain[b]) for a, b in itertools.combinations(plain, 2))
    assert closest >= 90, closest


def test_every_colour_drawable_on_default_and_several_backgrounds():
    for colour in COLOURS:
        assert is_drawable(colour, None)
        assert rgb_distance(COLOURS[colour], DEFAULT_BACKGROUND) >= MIN_CONTRAST
        assert len(compatible_backgrounds(colour)) >= 3, colour


def test_incompatible_pairs_are_exactly_the_close_ones():
    for colour, background in itertools.product(COLOURS, BACKGROUNDS):
        close = rgb_distance(COLOURS[colour], BACKGROUNDS[background]) < MIN_CONTRAST
        assert is_drawable(colour, background) is not close
    assert not is_drawable("white", "white")


def test_unknown_words_raise():
    with pytest.raises(ValueError, match="known colours"):
        is_drawable("magenta", None)
    with pytest.raises(ValueError, match="known backgrounds"):
        is_drawable("red", "black")
