"""Wan2.1 / Wan2.2 networks: the DiT (config presets, RoPE, model) and the Wan2.1 VAE."""

from .config import (
    DIT_PRESETS,
    WAN21_T2V_1_3B,
    WAN21_T2V_14B,
    WAN22_I2V_A14B,
    WanDiTConfig,
    check_video_shape,
    dit_preset,
)
from .dit import WanDiT
from .text_cache import TextContextCache
from .vae import WAN21_VAE, WanVAE, WanVAEConfig

__all__ = [
    "DIT_PRESETS",
    "WAN21_T2V_14B",
    "WAN21_T2V_1_3B",
    "WAN22_I2V_A14B",
    "WAN21_VAE",
    "TextContextCache",
    "WanDiT",
    "WanDiTConfig",
    "WanVAE",
    "WanVAEConfig",
    "check_video_shape",
    "dit_preset",
]
