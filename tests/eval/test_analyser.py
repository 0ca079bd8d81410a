"""The frame analyser reads rendered world videos back into the words that made them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from turbodiffusion.eval.analyser import Analysis, analyse, describe, score
from turbodiffusion.world.captions import PromptSpec
from turbodiffusion.world.render import render, sample_clips, to_uint8_frames
from turbodiffusion.world.scenes import Scene

# (clips, frames, height, width): 160 scenes over square, wide and tall frames, default size included.
SIZES = [(8, 33, 256, 256), (62, 17, 128, 128), (50, 9, 96, 160), (40, 13, 144, 112)]


def spec_of(scene: Scene) -> PromptSpec:
    return PromptSpec(scene.colour, scene.shape, scene.direction, scene.background)


def degrade(frames: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """3x3 box blur, then Gaussian noise of std 10 (on 0-255), rounded back to uint8. [T, H, W, 3] uint8."""
    video = frames.float().permute(0, 3, 1, 2)
    video = F.avg_pool2d(video, 3, stride=1, padding=1, count_include_pad=False)
    video = video + 10.0 * torch.randn(video.shape, generator=generator)
    return video.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def analysed(seed: int, noisy: bool):
    """(scene, analysis) over every size in SIZES."""
    g = torch.Generator().manual_seed(seed)
    for clips, t, h, w in SIZES:
        video, scenes = sample_clips(clips, t, h, w, g)
        for b, scene in enumerate(scenes):
            frames = to_uint8_frames(video[b])
            yield scene, analyse(degrade(frames, g) if noisy else frames)


def test_clean_renders_are_read_exactly():
    results = list(analysed(seed=0, noisy=False))
    assert len(results) >= 150
    wrong = [(scene, a) for scene, a in results if not score(a, spec_of(scene))["all"]]
    assert not wrong, wrong[:3]


def test_noisy_blurred_renders_are_read_97_percent():
    results = list(analysed(seed=1, noisy=True))
    right = sum(score(a, spec_of(scene))["all"] for scene, a in results)
    assert right / len(results) >= 0.97, [(s, a) for s, a in results if not score(a, spec_of(s))["all"]][:3]


@pytest.mark.parametrize("shape", ["circle", "square", "triangle", "diamond"])
@pytest.mark.parametrize("direction", ["left", "right", "up", "down"])
def test_every_shape_and_direction(shape, direction):
    start = {"left": (0.7, 0.5), "right": (0.3, 0.5), "up": (0.5, 0.7), "down": (0.5, 0.3)}[direction]
    scene = Scene(shape, "yellow", direction, "teal", 0.12, start, 0.4)
    a = analyse(to_uint8_frames(render([scene], 9, 80, 96)[0]))
    assert a == Analysis("yellow", shape, direction, "teal", visible=True)
    assert describe(a) == f"yellow {shape} moving {direction} on teal"


def test_still_object_has_no_direction():
    scene = Scene("square", "red", "left", None, 0.12, (0.5, 0.5), 0.02)
    a = analyse(to_uint8_frames(render([scene], 9, 64, 64)[0]))
    assert a.visible and a.shape == "square" and a.direction is None
    assert score(a, PromptSpec("red", "square", "left", None)) == {
        "colour": True,
        "shape": True,
        "direction": False,
        "background": True,
        "object": False,
        "all": False,
    }


def test_noise_is_not_an_object():
    g = torch.Generator().manual_seed(3)
    uniform = torch.randint(0, 256, (9, 64, 64, 3), generator=g, dtype=torch.uint8)
    smooth = F.interpolate(torch.rand(9, 3, 8, 8, generator=g), size=(64, 64), mode="bilinear")
    smooth = (smooth * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    for frames in (uniform, smooth):
        a = analyse(frames)
        assert not a.visible and a.colour is None and a.shape is None and a.direction is None
        assert a.background is None
        assert not score(a, PromptSpec("red", "circle", "up", None))["all"]
        assert describe(a).startswith("no object")


def test_empty_background_is_named_but_invisible():
    scene = Scene("circle", "red", "up", "pink", 0.1, (0.5, 0.5), 0.4)
    frames = to_uint8_frames(render([scene], 5, 64, 64)[0])
    frames[:] = frames[0, 0, 0]  # background only
    a = analyse(frames)
    assert a == Analysis(None, None, None, "pink", visible=False)


def test_score_keys_and_default_background():
    a = Analysis("red", "circle", "right", "default", visible=True)
    assert score(a, PromptSpec("red", "circle", "right", None)) == dict.fromkeys(
        ["colour", "shape", "direction", "background", "object", "all"], True
    )
    wrong_bg = score(a, PromptSpec("red", "circle", "right", "navy"))
    assert not wrong_bg["background"] and not wrong_bg["all"] and wrong_bg["colour"] and wrong_bg["object"]
    # An invisible object is never right, even where its (None) fields could not disagree.
    hidden = score(
        Analysis(None, None, None, "default", visible=False), PromptSpec("red", "circle", "up", None)
    )
    assert hidden["background"] and not hidden["object"] and not hidden["all"]


def test_bad_input_raises():
    with pytest.raises(ValueError, match="uint8"):
        analyse(torch.zeros(5, 32, 32, 3))
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        analyse(torch.zeros(3, 5, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="8x8"):
        analyse(torch.zeros(5, 4, 32, 3, dtype=torch.uint8))
