"""The Wan2.1 VAE: causal 3D convolutional autoencoder, 4x temporal and 8x8 spatial compression.

Spec: shared/docs/models.md §5; parameter names are the official ``Wan2.1_VAE.pth`` names
(shared/reference/manifests/wan2.1-vae.json). Design choices:

* Time is processed chunk by chunk, as the official code does, and that is part of the model, not
  an optimisation: encode runs chunks of 1, 4, 4, ... pixel frames and decode one latent frame at a
  time, with a ``ChunkCache`` (vae_blocks.py) created per call and passed through every block. Ordinary
  causal convs then equal one pass over the whole clip, while the temporal resamples follow their
  first-chunk rules (models.md §5). Peak activation memory is one chunk's, not the clip's.
* A clip whose last frames repeat (I2V's [image, zeros]) is encoded computing each encoder stage's repeated
  output frame once (vae_steady.py, ``use_steady_tail``): the same latent up to rounding.
* ``encode`` returns the normalised deterministic latent ``(mu - mean) / std`` (log-variance dropped);
  ``decode`` undoes the normalisation and returns the raw decoder output, not clamped.
* Runs in the dtype of its weights (fp32, or bf16 as TurboDiffusion runs it: weights cast, no
  autocast); inputs are cast to it. Builds on the meta device for loading with ``assign=True``.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn
from tqdm import tqdm

from .vae_blocks import AttentionBlock, CausalConv3d, ChunkCache, Resample, ResidualBlock, RMSNorm, run_layers
from .vae_config import WAN21_LATENT_MEAN as WAN21_LATENT_MEAN  # re-exported: the config's old home
from .vae_config import WAN21_LATENT_STD as WAN21_LATENT_STD
from .vae_config import WAN21_VAE as WAN21_VAE
from .vae_config import WanVAEConfig, _is_int
from .vae_steady import SteadyTail, steady_start
from .vae_upsample import UpsampleConv2d

logger = logging.getLogger(__name__)


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

    def stages(self) -> list[nn.Module]:
        """The modules a chunk passes through, in order (each run by ``run_stage``)."""
        return [self.conv1, *self.downsamples, *self.middle, self.head]

    @staticmethod
    def run_stage(stage: nn.Module, x: Tensor, cache: ChunkCache) -> Tensor:
        return run_layers(stage, x, cache) if isinstance(stage, nn.Sequential) else stage(x, cache)

    def forward(self, x: Tensor, cache: ChunkCache) -> Tensor:
        for stage in self.stages():
            x = self.run_stage(stage, x, cache)
        return x


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
        self.steady_tail = True  # set by use_steady_tail

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

    def use_subpixel_upsampling(self, enabled: bool = True) -> WanVAE:
        """Run each of the decoder's nearest x2 + 3x3 convolution upsamples as one 2x2 convolution over the
        low-resolution frames (``vae_upsample.upsample2x_conv3x3``): 2.25x fewer multiply-adds and no
        repeated image.

        In place (``enabled=False`` restores the plain form); returns self. Weights and the state dict are
        unchanged; outputs differ from the plain form by rounding only (the summed weights are rounded once
        to the weights' dtype).
        """
        for module in self.modules():
            if isinstance(module, UpsampleConv2d):
                module.subpixel = enabled
        return self

    def use_conv_kernel(self, enabled: bool = True, *, max_out_channels: int = 16) -> WanVAE:
        """Run the causal convolutions with at most ``max_out_channels`` outputs through ``ops.causal_conv3d``:
        a Triton kernel on CUDA for channels-last activations (``use_channels_last``), the convolution it
        stands for otherwise. The default, 16, takes the decoder's 96 -> 3 head (and the 16-channel 1^3
        ``conv2``), where cuDNN is slow.

        In place (``enabled=False`` restores cuDNN); returns self. Weights and the state dict are unchanged;
        outputs differ by the rounding of the summation order. Not on in the pipeline: on an H100 the head on
        the kernel gained nothing in a whole decode and every convolution on it lost 2%
        (benchmarks/runs/h100-2026-12-05: vae_decode.py's ``+conv16`` and ``+convall``, vae_conv.py).
        """
        for module in self.modules():
            if isinstance(module, CausalConv3d):
                module.conv_kernel = (
                    enabled and module.out_channels <= max_out_channels and module.conv_kernel_applies()
                )
        return self

    def use_steady_tail(self, enabled: bool = True) -> WanVAE:
        """Encode a clip whose last frames repeat (I2V's [image, zeros]) computing each encoder stage's
        repeated output frame once (vae_steady.py); on by default. For [image, 80 zeros] through Wan2.1's
        encoder that skips most of the work (``benchmarks/vae_encode.py`` counts and times it).

        ``enabled=False`` runs every frame through every stage; returns self. Outputs differ by rounding only
        (a kept frame stands for frames a convolution computes at other positions of a chunk).
        """
        self.steady_tail = enabled
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

    def encode(
        self, video: Tensor, *, progress: bool = False, chunk_latents: int = 1, steady_from: int | None = None
    ) -> Tensor:
        """Encode a clip to its normalised latent.

        video: [B, 3, T, H, W] in [-1, 1], any float dtype (cast to the weights' dtype), T = 1 + 4k,
        H and W multiples of 8 (for Wan2.1; in general ``temporal_factor`` and ``spatial_factor``).
        Returns [B, z_dim, 1 + (T - 1) // 4, H / 8, W / 8] in the weights' dtype: ``(mu - mean) / std``
        of the encoder mean ``mu``. Runs the first frame alone, then chunks of ``chunk_latents`` latent
        frames (4 * chunk_latents pixel frames; 1, the default, is the official chunking and the least
        memory; larger chunks give the same result in fewer, larger calls). ``progress`` shows a tqdm bar.
        ``steady_from``: a frame index from which the caller knows every frame equals the last (I2V's
        zeros: 1), for ``use_steady_tail``; None finds it by comparing the frames (one device-to-host read).
        Raises ValueError on a wrong rank, channel count, T, H or W, device, chunk_latents or steady_from.
        """
        mu = self.encode_moments(
            video, progress=progress, chunk_latents=chunk_latents, steady_from=steady_from
        )[:, : self.config.z_dim]
        mean, std = self._stats(mu.device)
        return ((mu.float() - mean) / std).to(mu.dtype)

    def encode_moments(
        self, video: Tensor, *, progress: bool = False, chunk_latents: int = 1, steady_from: int | None = None
    ) -> Tensor:
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
        if steady_from is not None and (not _is_int(steady_from) or not 0 <= steady_from <= t):
            raise ValueError(f"steady_from must be a frame index in [0, {t}] (got {steady_from!r})")
        self._check_device("video", video)
        dtype = self.conv1.weight.dtype
        chunks = latent_chunks(1 + (t - 1) // tf, chunk_latents)
        steady = None
        if self.steady_tail:
            # A meta-device clip has no values to compare: it runs every frame.
            meta = video.device.type == "meta"
            steady = steady_start(video) if steady_from is None and not meta else steady_from
        # Two equal frames at least: with fewer no stage has a repeated frame to skip.
        tail = (
            SteadyTail(self.encoder.stages(), self.encoder.run_stage, steady)
            if steady is not None and t - steady > 1
            else None
        )
        logger.debug(
            "VAE encode %s in %d chunks, frames equal from %s", tuple(video.shape), len(chunks), steady
        )

        cache = ChunkCache()
        moments = video.new_empty(b, 2 * cfg.z_dim, 1 + (t - 1) // tf, h // sf, w // sf, dtype=dtype)
        for start, stop in tqdm(chunks, desc="VAE encode", unit="chunk", disable=not progress):
            first = 0 if start == 0 else 1 + tf * (start - 1)
            chunk = video[:, :, first : 1 + tf * (stop - 1)]
            # Cast per chunk: a cast copy of the whole clip would add a clip-sized tensor to peak memory.
            chunk = self._layout(chunk.to(dtype))
            if tail is None:
                moments[:, :, start:stop] = self.encoder(chunk, cache)
                continue
            out = tail(chunk, first, cache)
            done = start + out.computed
            if out.computed:
                moments[:, :, start:done] = out.head
            if done < stop:
                moments[:, :, done:stop] = out.tail
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
