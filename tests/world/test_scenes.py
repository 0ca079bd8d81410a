"""Scenes: the training / held-out split and the scene sampler."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch

from turbodiffusion.world.scenes import (
    EDGE_MARGIN,
    RADIUS_RANGE,
    TRAVEL_RANGE,
    Scene,
    all_combinations,
    held_out_combinations,
    sample_scene,
    training_combinations,
)
from turbodiffusion.world.vocabulary import COLOURS, DIRECTIONS, SHAPES, compatible_backgrounds


def test_all_combinations_sorted_and_complete():
    combos = all_combinations()
    assert combos == sorted(combos)
    assert set(combos) == set(itertools.product(COLOURS, SHAPES, DIRECTIONS))
    assert len(combos) == len(COLOURS) * len(SHAPES) * len(DIRECTIONS)


def test_split_is_fixed_disjoint_and_about_15_percent():
    held, train = held_out_combinations(), training_combinations()
    assert held == held_out_combinations()  # deterministic
    assert not set(held) & set(train)
    assert sorted(held + train) == all_combinations()
    assert 0.12 <= len(held) / len(all_combinations()) <= 0.18


def test_every_word_and_pair_of_words_is_trained_on():
    train = training_combinations()
    for position, words in enumerate((COLOURS, SHAPES, DIRECTIONS)):
        counts = Counter(combo[position] for combo in train)
        assert min(counts[w] for w in words) >= 10, counts
    # Every (colour, shape), (colour, direction) and (shape, direction) pair is seen too, so a held-out
    # combination is a new triple of familiar pairs.
    for i, j in ((0, 1), (0, 2), (1, 2)):
        pairs = {(combo[i], combo[j]) for combo in train}
        assert pairs == {(combo[i], combo[j]) for combo in all_combinations()}


def test_held_out_covers_every_word():
    held = held_out_combinations()
    for position, words in enumerate((COLOURS, SHAPES, DIRECTIONS)):
        assert {combo[position] for combo in held} == set(words)


def test_sample_scene_deterministic_and_in_range():
    a = [sample_scene(torch.Generator().manual_seed(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    g = torch.Generator().manual_seed(8)
    scenes = [sample_scene(g) for _ in range(400)]
    assert len(set(scenes)) == len(scenes)
    for s in scenes:
        assert RADIUS_RANGE[0] <= s.radius <= RADIUS_RANGE[1]
        assert TRAVEL_RANGE[0] <= s.travel <= TRAVEL_RANGE[1]
        assert s.background is None or s.background in compatible_backgrounds(s.colour)
        # The whole path of the bounding box stays inside the frame with the margin (square frame; on a
        # non-square one the extent along the long side is smaller).
        step = DIRECTIONS[s.direction]
        for axis in (0, 1):
            ends = (s.start[axis], s.start[axis] + s.travel * step[axis])
            assert min(ends) - s.radius >= EDGE_MARGIN - 1e-9
            assert max(ends) + s.radius <= 1 - EDGE_MARGIN + 1e-9
    # All words are drawn, and roughly half the scenes name a background.
    for position, words in enumerate((COLOURS, SHAPES, DIRECTIONS)):
        assert {s.combination[position] for s in scenes} == set(words)
    named = sum(s.background is not None for s in scenes)
    assert 150 < named < 250


def test_sample_scene_respects_combinations_and_background_prob():
    g = torch.Generator().manual_seed(9)
    train = training_combinations()
    scenes = [sample_scene(g, combinations=train, background_prob=1.0) for _ in range(300)]
    assert all(s.combination in set(train) for s in scenes)
    assert all(s.background is not None for s in scenes)
    scenes = [sample_scene(g, combinations=[("red", "circle", "up")], background_prob=0.0) for _ in range(20)]
    assert all(s.combination == ("red", "circle", "up") and s.background is None for s in scenes)


def test_bad_inputs_raise():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="empty"):
        sample_scene(g, combinations=[])
    with pytest.raises(ValueError, match="background_prob"):
        sample_scene(g, background_prob=1.5)
    with pytest.raises(ValueError, match="known colours"):
        sample_scene(g, combinations=[("magenta", "circle", "up")])
    with pytest.raises(ValueError, match="known shapes"):
        Scene("hexagon", "red", "up", None, 0.1, (0.5, 0.5), 0.4)
    with pytest.raises(ValueError, match="known"):
        Scene("circle", "red", "sideways", None, 0.1, (0.5, 0.5), 0.4)
    with pytest.raises(ValueError, match="background"):
        Scene("circle", "red", "up", "black", 0.1, (0.5, 0.5), 0.4)
    with pytest.raises(ValueError, match="radius"):
        Scene("circle", "red", "up", None, 0.6, (0.5, 0.5), 0.4)
