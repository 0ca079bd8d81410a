"""Tiny random models written to disk in the official release layouts (models.md §7), for loading tests.

- DiT: safetensors with the official Conv3d patch embedding [dim, in_dim, 1, 2, 2] and an official
  config.json; Wan2.2 I2V as high_noise_model/ and low_noise_model/, each sharded with an index json.
- Wan2.1_VAE.pth: a tiny VAE's plain state dict (torch.save), fp32 like the release.
- models_t5_umt5-xxl-enc-bf16.pth: a tiny umT5 encoder's state dict in bf16.
- google/umt5-xxl/tokenizer.json: a word-level tokenizer built with the `tokenizers` library.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from turbodiffusion.models.checkpoint_io import save_safetensors
from turbodiffusion.models.umt5 import UMT5Config, UMT5Encoder
from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.models.wan.vae import WanVAE, WanVAEConfig
from turbodiffusion.pipelines.builtin import random_state_dict
from turbodiffusion.pipelines.components import ComponentConfigs

WORDS = ["a", "red", "circle", "moving", "right", "blue", "cat", "on", "the", "beach", "sunset"]
TEXT_LEN = 16
TINY_UMT5 = UMT5Config(
    vocab_size=3 + len(WORDS), dim=32, dim_attn=32, dim_ffn=64, num_heads=2, num_layers=1, text_len=TEXT_LEN
)
TINY_VAE = WanVAEConfig(dim=8, z_dim=16, dim_mult=(1, 1, 1, 1), num_res_blocks=1)
TINY_T2V = WanDiTConfig(dim=64, ffn_dim=128, num_heads=2, num_layers=1, text_dim=32, text_len=TEXT_LEN)
TINY_I2V = WanDiTConfig(
    dim=64,
    ffn_dim=128,
    num_heads=2,
    num_layers=1,
    in_dim=36,
    text_dim=32,
    text_len=TEXT_LEN,
    model_type="i2v",
)
# What from_pretrained needs to know about the tiny VAE and umT5 (the DiT comes from config.json).
TINY_CONFIGS = ComponentConfigs(vae=TINY_VAE, umt5=TINY_UMT5)


def _random(module_cls, config, seed: int) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        module = module_cls(config)
    return random_state_dict(module, torch.Generator().manual_seed(seed))


def _official_config(cfg: WanDiTConfig) -> dict:
    d = cfg.to_dict()
    d.update({"_class_name": "WanModel", "qk_norm": True, "cross_attn_norm": True, "window_size": [-1, -1]})
    return d


def write_dit(folder: Path, cfg: WanDiTConfig, seed: int, *, shards: int = 1) -> dict[str, torch.Tensor]:
    """Official Wan DiT files in ``folder``; returns the state dict in our (Linear patch) layout."""
    folder.mkdir(parents=True, exist_ok=True)
    state = _random(WanDiT, cfg, seed)
    files = dict(state)
    # The release stores the patch embedding as the Conv3d it is in the official code.
    files["patch_embedding.weight"] = state["patch_embedding.weight"].reshape(cfg.dim, cfg.in_dim, 1, 2, 2)
    (folder / "config.json").write_text(json.dumps(_official_config(cfg)))
    if shards == 1:
        save_safetensors(files, folder / "diffusion_pytorch_model.safetensors")
        return state
    names = sorted(files)
    weight_map = {}
    for i in range(shards):
        shard = f"diffusion_pytorch_model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = names[i::shards]
        save_safetensors({n: files[n] for n in part}, folder / shard)
        weight_map.update({n: shard for n in part})
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(index))
    return state


def write_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))


def write_shared(folder: Path, seed: int = 100) -> None:
    """Wan2.1_VAE.pth, the umT5 .pth and the tokenizer folder."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(_random(WanVAE, TINY_VAE, seed), folder / "Wan2.1_VAE.pth")
    umt5 = {k: v.to(torch.bfloat16) for k, v in _random(UMT5Encoder, TINY_UMT5, seed + 1).items()}
    torch.save(umt5, folder / "models_t5_umt5-xxl-enc-bf16.pth")
    write_tokenizer(folder / "google" / "umt5-xxl")


def write_wan21_t2v(folder: Path) -> Path:
    """The Wan-AI/Wan2.1-T2V-1.3B layout with tiny networks."""
    write_dit(folder, TINY_T2V, seed=1)
    write_shared(folder)
    return folder


def write_wan22_i2v(folder: Path) -> Path:
    """The Wan-AI/Wan2.2-I2V-A14B layout (two experts, sharded) with tiny networks."""
    write_dit(folder / "high_noise_model", TINY_I2V, seed=2, shards=2)
    write_dit(folder / "low_noise_model", TINY_I2V, seed=3, shards=2)
    write_shared(folder)
    return folder
