"""Wan2.1 / Wan2.2 networks: the DiT (config presets, RoPE, model) and the Wan2.1 VAE.

Names are imported on first use (``turbodiffusion.lazy``): the configs need no torch.
"""

from __future__ import annotations

from ...lazy import lazy_exports

_HOMES = {
    "DIT_PRESETS": ".config",
    "WAN21_T2V_1_3B": ".config",
    "WAN21_T2V_14B": ".config",
    "WAN22_I2V_A14B": ".config",
    "WanDiTConfig": ".config",
    "check_video_shape": ".config",
    "dit_preset": ".config",
    "WanDiT": ".dit",
    "TextContextCache": ".text_cache",
    "WAN21_VAE": ".vae_config",
    "WanVAEConfig": ".vae_config",
    "WanVAE": ".vae",
}
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
__all__ = sorted(_HOMES)
