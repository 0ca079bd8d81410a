"""A tiny default-model folder written with the real writer (random weights), for the loader, pipeline
and CLI tests. dim and ffn_dim are multiples of 128 so W8A8 applies; head_dim 64 for SLA."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import Tensor

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.default_model.config import MINILM_DIM, TEXT_LEN, DefaultVideo
from turbodiffusion.default_model.files import DefaultModelConfig, write_default_model
from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.models.wan.vae import WanVAE, WanVAEConfig
from turbodiffusion.pipelines.builtin import random_state_dict

TINY_DIT = WanDiTConfig(
    dim=128, ffn_dim=256, num_heads=2, num_layers=1, text_dim=MINILM_DIM, text_len=TEXT_LEN
)
TINY_VAE = WanVAEConfig(
    dim=8,
    z_dim=16,
    dim_mult=(1, 1, 1, 1),
    num_res_blocks=1,
    latent_mean=tuple(0.05 * i - 0.4 for i in range(16)),
    latent_std=tuple(0.5 + 0.125 * i for i in range(16)),
)
TEACHER_SAMPLING = {"sampler": "unipc", "steps": 3, "guidance": 4.5, "shift": 3.0}
TINY_CONFIG = DefaultModelConfig(
    dit=TINY_DIT,
    vae=TINY_VAE,
    teacher_sampling=TEACHER_SAMPLING,
    video=DefaultVideo(num_frames=5, height=32, width=32, fps=8),
    training={"teacher": {"steps": 10, "loss": [0.5, 0.25]}, "note": "tiny test model"},
)
CARD = "# Tiny test model\n\nRandom weights.\n"


def random_states(config: DefaultModelConfig, seed: int = 0) -> dict[str, dict[str, Tensor]]:
    """Random teacher, student (with non-zero proj_l) and VAE state dicts for ``config``."""
    g = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        teacher = WanDiT(config.dit, AttentionConfig(backend="sdpa"))
        student = WanDiT(config.dit, AttentionConfig(backend="sla"))
        vae = WanVAE(config.vae)
    return {
        "teacher": random_state_dict(teacher, g),
        "student": random_state_dict(student, g),
        "vae": random_state_dict(vae, g),
    }


def write_tiny(folder: Path, config: DefaultModelConfig = TINY_CONFIG, seed: int = 0) -> Path:
    write_default_model(folder, config, **random_states(config, seed), card=CARD)
    return folder


def tiny_config(**changes) -> DefaultModelConfig:
    return dataclasses.replace(TINY_CONFIG, **changes)
