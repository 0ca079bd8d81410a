"""The renderer: output contract, geometry of each shape, motion, and determinism."""

from __future__ import annotations

import math

import pytest
import torch

from turbodiffusion.world.render import render, sample_clips, to_uint8_frames
from turbodiffusion.world.scenes import Scene, training_combinations
from turbodiffusion.world.vocabulary import BACKGROUNDS, COLOURS, DEFAULT_BACKGROUND


def scene(shape="circle", colour="red", direction="right", background=None, radius=0.12, start=(0.3, 0.5)):
    return Scene(shape, colour, direction, background, radius, start, travel=0.4)


def rgb(video, b, t, y, x):
    return [round(v) for v in ((video[b, :, t, y, x] + 1) * 127.5).tolist()]


@pytest.mark.parametrize("size", [(5, 40, 72), (1, 17, 23), (9, 64, 48)])
def test_output_contract_on_ragged_sizes(size):
    t, h, w = size
    video, scenes = sample_clips(3, t, h, w, torch.Generator().manual_seed(1))
    assert video.shape == (3, 3, t, h, w) and video.dtype == torch.float32
    assert video.min() >= -1 and video.max() <= 1
    assert len(scenes) == 3
    # Object and background both visible in every frame.
    for b, s in enumerate(scenes):
        frames = to_uint8_frames(video[b]).int()
        background = DEFAULT_BACKGROUND if s.background is None else BACKGROUNDS[s.background]
        is_background = (frames == torch.tensor(background)).all(-1)  # [T, H, W]
        assert is_background.flatten(1).any(1).all()
        assert (~is_background).flatten(1).any(1).all()


def test_same_seed_same_clips_and_different_seed_differs():
    a, sa = sample_clips(
        4, 3, 24, 32, torch.Generator().manual_seed(11), combinations=training_combinations()
    )
    b, sb = sample_clips(
        4, 3, 24, 32, torch.Generator().manual_seed(11), combinations=training_combinations()
    )
    c, _ = sample_clips(4, 3, 24, 32, torch.Generator().manual_seed(12))
    assert sa == sb and torch.equal(a, b)
    assert not torch.equal(a, c)


def test_pixels_are_the_named_colours():
    video = render([scene(background="navy"), scene(colour="cyan")], 3, 64, 64)
    cx, cy = round(0.3 * 64), 32
    assert rgb(video, 0, 0, cy, cx) == list(COLOURS["red"])
    assert rgb(video, 0, 0, 0, 0) == list(BACKGROUNDS["navy"])
    assert rgb(video, 1, 0, cy, cx) == list(COLOURS["cyan"])
    assert rgb(video, 1, 2, 63, 0) == list(DEFAULT_BACKGROUND)


@pytest.mark.parametrize(
    "shape, area_per_r2", [("circle", math.pi), ("square", 4.0), ("diamond", 2.0), ("triangle", 2.0)]
)
def test_shape_areas_match_geometry(shape, area_per_r2):
    # Coverage sums to the analytic area up to the anti-aliasing error along the outline.
    s = scene(shape=shape, colour="white", radius=0.15, start=(0.5, 0.5))
    video = render([s], 1, 200, 200)
    coverage = ((video[0, 0, 0] + 1) * 127.5 - DEFAULT_BACKGROUND[0]) / (
        COLOURS["white"][0] - DEFAULT_BACKGROUND[0]
    )
    r = 0.15 * 200
    assert coverage.sum().item() == pytest.approx(area_per_r2 * r * r, rel=0.02)
    rows = coverage.sum(1)  # mass per row
    ys = torch.arange(200) + 0.5
    centroid_y = (rows * ys).sum() / rows.sum()
    # Triangle points up: its centroid lies a third of the half-size below the box centre.
    expected = 100 + (r / 3 if shape == "triangle" else 0)
    assert centroid_y.item() == pytest.approx(expected, abs=0.3)
    # Bounding box is 2r on both axes (equal height and width for the triangle too).
    mask = coverage > 0.5
    height = mask.any(1).sum().item()
    width = mask.any(0).sum().item()
    assert abs(height - 2 * r) <= 1 and abs(width - 2 * r) <= 1


@pytest.mark.parametrize(
    "direction, axis, sign", [("left", 1, -1), ("right", 1, 1), ("up", 0, -1), ("down", 0, 1)]
)
def test_motion_follows_direction_and_travel(direction, axis, sign):
    t, h, w = 9, 48, 80
    start = (0.5, 0.5)
    video = render([scene(direction=direction, start=start, radius=0.1)], t, h, w)
    mask = (video[0, 0] > 0).float()  # red object on the dark default background, [T, H, W]
    coords = [torch.arange(h) + 0.5, torch.arange(w) + 0.5]
    mass = mask.sum((1, 2))
    profile = mask.sum(2 if axis == 0 else 1)  # [T, H] or [T, W]
    centroid = (profile * coords[axis]).sum(1) / mass
    extent = (h, w)[axis]
    expected = (start[1 - axis] + sign * 0.4 * torch.linspace(0, 1, t)) * extent
    torch.testing.assert_close(centroid, expected, atol=0.05, rtol=0)


def test_object_stays_inside_on_non_square_frames():
    for height, width in ((40, 72), (72, 40)):
        video, scenes = sample_clips(
            64, 5, height, width, torch.Generator().manual_seed(5), background_prob=0.0
        )
        border = torch.cat(
            [video[..., 0, :], video[..., -1, :], video[..., :, 0], video[..., :, -1]], dim=-1
        )  # [B, 3, T, 2W + 2H]
        expected = torch.tensor(DEFAULT_BACKGROUND, dtype=torch.float32) / 127.5 - 1
        torch.testing.assert_close(border, expected.view(1, 3, 1, 1).expand_as(border), atol=1e-6, rtol=0)


def test_to_uint8_frames():
    video = render([scene()], 2, 8, 12)
    frames = to_uint8_frames(video[0])
    assert frames.shape == (2, 8, 12, 3) and frames.dtype == torch.uint8
    torch.testing.assert_close(
        frames.permute(3, 0, 1, 2).float() / 127.5 - 1, video[0], atol=0.5 / 127.5, rtol=0
    )
    with pytest.raises(ValueError, match=r"\[3, T, H, W\]"):
        to_uint8_frames(video)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="empty"):
        render([], 3, 8, 8)
    with pytest.raises(ValueError, match=">= 1"):
        render([scene()], 0, 8, 8)
    with pytest.raises(ValueError, match="batch"):
        sample_clips(0, 3, 8, 8, torch.Generator())
