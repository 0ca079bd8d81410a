"""I2V conditioning: resize + centre crop, normalisation, the clip, the mask, y = cat(mask, latent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from turbodiffusion.models.wan.vae import WanVAE
from turbodiffusion.pipelines.builtin import _build
from turbodiffusion.pipelines.i2v import (
    condition_clip,
    first_frame_mask,
    fit_image,
    image_condition,
    load_image,
)
from turbodiffusion.testing.compare import assert_matches

from .layouts import TINY_VAE


def test_normalisation_maps_0_255_to_minus_one_one():
    image = torch.tensor([0, 255, 51], dtype=torch.uint8).expand(16, 32, 3)
    out = fit_image(image, 16, 32)  # same size: no resampling
    assert out.shape == (3, 16, 32) and out.dtype == torch.float32
    assert torch.equal(out[:, 0, 0], torch.tensor([-1.0, 1.0, (51 / 255 - 0.5) / 0.5]))


def test_wide_image_is_centre_cropped():
    # 20 x 60 image: left third red, middle third green, right third blue -> a 32 x 32 target keeps the
    # middle (the height scales to 32, the width to 96, and the crop takes columns 32..63).
    image = torch.zeros(20, 60, 3, dtype=torch.uint8)
    image[:, :20, 0] = 255
    image[:, 20:40, 1] = 255
    image[:, 40:, 2] = 255
    out = fit_image(image, 32, 32)
    assert out.shape == (3, 32, 32)
    centre = out[:, 8:24, 8:24]
    assert torch.allclose(centre[1], torch.ones_like(centre[1]), atol=1e-4)  # pure green in the middle
    assert (centre[0] < -0.99).all() and (centre[2] < -0.99).all()


def test_tall_image_keeps_its_aspect():
    g = torch.Generator().manual_seed(3)
    image = (torch.rand(90, 30, 3, generator=g) * 255).to(torch.uint8)
    out = fit_image(image, 48, 64)  # width scales 30 -> 64, height 90 -> 192, crop rows 72..119
    assert out.shape == (3, 48, 64)
    assert out.min() >= -1 and out.max() <= 1


def test_clip_and_mask():
    image = torch.randn(3, 16, 24, generator=torch.Generator().manual_seed(0))
    clip = condition_clip(image, 9)
    assert clip.shape == (1, 3, 9, 16, 24)
    assert torch.equal(clip[0, :, 0], image) and not clip[:, :, 1:].any()
    mask = first_frame_mask(torch.zeros(1, 16, 3, 2, 3), 4)
    assert mask.shape == (1, 4, 3, 2, 3)
    assert mask[:, :, 0].eq(1).all() and not mask[:, :, 1:].any()


def test_image_condition_is_mask_then_latent():
    vae = _build(WanVAE, TINY_VAE, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    image = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.inference_mode():
        y = image_condition(vae, image, 9)
        z = vae.encode(condition_clip(image, 9))
    assert y.shape == (1, 20, 3, 4, 6)
    assert torch.equal(y[:, 4:], z)
    assert y[:, :4, 0].eq(1).all() and not y[:, :4, 1:].any()


@pytest.mark.parametrize("chunk_latents", [2, 4])
def test_image_condition_in_larger_chunks(chunk_latents):
    """Larger chunks encode the same clip: equal up to the fp32 convolutions' summation order, which
    changes with the chunk's length (as in tests/models/test_vae.py)."""
    vae = _build(WanVAE, TINY_VAE, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    image = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.inference_mode():
        official = image_condition(vae, image, 13)  # 4 latent frames, one encoder call each
        chunked = image_condition(vae, image, 13, chunk_latents=chunk_latents)
        z = vae.encode(condition_clip(image, 13), chunk_latents=chunk_latents)
    assert torch.equal(chunked[:, 4:], z) and torch.equal(chunked[:, :4], official[:, :4])
    assert_matches(chunked[:, 4:], official[:, 4:], dtype=torch.float32)


def test_image_condition_builds_the_clip_in_the_vae_dtype():
    """A bf16 VAE gets a bf16 clip: the values its encoder would have cast a float32 clip to."""
    vae = _build(WanVAE, TINY_VAE, generator=torch.Generator().manual_seed(1), dtype=torch.bfloat16)
    image = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(2)) * 2 - 1
    seen = []
    encode = vae.encode
    vae.encode = lambda clip, **kwargs: seen.append(clip) or encode(clip, **kwargs)
    with torch.inference_mode():
        y = image_condition(vae, image, 9)
        z = encode(condition_clip(image, 9))  # a float32 clip
    assert seen[0].dtype == torch.bfloat16 and torch.equal(seen[0][0, :, 0], image.to(torch.bfloat16))
    assert torch.equal(y[:, 4:], z)


def test_load_image_inputs_and_errors():
    array = np.zeros((4, 5, 3), np.uint8)
    assert load_image(array).shape == (4, 5, 3)
    assert load_image(torch.from_numpy(array)).dtype == torch.uint8
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\] RGB"):
        load_image(torch.zeros(4, 5, 3))
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\] RGB"):
        load_image(np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="must be a file path or a uint8"):
        load_image([1, 2, 3])
    with pytest.raises(FileNotFoundError, match="image not found"):
        load_image("/nonexistent/image.png")


def test_image_condition_tells_the_encoder_its_zero_frames(monkeypatch):
    """image_condition passes the frames after the image as known repeats (WanVAE.encode's steady_from=1):
    the encoder compares no frames (no device-to-host read) and y equals the every-frame encode's."""
    import turbodiffusion.models.wan.vae as vae_module

    vae = _build(WanVAE, TINY_VAE, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    image = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.inference_mode():
        every = vae.use_steady_tail(False).encode(condition_clip(image, 25))
        vae.use_steady_tail(True)
        monkeypatch.setattr(vae_module, "steady_start", lambda video: pytest.fail("compared the frames"))
        y = image_condition(vae, image, 25)
    assert_matches(y[:, 4:], every, dtype=torch.float32)
