"""Latent cache: encode each video and caption once, store them as safetensors shards.

Layout of a cache folder:
    index.json                 {"format": "turbodiffusion-latent-cache", "version": 1,
                                "samples": [[key, shard_file], ...], "latent_shape": [...], ...}
    shard-00000.safetensors    "<key>/latent" [C, F, h, w], "<key>/context" [Lt, text_dim]
    uncond.safetensors         optional "context" [Lt, text_dim]: the negative-prompt embedding rCM
                               uses as its unconditional context (§4)
Every file is written atomically, the index last, so a half-built cache is never mistaken for a
complete one. Encoders are passed in as callables, so this module needs neither the VAE nor umT5.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import Tensor

from ..models.checkpoint_io import save_safetensors, write_text_atomic
from .data import VideoCaption

CACHE_FORMAT = "turbodiffusion-latent-cache"
CACHE_VERSION = 1
INDEX_NAME = "index.json"
UNCOND_NAME = "uncond.safetensors"


def build_cache(
    items: Iterable[VideoCaption],
    out_dir: str | os.PathLike,
    *,
    encode_video: Callable[[VideoCaption], Tensor],
    encode_text: Callable[[str], Tensor],
    uncond_text: str | None = None,
    shard_size: int = 256,
) -> Path:
    """Encode ``items`` into ``out_dir``; returns the index path.

    encode_video(item) -> latent [C, F, h, w]; encode_text(caption) -> context [Lt, text_dim].
    Tensors are stored as returned (keep bf16 to halve the cache). Raises ValueError on duplicate keys
    or on latents whose shape differs from the first one.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1 (got {shard_size})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples: list[list[str]] = []
    seen: set[str] = set()
    pending: dict[str, Tensor] = {}
    latent_shape: list[int] | None = None

    def flush() -> None:
        # Pending tensors all belong to the shard of the last sample added.
        save_safetensors(pending, out / samples[-1][1], {"format": CACHE_FORMAT})
        pending.clear()

    for item in items:
        if item.key in seen:
            raise ValueError(f"duplicate sample key {item.key!r}; keys must be unique across the data set")
        seen.add(item.key)
        latent, context = encode_video(item), encode_text(item.caption)
        if latent.dim() != 4 or context.dim() != 2:
            raise ValueError(
                f"encoders must return latent [C, F, h, w] and context [Lt, text_dim] "
                f"(got {tuple(latent.shape)} and {tuple(context.shape)} for {item.key!r})"
            )
        if latent_shape is None:
            latent_shape = list(latent.shape)
        elif list(latent.shape) != latent_shape:
            raise ValueError(
                f"latent of {item.key!r} has shape {tuple(latent.shape)}, the cache holds {tuple(latent_shape)}; "
                f"resize or crop videos to one size per cache"
            )
        shard = f"shard-{len(samples) // shard_size:05d}.safetensors"
        pending[f"{item.key}/latent"], pending[f"{item.key}/context"] = latent, context
        samples.append([item.key, shard])
        if len(samples) % shard_size == 0:
            flush()
    if pending:
        flush()
    if not samples:
        raise ValueError("no samples to cache")
    if uncond_text is not None:
        save_safetensors({"context": encode_text(uncond_text)}, out / UNCOND_NAME, {"format": CACHE_FORMAT})
    index = {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "samples": samples,
        "latent_shape": latent_shape,
    }
    write_text_atomic(out / INDEX_NAME, json.dumps(index))
    return out / INDEX_NAME


def _read_frames(video: Path | bytes) -> Tensor:
    """Decode an mp4 path or its bytes to frames [T, H, W, 3] uint8 (PyAV)."""
    from ..pipelines.video_io import read_video

    if isinstance(video, bytes):
        # PyAV wants a file; tar members stay in memory until here, so spill them to a temporary one.
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
            tmp.write(video)
            tmp.flush()
            return read_video(tmp.name)[0]
    return read_video(video)[0]


def vae_video_encoder(
    vae: torch.nn.Module, *, num_frames: int, height: int, width: int
) -> Callable[[VideoCaption], Tensor]:
    """An ``encode_video`` for ``build_cache``: the first ``num_frames`` frames, resized (bilinear, no
    crop) to height x width, scaled to [-1, 1], encoded by ``vae.encode`` on the VAE's device.

    Returns latents [z_dim, 1 + (num_frames - 1)/4, height/8, width/8] in the VAE's dtype, on the CPU.
    The callable raises ValueError for a video shorter than ``num_frames``.
    """
    param = next(vae.parameters())

    def encode(item: VideoCaption) -> Tensor:
        frames = _read_frames(item.video)
        if frames.shape[0] < num_frames:
            raise ValueError(f"{item.key}: {frames.shape[0]} frames, fewer than num_frames={num_frames}")
        clip = frames[:num_frames].permute(0, 3, 1, 2).float()  # [T, 3, H, W]
        clip = torch.nn.functional.interpolate(clip, size=(height, width), mode="bilinear", antialias=True)
        clip = (clip / 127.5 - 1.0).clamp(-1.0, 1.0).permute(1, 0, 2, 3).unsqueeze(0)  # [1, 3, T, H, W]
        with torch.inference_mode():
            return vae.encode(clip.to(param.device, param.dtype))[0].cpu()

    return encode


def text_encoder_fn(tokenizer: Callable, encoder: torch.nn.Module) -> Callable[[str], Tensor]:
    """An ``encode_text`` for ``build_cache``: context [Lt, text_dim] of one caption, on the CPU."""
    from ..pipelines.text import encode_prompts

    return lambda caption: encode_prompts(tokenizer, encoder, [caption])[0].cpu()


class LatentDataset(torch.utils.data.Dataset):
    """Cached (latent [C, F, h, w], context [Lt, text_dim]) pairs; tensors come back as stored."""

    def __init__(self, cache_dir: str | os.PathLike) -> None:
        self.root = Path(cache_dir)
        index_path = self.root / INDEX_NAME
        if not index_path.is_file():
            raise FileNotFoundError(
                f"{self.root} is not a latent cache: {INDEX_NAME} is missing (build it first)"
            )
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if index.get("format") != CACHE_FORMAT or index.get("version") != CACHE_VERSION:
            raise ValueError(
                f"{index_path} is not a version-{CACHE_VERSION} {CACHE_FORMAT} index "
                f"(got format={index.get('format')!r}, version={index.get('version')!r}); rebuild the cache"
            )
        self.samples: list[tuple[str, str]] = [(k, s) for k, s in index["samples"]]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        from safetensors import safe_open

        key, shard = self.samples[i]
        with safe_open(str(self.root / shard), framework="pt") as f:
            return f.get_tensor(f"{key}/latent"), f.get_tensor(f"{key}/context")

    def batch(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        """Stacked (latents [B, C, F, h, w], contexts [B, Lt, text_dim]) for ``indices``."""
        pairs = [self[i] for i in indices]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    def uncond(self) -> Tensor | None:
        """The cached negative-prompt embedding [Lt, text_dim], or None when the cache has none."""
        from safetensors.torch import load_file

        path = self.root / UNCOND_NAME
        return load_file(str(path))["context"] if path.is_file() else None


__all__ = ["CACHE_FORMAT", "LatentDataset", "build_cache", "text_encoder_fn", "vae_video_encoder"]
