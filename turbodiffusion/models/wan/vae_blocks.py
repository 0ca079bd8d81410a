"""Building blocks of the Wan2.1 VAE and the chunk cache that carries time context between chunks.

Spec: shared/docs/models.md §5. The VAE runs a clip chunk by chunk (encode: 1, then ``temporal_factor``
pixel frames per chunk; decode: one latent frame per chunk). Every block therefore takes the clip's
``ChunkCache`` beside its input: causal convolutions read the tail frames the previous chunk left there
and write their own, and the temporal resamples keep their first-chunk state there. The cache is
created per encode/decode call, so no module keeps state between calls.

Parameter names follow the official checkpoint (``residual.{0,2,3,6}``, ``shortcut``, ``gamma``,
``to_qkv``/``proj``, ``resample.1``, ``time_conv``); the parameter-free entries of the official
``nn.Sequential`` containers (SiLU, dropout, padding; an identity where the upsampling was, which the
convolution after it applies: vae_upsample.py) are kept so the indices line up.
Shapes: B batch, C channels, t frames of this chunk, H W the spatial size at this level.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...ops.causal_conv3d import causal_conv3d
from ...ops.channel_rms_norm import channel_rms_norm
from .vae_layout import memory_format_of
from .vae_upsample import UpsampleConv2d

ResampleMode = Literal["downsample2d", "downsample3d", "upsample2d", "upsample3d"]


class ChunkCache:
    """What one encode or decode call carries from a chunk to the next.

    ``frames(owner)`` is the tail of ``owner``'s input seen so far (None before its first chunk);
    ``first_chunk(owner)`` is True exactly once per owner, for the temporal resamples whose first
    chunk follows its own rule. Owners are modules, compared by identity. A new cache must be used
    for every clip: reusing one would leak the previous clip's frames into the next.
    """

    def __init__(self) -> None:
        self._frames: dict[nn.Module, Tensor] = {}
        self._started: set[nn.Module] = set()

    def frames(self, owner: nn.Module) -> Tensor | None:
        return self._frames.get(owner)

    def store(self, owner: nn.Module, frames: Tensor) -> None:
        # clone: a slice would keep the whole chunk's activation alive until the next chunk, which is
        # the memory the chunking exists to save.
        self._frames[owner] = frames.clone()

    def first_chunk(self, owner: nn.Module) -> bool:
        if owner in self._started:
            return False
        self._started.add(owner)
        return True


class CausalConv3d(nn.Conv3d):
    """3D convolution that is causal in time: ``2 * padding[0]`` frames of left context, none on the right.

    Built like ``nn.Conv3d`` (same parameters and names); the temporal padding is taken over by
    ``forward``, which fills it first with the frames the previous chunk left in the cache and then
    with zeros, so chunked calls equal one causal convolution over the whole clip.
    x: [B, C_in, t, H, W] -> [B, C_out, t', H', W'] in x's dtype.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int],
        stride: int | tuple[int, int, int] = 1,
        padding: int | tuple[int, int, int] = 0,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        pad_t, pad_h, pad_w = self.padding
        # The official model keeps 2 * pad_t past frames (2 for every 3-tap causal conv). The spatial
        # padding is symmetric zeros, which the convolution applies itself (no padded copy of the input);
        # only the temporal context is built here.
        self.context = 2 * pad_t
        self.padding = (0, pad_h, pad_w)
        # Set by WanVAE.use_conv_kernel where ``conv_kernel_applies``: ops.causal_conv3d (a Triton kernel on
        # CUDA for channels-last input) instead of cuDNN.
        self.conv_kernel = False

    def conv_kernel_applies(self) -> bool:
        """Whether ops.causal_conv3d computes this convolution: stride 1, odd spatial kernel padded by half of
        it, no groups or dilation (every causal convolution of the Wan VAE's decoder)."""
        _, kh, kw = self.kernel_size
        return (
            self.stride == (1, 1, 1)
            and self.groups == 1
            and self.dilation == (1, 1, 1)
            and kh % 2 == 1
            and kw % 2 == 1
            and self.padding == (0, kh // 2, kw // 2)
        )

    def _convolve(self, x: Tensor) -> Tensor:
        if self.conv_kernel:
            return causal_conv3d(x, self.weight, self.bias)
        return super().forward(x)

    def forward(self, x: Tensor, cache: ChunkCache | None = None, *, with_context: bool = False) -> Tensor:
        """x: [B, C_in, t, H, W]; cache: the clip's chunk cache, or None to treat x as the whole clip.
        with_context=True: x is a filled ``context_buffer`` (its first ``context`` frames are the context);
        its last ``context`` frames are kept for the next chunk. (Where the clip so far is shorter than
        the context they include leading zeros, exactly the zeros the next chunk would pad with.)"""
        if self.context == 0:
            return self._convolve(x)
        if with_context:
            if cache is None:
                raise ValueError("with_context=True needs the clip's cache (from context_buffer)")
            cache.store(self, x[:, :, -self.context :])
            return self._convolve(x)
        past = cache.frames(self) if cache is not None else None
        if past is not None:
            x = torch.cat([past, x], dim=2)
        if cache is not None:
            # Keep the last `context` input frames, reaching back into the stored ones when this
            # chunk is shorter than the context (the decoder's first levels see 1 frame per chunk).
            cache.store(self, x[:, :, -self.context :])
        zeros = self.context - (0 if past is None else past.shape[2])
        return self._convolve(F.pad(x, (0, 0, 0, 0, zeros, 0)) if zeros else x)

    def context_buffer(self, x: Tensor, cache: ChunkCache) -> tuple[Tensor, Tensor] | None:
        """The input this convolution will read for a chunk shaped like x, with its causal context in place.

        Returns (buffer [B, C_in, context + t, H, W], slot = buffer[:, :, context:]): the buffer's first
        frames already hold the context (the cached past frames, zeros where the clip has none), and the
        caller writes this chunk's input into ``slot``, then calls ``self(buffer, cache, with_context=True)``. That
        equals ``forward(input, cache)`` without concatenating the chunk behind its context (a copy of the
        whole activation). None when the slot could not be written as one [positions, C] matrix (the
        activations are not channels-last, or B > 1): use ``forward``.
        """
        if self.context == 0 or x.shape[0] != 1 or memory_format_of(x) != torch.channels_last_3d:
            return None
        b, c, t, h, w = x.shape
        buffer = torch.empty(
            (b, c, self.context + t, h, w),
            dtype=x.dtype,
            device=x.device,
            memory_format=torch.channels_last_3d,
        )
        past = cache.frames(self)
        kept = 0 if past is None else past.shape[2]
        buffer[:, :, : self.context - kept].zero_()
        if past is not None:
            buffer[:, :, self.context - kept : self.context].copy_(past)
        return buffer, buffer[:, :, self.context :]


class RMSNorm(nn.Module):
    """``x / max(||x||_2 over channels, 1e-12) * sqrt(C) * gamma`` (models.md §5), no bias.

    ``gamma`` is [C, 1, 1, 1] for 5D video input and [C, 1, 1] for 4D per-frame input, the official
    shapes. Computed in x's dtype, as the reference does (TurboDiffusion runs it in bf16).
    """

    def __init__(self, channels: int, images: bool = False) -> None:
        super().__init__()
        self.scale = channels**0.5
        self.gamma = nn.Parameter(torch.ones(channels, 1, 1) if images else torch.ones(channels, 1, 1, 1))
        # Set by WanVAE.enable_fused_ops: one ops.channel_rms_norm pass (fp32 inside), SiLU included when
        # a SiLU follows (run_layers), instead of the eager chain in x's dtype.
        self.fused = False

    def forward(self, x: Tensor, silu: bool = False, out: Tensor | None = None) -> Tensor:
        """x: [B, C, t, H, W] (or [B, C, H, W] when built with images=True) -> same shape and dtype.
        silu=True and out (a buffer shaped like x, written and returned) are for the fused path only:
        it applies the SiLU that follows in the same pass and can write into a convolution's context
        buffer."""
        if self.fused:
            return channel_rms_norm(x, self.gamma, silu=silu, out=out)
        if silu or out is not None:
            raise ValueError(
                "RMSNorm takes silu=True or out= only on the fused path (WanVAE.enable_fused_ops)"
            )
        # F.normalize's division, with the norm first laid out like x: dividing a channels-last x by the
        # norm broadcast over channels (its innermost dim) takes a slow strided path on the CPU (3 of
        # this norm's 4.4 ms on a [1, 16, 4, 256, 256] bf16 clip; 1.9 ms so). Same values, bit for bit.
        norm = torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp_min(1e-12)
        denom = torch.empty_like(x).copy_(norm.expand_as(x))
        return x / denom * self.scale * self.gamma


def run_layers(layers: nn.Sequential, x: Tensor, cache: ChunkCache) -> Tensor:
    """Apply ``layers`` in order, passing the chunk cache to causal convolutions.

    On the fused path a RMSNorm takes the SiLU right after it into its own pass, and when a causal
    convolution follows (past an inference-time Dropout, the identity) the norm writes straight into that
    convolution's context buffer, so the chunk is never copied behind its past frames.
    """
    items = [m for m in layers if not (isinstance(m, nn.Dropout) and not m.training)]
    i = 0
    while i < len(items):
        layer = items[i]
        fuse_silu = isinstance(layer, RMSNorm) and layer.fused and i + 1 < len(items)
        if fuse_silu and isinstance(items[i + 1], nn.SiLU):
            conv = items[i + 2] if i + 2 < len(items) else None
            buffer = conv.context_buffer(x, cache) if isinstance(conv, CausalConv3d) else None
            if buffer is not None:
                layer(x, silu=True, out=buffer[1])
                x = conv(buffer[0], cache, with_context=True)
                i += 3
                continue
            x = layer(x, silu=True)
            i += 2
            continue
        x = layer(x, cache) if isinstance(layer, CausalConv3d) else layer(x)
        i += 1
    return x


class ResidualBlock(nn.Module):
    """``RMSNorm, SiLU, CausalConv3d 3^3, RMSNorm, SiLU, Dropout, CausalConv3d 3^3`` plus a shortcut.

    The shortcut is a 1^3 CausalConv3d when the width changes, else the identity.
    x: [B, in_channels, t, H, W] -> [B, out_channels, t, H, W].
    """

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            RMSNorm(in_channels),
            nn.SiLU(),
            CausalConv3d(in_channels, out_channels, 3, padding=1),
            RMSNorm(out_channels),
            nn.SiLU(),
            nn.Dropout(dropout),
            CausalConv3d(out_channels, out_channels, 3, padding=1),
        )
        self.shortcut = (
            CausalConv3d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        )

    def forward(self, x: Tensor, cache: ChunkCache) -> Tensor:
        return run_layers(self.residual, x, cache) + self.shortcut(x)


class AttentionBlock(nn.Module):
    """Single-head self-attention over the H*W positions of each frame, with a residual connection.

    ``RMSNorm`` (images), 1x1 Conv2d C -> 3C (q, k, v are the channel thirds), attention with scale
    1/sqrt(C), 1x1 Conv2d, plus the input. Frames do not interact, so it needs no cache.
    x: [B, C, t, H, W] -> same shape and dtype.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = RMSNorm(channels, images=True)
        self.to_qkv = nn.Conv2d(channels, channels * 3, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor, cache: ChunkCache | None = None) -> Tensor:
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        qkv = self.to_qkv(self.norm(frames))  # [B*t, 3C, H, W]
        # [B*t, 1, HW, 3C] made contiguous as the reference does: SDPA rounds differently on strided
        # inputs (fixture latent rel L2 3.3e-7 strided vs 3.0e-7 contiguous, CPU).
        # (A permute, not a reshape of [B*t, 3C, H, W]: in channels-last memory it is a view.)
        q, k, v = qkv.permute(0, 2, 3, 1).reshape(b * t, 1, h * w, 3 * c).contiguous().chunk(3, dim=-1)
        # SDPA directly (not the attention registry): this is the VAE's own one-head attention with
        # head dim C (up to 384), which the DiT backends are not built for.
        o = F.scaled_dot_product_attention(q, k, v)  # default scale 1/sqrt(C), as the reference
        o = self.proj(o.squeeze(1).transpose(1, 2).reshape(b * t, c, h, w))
        return o.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4) + x


class _ZeroPadRightBottom(nn.Module):
    """Pads one zero column on the right and one zero row at the bottom (before a stride-2 3x3 conv)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, (0, 1, 0, 1))


class Resample(nn.Module):
    """Spatial x2 down/up-sampling, optionally with the temporal x2 of the official ``time_conv``.

    * ``downsample2d``: pad right/bottom by 1, Conv2d 3x3 stride 2 (C -> C), per frame.
    * ``downsample3d``: the same, then ``time_conv`` (3-tap, stride 2, no padding) over the frames
      ``[y_0, y_1, ...]`` of the clip: output ``[y_0, tc(y_0, y_1, y_2), tc(y_2, y_3, y_4), ...]``.
      The first chunk passes through; later chunks prepend the last frame of the previous one.
    * ``upsample2d``: nearest x2, Conv2d 3x3 (C -> C/2), per frame.
    * ``upsample3d``: first ``time_conv`` (causal 3-tap, C -> 2C; channels ``[0, C)`` become the earlier
      and ``[C, 2C)`` the later of two frames), then the ``upsample2d`` step. The clip's first frame
      passes through and is never in ``time_conv``'s context (it starts from zeros at frame 1).
    x: [B, C, t, H, W] -> [B, C or C/2, t', H', W'] with t' as above.
    """

    def __init__(self, channels: int, mode: ResampleMode) -> None:
        super().__init__()
        self.mode = mode
        if mode in ("downsample2d", "downsample3d"):
            # Index 0 holds the parameter-free step so the conv keeps the official name `resample.1`.
            self.resample = nn.Sequential(_ZeroPadRightBottom(), nn.Conv2d(channels, channels, 3, stride=2))
        elif mode in ("upsample2d", "upsample3d"):
            # Index 0 stands for the official nearest x2, which the conv at index 1 applies itself
            # (vae_upsample.py: it can skip the repeated image).
            self.resample = nn.Sequential(nn.Identity(), UpsampleConv2d(channels, channels // 2))
        else:
            raise ValueError(
                f"Resample mode must be downsample2d, downsample3d, upsample2d or upsample3d (got {mode!r})"
            )
        if mode == "downsample3d":
            self.time_conv = CausalConv3d(channels, channels, (3, 1, 1), stride=(2, 1, 1))
        elif mode == "upsample3d":
            self.time_conv = CausalConv3d(channels, channels * 2, (3, 1, 1), padding=(1, 0, 0))

    def _per_frame(self, x: Tensor) -> Tensor:
        b, c, t, h, w = x.shape
        y = self.resample(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w))
        return y.reshape(b, t, *y.shape[1:]).permute(0, 2, 1, 3, 4)

    def forward(self, x: Tensor, cache: ChunkCache) -> Tensor:
        if self.mode == "upsample3d" and not cache.first_chunk(self):
            b, c, t, h, w = x.shape
            pairs = self.time_conv(x, cache).unflatten(1, (2, c))  # [B, 2, C, t, H, W], a view
            # Interleave: frame 2j from channels [0, C), frame 2j+1 from [C, 2C). One copy, into the
            # memory format the convolutions run in.
            out = torch.empty(
                (b, c, 2 * t, h, w), dtype=x.dtype, device=x.device, memory_format=memory_format_of(x)
            )
            out.unflatten(2, (t, 2)).copy_(pairs.permute(0, 2, 3, 1, 4, 5))
            x = out
        y = self._per_frame(x)
        if self.mode == "downsample3d":
            previous = cache.frames(self)
            cache.store(self, y[:, :, -1:])
            if previous is not None:
                # No padding: the stored frame plus an even chunk gives exactly the stride-2 windows.
                y = self.time_conv(torch.cat([previous, y], dim=2))
        return y
