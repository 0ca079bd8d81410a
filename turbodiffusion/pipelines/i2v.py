"""Image-to-video conditioning (shared/docs/models.md §3): image -> y = cat(mask, VAE latent of the clip).

1. the RGB image is resized (bilinear, antialiased, keeping its aspect ratio so it covers the target)
   and centre-cropped to the output size, then mapped to [-1, 1] as (p / 255 - 0.5) / 0.5;
2. a clip [3, T, H, W] holds the image as frame 0 and zeros after it, and is VAE-encoded;
3. the mask has one channel per pixel frame folded into a latent frame (4 for Wan2.1): all ones on
   latent frame 0, zeros elsewhere; y = cat(mask, z_img) on channels (4 + 16 = 20).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .video_io import read_image

ImageInput = str | os.PathLike | Tensor | np.ndarray


def load_image(image: ImageInput) -> Tensor:
    """An image as [H, W, 3] uint8 RGB on the CPU: a file path (PNG, JPEG; needs PyAV) or an array.

    Arrays and tensors must be uint8 [H, W, 3]. Raises ValueError otherwise, FileNotFoundError for a
    missing file.
    """
    if isinstance(image, str | os.PathLike):
        return read_image(image)
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image))
    if not isinstance(image, Tensor):
        raise ValueError(f"image must be a file path or a uint8 [H, W, 3] array (got {type(image).__name__})")
    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(
            f"image arrays must be uint8 [H, W, 3] RGB (got {image.dtype} {list(image.shape)}); "
            "convert with (x * 255).round().to(torch.uint8) and permute channels last"
        )
    return image.cpu()


def fit_image(image: Tensor, height: int, width: int) -> Tensor:
    """Resize ``image`` [H, W, 3] uint8 to cover height x width, centre-crop, normalise.

    Returns [3, height, width] float32 in [-1, 1].
    """
    h, w = image.shape[:2]
    scale = max(height / h, width / w)
    # Round up so that the resized image is never smaller than the target (the crop then fits).
    new_h, new_w = max(height, math.ceil(h * scale - 1e-6)), max(width, math.ceil(w * scale - 1e-6))
    x = image.permute(2, 0, 1)[None].float()
    if (new_h, new_w) != (h, w):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    x = x[0, :, top : top + height, left : left + width].clamp(0, 255)
    return (x / 255.0 - 0.5) / 0.5


def condition_clip(image: Tensor, num_frames: int) -> Tensor:
    """[3, H, W] -> [1, 3, num_frames, H, W]: the image as frame 0, zeros after it."""
    clip = image.new_zeros(1, 3, num_frames, *image.shape[1:])
    clip[0, :, 0] = image
    return clip


def first_frame_mask(latent: Tensor, channels: int) -> Tensor:
    """Mask [B, channels, F, h, w] shaped like ``latent`` [B, C, F, h, w]: ones on latent frame 0 only."""
    b, _, f, h, w = latent.shape
    mask = latent.new_zeros(b, channels, f, h, w)
    mask[:, :, 0] = 1
    return mask


def image_condition(
    vae, image: Tensor, num_frames: int, *, progress: bool = False, chunk_latents: int = 1
) -> Tensor:
    """y for Wan2.2 I2V: cat(mask, VAE latent of the conditioning clip) on channels.

    vae: a WanVAE (its device and dtype are used). image: [3, H, W] float in [-1, 1]. chunk_latents: latent
    frames per encoder call (``WanVAE.encode``'s; 1, the official chunking, needs the least memory; any
    value gives the same y up to rounding).
    Returns [1, temporal_factor + z_dim, F, H / 8, W / 8] in the VAE's dtype (20 channels for Wan2.1's VAE).
    """
    weight = next(vae.parameters())
    # The clip in the VAE's dtype: the encoder casts its input to that dtype anyway, so the values are the
    # same, and a bf16 clip of 81 frames at 720p holds 0.45 GB where a float32 one held 0.9.
    clip = condition_clip(image.to(weight.device, weight.dtype), num_frames)
    # Every frame after the image is zero: the encoder computes each stage's repeated frame once
    # (WanVAE.use_steady_tail), and need not compare the frames to find them.
    z = vae.encode(clip, progress=progress, chunk_latents=chunk_latents, steady_from=1)
    mask = first_frame_mask(z, vae.config.temporal_factor)
    return torch.cat([mask, z], dim=1)
