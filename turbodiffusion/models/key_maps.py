"""Checkpoint name tables: how names in files on disk map to our module names. Data only, no logic.

Our module names are the official Wan / TurboWan parameter names, so most keys pass through unchanged.
"""

from __future__ import annotations

# Prefixes stripped from every key before matching, tried in order. Training code wraps the network
# ("net." in rCM / TurboDiffusion training checkpoints), DDP adds "module.", torch.compile "_orig_mod.".
STRIP_PREFIXES: tuple[str, ...] = ("net.", "module.", "_orig_mod.", "model.")

# Keys in the official Wan DiT safetensors whose layout differs from ours, and the conversion.
# "conv3d_to_linear": a Conv3d weight [dim, in_dim, 1, 2, 2] flattened row-major is exactly our Linear weight
# [dim, in_dim * 4] (models.md §1 step 1).
DIT_LAYOUT_CONVERSIONS: dict[str, str] = {
    "patch_embedding.weight": "conv3d_to_linear",
}

# Keys that may appear in a file and are dropped on purpose, with the reason.
DIT_DROPPED_KEYS: dict[str, str] = {
    "freqs": "RoPE table of the official code: recomputed, never loaded",
}

# Marks that tell which kind of DiT checkpoint a file is, used for the hints in loading errors.
SLA_KEY_MARK = ".attn_op.local_attn.proj_l."
QUANT_KEY_MARK = ".int8_weight"

# Keys kept in float32 whatever dtype the model is loaded in: the W8A8 block scales are part of the format
# (quantization.md §4 "Keep scale in fp32").
FP32_KEY_SUFFIXES: tuple[str, ...] = (".scale",)
