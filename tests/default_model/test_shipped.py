"""The default model that ships inside the package (turbodiffusion/assets/default): it reads back, fits the
size ceiling, is what `generate` runs without --model, and makes the videos its prompts ask for."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.default_model.config import MAX_SHIPPED_BYTES, WEIGHT_FILES, shipped_dir
from turbodiffusion.default_model.files import read_default_model
from turbodiffusion.eval.analyser import analyse
from turbodiffusion.pipelines import TurboPipeline
from turbodiffusion.pipelines.presets import DEFAULT_PRESET, installed_default_preset


def test_shipped_folder_reads_back_within_the_ceiling():
    config, paths = read_default_model(shipped_dir())
    assert sum((shipped_dir() / name).stat().st_size for name in WEIGHT_FILES) <= MAX_SHIPPED_BYTES
    assert set(paths) >= {"teacher", "student", "vae"}
    assert (config.video.num_frames, config.video.height, config.video.width) == (33, 256, 256)
    assert installed_default_preset() == DEFAULT_PRESET


@pytest.fixture(scope="module")
def student():
    return TurboPipeline.from_pretrained(installed_default_preset(), device="cpu")


# Each required colour, shape and direction once (the words), seed 0, 4 rCM steps: the CLI's
# defaults. Held-out combinations are scored by python -m turbodiffusion.eval.synthetic, not here.
@pytest.mark.parametrize(
    "colour, shape, direction",
    [
        ("red", "circle", "right"),
        ("green", "square", "left"),
        ("blue", "circle", "up"),
        ("yellow", "square", "down"),
    ],
)
def test_shipped_student_makes_what_the_prompt_says(student, colour, shape, direction):
    frames = student(f"a {colour} {shape} moving {direction}", seed=0, progress=False).frames
    assert frames.shape == (33, 256, 256, 3) and frames.dtype == torch.uint8
    seen = analyse(frames)
    assert (seen.colour, seen.shape, seen.direction, seen.visible) == (colour, shape, direction, True)
