"""The Wan2.1 VAE: causal 3D convolutional autoencoder, 4x temporal and 8x8 spatial compression.

Spec: shared/docs/models.md §5; parameter names are the official ``Wan2.1_VAE.pth`` names
(shared/reference/manifests/wan2.1-vae.json). Design choices:

* Time is processed chunk by chunk, as the official code does, and that is part of the model, not
  an optimisation: encode runs chunks of 1, 4, 4, ... pixel frames and decode one latent frame at a
  time, with a ``ChunkCache`` (vae_blocks.py) created per call and passed through every block. Ordinary
  causal convs then equal one pass over the whole clip, while the temporal resamples follow their
  first-chunk rules (models.md §5). Peak activation memory is one chunk's, not the clip's.
* ``encode`` returns the normalised deterministic latent ``(mu - mean) / std`` (log-variance dropped);
  ``decode`` undoes the normalisation and returns the raw decoder output, not clamped.
* Runs in the dtype of its weights (fp32, or bf16 as TurboDiffusion runs it: weights cast, no
  autocast); inputs are cast to it. Builds on the meta device for loading with ``assign=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .vae_blocks import AttentionBlock, CausalConv3d, ChunkCache, Resample, ResidualBlock, RMSNorm, run_layers

logger = logging.getLogger(__name__)

# Per-channel statistics of the Wan2.1 latent (official release; models.md §5).
WAN21_LATENT_MEAN: tuple[float, ...] = (
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
    0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
)  # fmt: skip
WAN21_LATENT_STD: tuple[float, ...] = (
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
    3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160,
)  # fmt: skip


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class WanVAEConfig:
    """What a Wan VAE checkpoint needs. Field names are the official constructor's (typo included)."""

    dim: int = 96  # width of the first encoder level and the last decoder level
    z_dim: int = 16  # latent channels (the encoder head emits 2 * z_dim: mean and log-variance)
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)  # width multiplier per level; len - 1 spatial x2 steps
    num_res_blocks: int = 2  # residual blocks per encoder level; the decoder has one more per level
    attn_scales: tuple[float, ...] = ()  # spatial scales (1, 0.5, ...) with attention after each res block
    temperal_downsample: tuple[bool, ...] = (False, True, True)  # which downsamples also halve time
    dropout: float = 0.0  # inside residual blocks; inert at inference, kept for the official layout
    latent_mean: tuple[float, ...] = WAN21_LATENT_MEAN  # per-channel latent mean (normalisation)
    latent_std: tuple[float, ...] = WAN21_LATENT_STD  # per-channel latent std (normalisation)

    def __post_init__(self) -> None:
        for name in ("dim", "z_dim", "num_res_blocks"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int (got {value!r})")
        for name in ("dim_mult", "attn_scales", "temperal_downsample", "latent_mean", "latent_std"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                raise ValueError(
                    f"{name} must be a tuple (got {type(value).__name__}); "
                    "pass tuple(...) or build from a dict with WanVAEConfig.from_official"
                )
        if not self.dim_mult or not all(_is_int(m) and m >= 1 for m in self.dim_mult):
            raise ValueError(f"dim_mult must be a non-empty tuple of positive ints (got {self.dim_mult})")
        odd = [m for m in self.dim_mult[1:] if (self.dim * m) % 2]
        if odd:
            raise ValueError(
                f"dim * m must be even for every m in dim_mult[1:] because each decoder upsample halves the "
                f"width (got dim={self.dim}, dim_mult={self.dim_mult}); use an even dim"
            )
        if len(self.temperal_downsample) != len(self.dim_mult) - 1 or not all(
            isinstance(v, bool) for v in self.temperal_downsample
        ):
            raise ValueError(
                f"temperal_downsample must hold len(dim_mult) - 1 = {len(self.dim_mult) - 1} bools, one per "
                f"downsample (got {self.temperal_downsample})"
            )
        if not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in self.attn_scales
        ):
            raise ValueError(
                f"attn_scales must hold positive numbers such as 1.0 or 0.5 (got {self.attn_scales})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (got {self.dropout}); the Wan VAE uses 0.0")
        for name in ("latent_mean", "latent_std"):
            value = getattr(self, name)
            if len(value) != self.z_dim:
                raise ValueError(
                    f"{name} must have z_dim={self.z_dim} values (got {len(value)}); "
                    f"pass latent_mean and latent_std with {self.z_dim} values each"
                )
        if not all(isinstance(s, (int, float)) and s > 0 for s in self.latent_std):
            raise ValueError(f"latent_std values must all be positive (got {self.latent_std})")

    @property
    def spatial_factor(self) -> int:
        """Pixels per latent cell along H and W (8 for Wan2.1)."""
        return 2 ** (len(self.dim_mult) - 1)

    @property
    def temporal_factor(self) -> int:
        """Pixel frames per latent frame after the first (4 for Wan2.1): T = 1 + temporal_factor * (F - 1)."""
        return 2 ** sum(self.temperal_downsample)

    @classmethod
    def from_official(cls, d: Mapping[str, Any]) -> WanVAEConfig:
        """Build from an official-style dict (manifest/fixture ``config``, optionally with latent_mean/std).

        Lists become tuples; unknown keys are rejected by name. Official configs carry no latent
        statistics; when absent, a z_dim of at most 16 takes the first z_dim Wan2.1 values (all 16 for
        the real VAE; the first few for the tiny reference fixtures, which were built that way), and
        a larger z_dim must pass them.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(
                f"unknown Wan VAE config keys: {', '.join(unknown)}; known keys: {', '.join(known)}"
            )
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        z_dim = kwargs.get("z_dim", cls.z_dim)
        if _is_int(z_dim) and 1 <= z_dim <= len(WAN21_LATENT_MEAN):
            kwargs.setdefault("latent_mean", WAN21_LATENT_MEAN[:z_dim])
            kwargs.setdefault("latent_std", WAN21_LATENT_STD[:z_dim])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists) that ``from_official`` reads back to an equal config."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


WAN21_VAE = WanVAEConfig()


def latent_chunks(num_latents: int, chunk_latents: int) -> list[tuple[int, int]]:
    """[start, stop) latent-frame ranges of the chunked passes: the first frame alone (its own temporal rules
    apply to the first chunk only), then ``chunk_latents`` frames at a time. Every causal conv carries its
    past frames in the ChunkCache and the temporal resamples work on any whole number of latent frames, so
    the ranges change the batching of the work, not the result. Raises ValueError unless chunk_latents is a
    positive int."""
    if not _is_int(chunk_latents) or chunk_latents < 1:
        raise ValueError(
            f"chunk_latents must be a positive int (got {chunk_latents!r}); 1 is the official chunking"
        )
    return [(0, 1)] + [(i, min(i + chunk_latents, num_latents)) for i in range(1, num_latents, chunk_latents)]


def _nearest_valid(value: int, step: int, offset: int) -> str:
    """The valid sizes offset + step * k (k >= 0, size >= 1) just below and above value, as prose."""
    lower = offset + step * ((value - offset) // step)
    candidates = [n for n in (lower, lower + step) if n >= max(offset, 1)]
    return " or ".join(str(n) for n in candidates)


class Encoder3d(nn.Module):
    """Pixels to the 2 * z_dim encoder output, one chunk at a time.

    x: [B, 3, t, H, W] (a chunk: 1 frame first, then temporal_factor frames) ->
    [B, 2 * z_dim, 1, H / spatial_factor, W / spatial_factor].
    """

    def __init__(self, config: WanVAEConfig) -> None:
        super().__init__()
        dims = [config.dim * m for m in (1, *config.dim_mult)]
        self.conv1 = CausalConv3d(3, dims[0], 3, padding=1)
        blocks: list[nn.Module] = []
        scale = 1.0
        for level, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:])):
            for _ in range(config.num_res_blocks):
                blocks.append(ResidualBlock(in_dim, out_dim, config.dropout))
                if scale in config.attn_scales:
                    blocks.append(AttentionBlock(out_dim))
                in_dim = out_dim
            if level < len(config.dim_mult) - 1:
                mode = "downsample3d" if config.temperal_downsample[level] else "downsample2d"
                blocks.append(Resample(out_dim, mode))
                scale /= 2.0
        self.downsamples = nn.ModuleList(blocks)
        width = dims[-1]
        self.middle = nn.ModuleList(
            [
                ResidualBlock(width, width, config.dropout),
                AttentionBlock(width),
                ResidualBlock(width, width, config.dropout),
            ]
        )
        self.head = nn.Sequential(
            RMSNorm(width), nn.SiLU(), CausalConv3d(width, 2 * config.z_dim, 3, padding=1)
        )

    def forward(self, x: Tensor, cache: ChunkCache) -> Tensor:
        x = self.conv1(x, cache)
        for block in (*self.downsamples, *self.middle):
            x = block(x, cache)
        return run_layers(self.head, x, cache)


class Decoder3d(nn.Module):
    """z_dim latent channels to pixels, one latent frame at a time.

    x: [B, z_dim, 1, h, w] -> [B, 3, t, h * spatial_factor, w * spatial_factor] with t = 1 for the
    first latent frame and temporal_factor after it.
    """

    def __init__(self, config: WanVAEConfig) -> None:
        super().__init__()
        mults = config.dim_mult
        dims = [config.dim * m for m in (mults[-1], *mults[::-1])]
        temporal_upsample = config.temperal_downsample[::-1]
        self.conv1 = CausalConv3d(config.z_dim, dims[0], 3, padding=1)
        self.middle = nn.ModuleList(
            [
                ResidualBlock(dims[0], dims[0], config.dropout),
                AttentionBlock(dims[0]),
                ResidualBlock(dims[0], dims[0], config.dropout),
            ]
        )
        blocks: list[nn.Module] = []
        scale = 1.0 / 2 ** (len(mults) - 2)
        for level, (in_dim, out_dim) in enumerate(zip(dims[:-1], dims[1:])):
            if level > 0:
                # Every level after the first follows an upsample, which halved the width. (The official
                # code writes `level in (1, 2, 3)`, the same thing for its four levels.)
                in_dim //= 2
            for _ in range(config.num_res_blocks + 1):
                blocks.append(ResidualBlock(in_dim, out_dim, config.dropout))
                if scale in config.attn_scales:
                    blocks.append(AttentionBlock(out_dim))
                in_dim = out_dim
            if level < len(mults) - 1:
                blocks.append(Resample(out_dim, "upsample3d" if temporal_upsample[level] else "upsample2d"))
                scale *= 2.0
        self.upsamples = nn.ModuleList(blocks)
        self.head = nn.Sequential(RMSNorm(dims[-1]), nn.SiLU(), CausalConv3d(dims[-1], 3, 3, padding=1))

    def forward(self, x: Tensor, cache: ChunkCache) -> Tensor:
        x = self.conv1(x, cache)
        for block in (*self.middle, *self.upsamples):
            x = block(x, cache)
        return run_layers(self.head, x, cache)


class WanVAE(nn.Module):
    """The Wan2.1 VAE (models.md §5) with chunked, cached temporal processing.

    Parameters carry the official names: ``encoder.*``, ``conv1`` (2z -> 2z, 1^3, after the encoder),
    ``conv2`` (z -> z, 1^3, before the decoder), ``decoder.*``. For bounded memory call it under
    ``torch.inference_mode()``: autograd would keep every chunk's activations.
    """

    def __init__(self, config: WanVAEConfig) -> None:
        super().__init__()
        self.config = config
        z = config.z_dim
        self.encoder = Encoder3d(config)
        self.conv1 = CausalConv3d(2 * z, 2 * z, 1)
        self.conv2 = CausalConv3d(z, z, 1)
        self.decoder = Decoder3d(config)
        self.channels_last = False  # set by use_channels_last

    def use_channels_last(self, enabled: bool = True) -> WanVAE:
        """Run the convolutions channels-last: weights stored channels_last_3d (5D) / channels_last (4D)
        and every chunk's activations in the same layout, the one cuDNN's fastest 3D kernels read.

        In place (``enabled=False`` restores the default layout); returns self. Parameter names, values
        and the state dict are unchanged; outputs differ from the default layout only by the rounding of
        the convolution algorithm cuDNN picks.
        """
        for param in self.parameters():
            if param.dim() in (4, 5):
                layout = torch.channels_last if param.dim() == 4 else torch.channels_last_3d
                param.data = param.data.contiguous(
                    memory_format=layout if enabled else torch.contiguous_format
                )
        self.channels_last = enabled
        return self

    def enable_fused_ops(self, enabled: bool = True) -> WanVAE:
        """Run every RMSNorm (and the SiLU after it) as one ``ops.channel_rms_norm`` pass: a Triton kernel
        on CUDA for channels-last activations (``use_channels_last``), the fp32 reference otherwise.

        In place (``enabled=False`` restores the eager chain, computed in the activations' dtype as the
        official code does); returns self. Weights and the state dict are unchanged.
        """
        for module in self.modules():
            if isinstance(module, RMSNorm):
                module.fused = enabled
        return self

    def _layout(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last_3d) if self.channels_last else x

    def _check_device(self, name: str, x: Tensor) -> None:
        weights = self.conv2.weight.device
        if x.device != weights:
            raise ValueError(
                f"{name} is on {x.device} but the VAE weights are on {weights}; move one to the other"
            )

    def _stats(self, device: torch.device) -> tuple[Tensor, Tensor]:
        # fp32 on purpose: the normalisation is a tiny per-channel affine map; rounding mean and std to
        # bf16 (relative error up to 2^-9) would add a fixed per-channel bias for no speed gain.
        shape = (1, self.config.z_dim, 1, 1, 1)
        mean = torch.tensor(self.config.latent_mean, dtype=torch.float32, device=device).view(shape)
        std = torch.tensor(self.config.latent_std, dtype=torch.float32, device=device).view(shape)
        return mean, std

    def encode(self, video: Tensor, *, progress: bool = False, chunk_latents: int = 1) -> Tensor:
        """Encode a clip to its normalised latent.

        video: [B, 3, T, H, W] in [-1, 1], any float dtype (cast to the weights' dtype), T = 1 + 4k,
        H and W multiples of 8 (for Wan2.1; in general ``temporal_factor`` and ``spatial_factor``).
        Returns [B, z_dim, 1 + (T - 1) // 4, H / 8, W / 8] in the weights' dtype: ``(mu - mean) / std``
        of the encoder mean ``mu``. Runs the first frame alone, then chunks of ``chunk_latents`` latent
        frames (4 * chunk_latents pixel frames; 1, the default, is the official chunking and the least
        memory; larger chunks give the same result in fewer, larger calls). ``progress`` shows a tqdm bar.
        Raises ValueError on a wrong rank, channel count, T, H or W, device, or chunk_latents.
        """
        mu = self.encode_moments(video, progress=progress, chunk_latents=chunk_latents)[
            :, : self.config.z_dim
        ]
        mean, std = self._stats(mu.device)
        return ((mu.float() - mean) / std).to(mu.dtype)

    def encode_moments(self, video: Tensor, *, progress: bool = False, chunk_latents: int = 1) -> Tensor:
        """The un-normalised posterior moments of a clip: [B, 2 * z_dim, F, h, w] in the weights' dtype,
        mean ``mu`` in the first z_dim channels and log-variance in the last (what VAE training needs;
        ``encode`` keeps only the normalised mean). Same input rules and errors as ``encode``.
        """
        cfg = self.config
        sf, tf = cfg.spatial_factor, cfg.temporal_factor
        if video.dim() != 5:
            raise ValueError(
                f"video must be 5D [B, 3, T, H, W] (got shape {tuple(video.shape)}); add a batch dim"
            )
        b, c, t, h, w = video.shape
        if c != 3:
            raise ValueError(f"video must have 3 channels in dim 1 (got {c} in shape {tuple(video.shape)})")
        if t < 1 or (t - 1) % tf:
            raise ValueError(f"video frames T must be 1 + {tf}k (got {t}); use {_nearest_valid(t, tf, 1)}")
        for name, size in (("height H", h), ("width W", w)):
            if size < sf or size % sf:
                raise ValueError(
                    f"video {name} must be a multiple of {sf} (got {size}); use {_nearest_valid(size, sf, 0)}"
                )
        self._check_device("video", video)
        dtype = self.conv1.weight.dtype
        chunks = latent_chunks(1 + (t - 1) // tf, chunk_latents)
        logger.debug("VAE encode %s in %d chunks", tuple(video.shape), len(chunks))

        cache = ChunkCache()
        moments = video.new_empty(b, 2 * cfg.z_dim, 1 + (t - 1) // tf, h // sf, w // sf, dtype=dtype)
        for start, stop in tqdm(chunks, desc="VAE encode", unit="chunk", disable=not progress):
            chunk = video[:, :, :1] if start == 0 else video[:, :, 1 + tf * (start - 1) : 1 + tf * (stop - 1)]
            # Cast per chunk: a cast copy of the whole clip would add a clip-sized tensor to peak memory.
            moments[:, :, start:stop] = self.encoder(self._layout(chunk.to(dtype)), cache)
        return self.conv1(moments)

    def decode(self, latent: Tensor, *, progress: bool = False, chunk_latents: int = 1) -> Tensor:
        """Decode a normalised latent to pixels.

        latent: [B, z_dim, F, h, w], any float dtype (cast to the weights' dtype after de-normalising).
        Returns the raw decoder output [B, 3, 1 + 4(F - 1), 8h, 8w] (Wan2.1 factors) in the weights'
        dtype, NOT clamped to [-1, 1]. Decodes the first latent frame alone, then ``chunk_latents`` latent
        frames per chunk (1, the default, is the official chunking and the least memory; larger chunks
        give the same result in fewer, larger calls). ``progress`` shows a tqdm bar.
        Raises ValueError on a wrong rank, channel count or empty size, device, or chunk_latents.
        """
        cfg = self.config
        sf, tf = cfg.spatial_factor, cfg.temporal_factor
        if latent.dim() != 5:
            raise ValueError(
                f"latent must be 5D [B, z_dim, F, h, w] (got shape {tuple(latent.shape)}); add a batch dim"
            )
        b, c, f, h, w = latent.shape
        if c != cfg.z_dim:
            raise ValueError(
                f"latent must have z_dim={cfg.z_dim} channels in dim 1 (got {c} in shape {tuple(latent.shape)})"
            )
        if min(f, h, w) < 1:
            raise ValueError(f"latent F, h and w must be at least 1 (got shape {tuple(latent.shape)})")
        self._check_device("latent", latent)
        mean, std = self._stats(latent.device)
        z = self.conv2(self._layout((latent.float() * std + mean).to(self.conv2.weight.dtype)))
        chunks = latent_chunks(f, chunk_latents)
        logger.debug("VAE decode %s in %d chunks", tuple(latent.shape), len(chunks))

        cache = ChunkCache()
        video = z.new_empty(b, 3, 1 + tf * (f - 1), h * sf, w * sf)
        for start, stop in tqdm(chunks, desc="VAE decode", unit="chunk", disable=not progress):
            first = 0 if start == 0 else 1 + tf * (start - 1)
            frames = self.decoder(z[:, :, start:stop], cache)
            video[:, :, first : first + frames.shape[2]] = frames
        return video
