"""Wan DiT hyper-parameters, the released presets, and the video-size rule (shared/docs/models.md §2).

A ``WanDiTConfig`` describes what a checkpoint needs and nothing else: attention backend, quantisation,
device and dtype are chosen elsewhere. Official ``config.json`` files (and the ``config`` of our
manifests and golden fixtures) enter through ``WanDiTConfig.from_official``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

ModelType = Literal["t2v", "i2v"]

# Pixel-space factors between a video and the DiT's token grid: the Wan2.1 VAE compresses time by 4
# (frame 0 alone, then groups of 4) and space by 8; the DiT's (1, 2, 2) patch halves h and w again.
_VAE_TIME_STRIDE = 4
_PIXELS_PER_TOKEN = 16

_INT_FIELDS = (
    "dim",
    "ffn_dim",
    "num_heads",
    "num_layers",
    "in_dim",
    "out_dim",
    "text_dim",
    "text_len",
    "freq_dim",
)

# Keys of an official Wan config.json that we accept but that do not become fields: the value each must
# have for the network we build (anything else is a different architecture and is refused by name).
_FIXED_OFFICIAL_KEYS: dict[str, Any] = {
    "qk_norm": True,  # RMSNorm on q and k in both attentions
    "cross_attn_norm": True,  # the affine "norm3" before cross-attention
    "window_size": (-1, -1),  # global (not windowed) self-attention
}
# Bookkeeping keys written by diffusers' ConfigMixin; they say nothing about the network.
_IGNORED_OFFICIAL_KEYS = ("_diffusers_version", "_name_or_path")
_OFFICIAL_CLASS_NAME = "WanModel"
# Official model types of the same WanModel class that TurboDiffusion does not run.
_UNSUPPORTED_MODEL_TYPES = ("flf2v", "vace", "ti2v", "s2v")


@dataclass(frozen=True)
class WanDiTConfig:
    """Hyper-parameters of a Wan2.1 / Wan2.2 DiT; field names are those of the official config.json."""

    dim: int  # model width; head_dim = dim // num_heads (128 for every released model)
    ffn_dim: int  # hidden width of each block's GELU(tanh) feed-forward
    num_heads: int  # attention heads, in self- and cross-attention alike
    num_layers: int  # transformer blocks
    in_dim: int = 16  # channels entering the patch embedding: 16 (t2v), 16 + 20 conditioning (i2v)
    out_dim: int = 16  # latent channels the head predicts (the velocity)
    text_dim: int = 4096  # width of the text encoder's output (umT5-XXL)
    text_len: int = 512  # context rows; shorter contexts are zero-padded to this, as official Wan does
    freq_dim: int = 256  # width of the sinusoidal timestep embedding (cos half, then sin half)
    eps: float = 1e-6  # epsilon of every LayerNorm and RMSNorm
    model_type: ModelType = "t2v"  # "i2v": y (mask + image latent) is concatenated after x on channels
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (frames, height, width) in latent cells per token

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int (got {value!r})")
        if isinstance(self.eps, bool) or not isinstance(self.eps, int | float) or not self.eps > 0:
            raise ValueError(f"eps must be a positive float (got {self.eps!r}); Wan uses 1e-6")
        if self.freq_dim % 2:
            raise ValueError(
                f"freq_dim must be even: the timestep embedding is a cos half and a sin half "
                f"(got {self.freq_dim}); Wan uses 256"
            )
        if self.dim % self.num_heads:
            raise ValueError(
                f"dim={self.dim} is not divisible by num_heads={self.num_heads}; pick num_heads dividing dim "
                f"(released models use head_dim 128)"
            )
        head_dim = self.dim // self.num_heads
        if head_dim % 2 or head_dim < 6:
            raise ValueError(
                f"head_dim = dim // num_heads must be even and >= 6, so that RoPE rotates channel pairs on "
                f"each of its three axes (got {head_dim} = {self.dim} // {self.num_heads})"
            )
        if self.model_type not in ("t2v", "i2v"):
            raise ValueError(f'model_type must be "t2v" or "i2v" (got {self.model_type!r})')
        if self.model_type == "t2v" and self.in_dim != self.out_dim:
            raise ValueError(
                f"a t2v model takes only the noisy latent, so in_dim must equal out_dim "
                f"(got in_dim={self.in_dim}, out_dim={self.out_dim}); use model_type='i2v' for conditioning"
            )
        if self.model_type == "i2v" and self.in_dim <= self.out_dim:
            raise ValueError(
                f"an i2v model concatenates y after the {self.out_dim}-channel latent, so in_dim must exceed "
                f"out_dim (got in_dim={self.in_dim}, out_dim={self.out_dim}); Wan2.2-I2V uses in_dim=36"
            )
        patch = self.patch_size
        if isinstance(patch, list):  # JSON has no tuples; normalise so equality and hashing work
            patch = tuple(patch)
            object.__setattr__(self, "patch_size", patch)
        if (
            not isinstance(patch, tuple)
            or len(patch) != 3
            or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in patch)
        ):
            raise ValueError(f"patch_size must be three positive ints (frames, h, w) (got {patch!r})")

    @property
    def head_dim(self) -> int:
        """Channels per attention head (D)."""
        return self.dim // self.num_heads

    @property
    def cond_dim(self) -> int:
        """Channels of the i2v conditioning y (mask + image latent): in_dim - out_dim, 0 for t2v."""
        return self.in_dim - self.out_dim

    @classmethod
    def from_official(cls, d: dict[str, Any]) -> WanDiTConfig:
        """Build from an official Wan ``config.json`` dict, a manifest's or fixture's ``config``, or ``to_dict()``.

        Accepted besides the fields: ``_class_name`` (must be "WanModel"), diffusers bookkeeping keys
        (ignored), and ``qk_norm`` / ``cross_attn_norm`` / ``window_size`` at the one value our network
        implements. Any other key is refused by name, so a config of another architecture cannot load.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a Wan config must be a dict (got {type(d).__name__})")
        fields = {f.name for f in dataclasses.fields(cls)}
        known = fields | set(_FIXED_OFFICIAL_KEYS) | set(_IGNORED_OFFICIAL_KEYS) | {"_class_name"}
        unknown = sorted(k for k in d if k not in known)
        if unknown:
            raise ValueError(
                f"unknown Wan DiT config keys: {', '.join(unknown)}; accepted keys are {', '.join(sorted(known))}"
            )
        class_name = d.get("_class_name", _OFFICIAL_CLASS_NAME)
        if class_name != _OFFICIAL_CLASS_NAME:
            raise ValueError(
                f'_class_name must be "{_OFFICIAL_CLASS_NAME}" (got {class_name!r}); diffusers-format '
                f"configs (WanTransformer3DModel) are not accepted: use the official Wan config.json"
            )
        for key, required in _FIXED_OFFICIAL_KEYS.items():
            if key in d:
                value = tuple(d[key]) if isinstance(d[key], list | tuple) else d[key]
                if value != required:
                    raise ValueError(
                        f"{key}={d[key]!r} is a Wan variant TurboDiffusion does not implement; "
                        f"only {key}={required!r} is supported"
                    )
        model_type = d.get("model_type", "t2v")
        if model_type in _UNSUPPORTED_MODEL_TYPES:
            raise ValueError(
                f'model_type {model_type!r} is not supported; TurboDiffusion runs "t2v" and "i2v" '
                f"(Wan2.2-I2V-A14B) models"
            )
        kwargs = {k: v for k, v in d.items() if k in fields}
        missing = sorted(f for f in ("dim", "ffn_dim", "num_heads", "num_layers") if f not in kwargs)
        if missing:
            raise ValueError(f"Wan DiT config lacks required keys: {', '.join(missing)}")
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field (patch_size as a list); ``from_official`` reads it back."""
        out = dataclasses.asdict(self)
        out["patch_size"] = list(self.patch_size)
        return out


WAN21_T2V_1_3B = WanDiTConfig(dim=1536, ffn_dim=8960, num_heads=12, num_layers=30)
WAN21_T2V_14B = WanDiTConfig(dim=5120, ffn_dim=13824, num_heads=40, num_layers=40)
# Both Wan2.2-I2V-A14B experts (high noise, low noise) have this layout; no CLIP image branch.
WAN22_I2V_A14B = WanDiTConfig(
    dim=5120, ffn_dim=13824, num_heads=40, num_layers=40, in_dim=36, model_type="i2v"
)

DIT_PRESETS: dict[str, WanDiTConfig] = {
    "wan2.1-t2v-1.3b": WAN21_T2V_1_3B,
    "wan2.1-t2v-14b": WAN21_T2V_14B,
    "wan2.2-i2v-a14b": WAN22_I2V_A14B,
}


def dit_preset(name: str) -> WanDiTConfig:
    """The preset called exactly ``name`` (one of DIT_PRESETS); ValueError listing the known names."""
    if name not in DIT_PRESETS:
        raise ValueError(f"unknown Wan DiT preset {name!r}; known presets: {', '.join(DIT_PRESETS)}")
    return DIT_PRESETS[name]


def _nearest(value: int, step: int, offset: int) -> list[int]:
    """Valid values ``step*k + offset >= max(offset, 1)`` just below and above ``value``."""
    below = (value - offset) // step * step + offset
    candidates = [below, below + step]
    return [c for c in candidates if c >= max(offset, 1)]


def check_video_shape(num_frames: int, height: int, width: int) -> None:
    """Validate a pixel-space video size for the Wan VAE + DiT: raises ValueError naming valid sizes.

    num_frames must be 4k+1 (the VAE keeps frame 0 and compresses each further 4 frames into one latent
    frame); height and width must be multiples of 16 (VAE x8, then the DiT's 2x2 patch).
    """
    for name, value in (("num_frames", num_frames), ("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int (got {value!r})")
    if (num_frames - 1) % _VAE_TIME_STRIDE:
        options = " or ".join(map(str, _nearest(num_frames, _VAE_TIME_STRIDE, 1)))
        raise ValueError(f"num_frames must be 4k+1 (got {num_frames}); use {options}")
    for name, value in (("height", height), ("width", width)):
        if value % _PIXELS_PER_TOKEN:
            options = " or ".join(map(str, _nearest(value, _PIXELS_PER_TOKEN, 0)))
            raise ValueError(f"{name} must be a multiple of 16 (got {value}); use {options}")


__all__ = [
    "DIT_PRESETS",
    "WAN21_T2V_14B",
    "WAN21_T2V_1_3B",
    "WAN22_I2V_A14B",
    "WanDiTConfig",
    "check_video_shape",
    "dit_preset",
]
