"""Architecture, video size and file layout of the built-in default model (one place, read by both the
training script that writes the weights and the pipeline loader that reads them).

The shipped folder (``turbodiffusion/assets/default``) holds:
    config.json                 {"dit": WanDiTConfig fields, "vae": WanVAEConfig fields (trained latent
                                 statistics included), "text": {...}, "video": {...}, "training": {...}}
    teacher_dit.safetensors     flow-matching teacher (many steps, CFG), bf16
    student_dit.safetensors     rCM 4-step student with SLA (fine-tuned with it; holds SLA's proj_l), bf16
    vae.safetensors             the small Wan VAE, bf16
    MODEL_CARD.md               world, sizes, training steps and the measured metrics
Every file is at most ``MAX_SHIPPED_BYTES`` in total.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..models.wan.config import WanDiTConfig
from ..models.wan.vae_config import WanVAEConfig

MINILM_DIM = 384  # hidden width of all-MiniLM-L6-v2, the text encoder (its token states are the context)
TEXT_LEN = 16  # context rows: "a yellow triangle moving down on a purple background" is 12 word pieces
MAX_SHIPPED_BYTES = 25 * 2**20  # the ceiling for every weight file of the package together

# dim and ffn_dim are multiples of 128 so W8A8 (128x128 tiles) applies; head_dim 64 for the SLA kernels.
DEFAULT_DIT = WanDiTConfig(
    dim=256, ffn_dim=1024, num_heads=4, num_layers=4, text_dim=MINILM_DIM, text_len=TEXT_LEN
)
# Real 4x8x8 compression and 16 latent channels; narrow so a 33-frame 256x256 decode stays ~2 s on 2 CPU
# cores. latent_mean / latent_std here are placeholders: the trained statistics live in config.json.
DEFAULT_VAE = WanVAEConfig(
    dim=16,
    z_dim=16,
    dim_mult=(1, 2, 2, 2),
    num_res_blocks=1,
    latent_mean=(0.0,) * 16,
    latent_std=(1.0,) * 16,
)


@dataclass(frozen=True)
class DefaultVideo:
    """The default clip size: 33 frames of 256x256 -> latent 9x32x32 -> 2,304 DiT tokens (SLA sees 36 blocks
    of 64)."""

    num_frames: int = 33
    height: int = 256
    width: int = 256
    fps: int = 16


DEFAULT_VIDEO = DefaultVideo()
CONFIG_FILE = "config.json"
TEACHER_FILE = "teacher_dit.safetensors"
STUDENT_FILE = "student_dit.safetensors"
VAE_FILE = "vae.safetensors"
CARD_FILE = "MODEL_CARD.md"
WEIGHT_FILES = (TEACHER_FILE, STUDENT_FILE, VAE_FILE)


def shipped_dir() -> Path:
    """The folder of the shipped weights inside the installed package (it may not exist in a checkout whose
    weights were never trained; the loader says so)."""
    return Path(str(resources.files("turbodiffusion"))) / "assets" / "default"
