"""The random smoke-test model ("builtin-random"): tiny networks with RANDOM weights, built in memory.

Not the default model (that is "builtin", trained on the synthetic world: turbodiffusion/default_model/).
It exists so that the whole pipeline runs end to end on a laptop CPU in a few seconds with no files at
all, for tests and benchmarks: a tiny WanDiT, a tiny Wan VAE with the real 4x8x8 compression and 16 latent
channels, and a tiny umT5-layout encoder fed by the UTF-8 byte tokenizer. Its videos are structured noise,
not pictures of the prompt; loading it logs a WARNING saying so. The weights come from a fixed seed, so the
same call always gives the same video.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..attention import AttentionConfig
from ..models.meta import on_meta
from ..models.umt5 import UMT5Config, UMT5Encoder
from ..models.wan.config import WanDiTConfig
from ..models.wan.dit import WanDiT
from ..models.wan.vae import WanVAE, WanVAEConfig
from .text import BYTE_VOCAB

BUILTIN_SEED = 20250101
BUILTIN_TEXT_LEN = 32
# dim and ffn_dim are multiples of 128 so that --quant (128x128 W8A8 tiles) works on it too; head_dim 64.
BUILTIN_DIT = WanDiTConfig(
    dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=64, text_len=BUILTIN_TEXT_LEN
)
# Real 4x8x8 compression and 16 latent channels, but 8 channels at every level: CPU conv3d time grows
# steeply with width, and this keeps a 17-frame 256x144 decode well under a second.
BUILTIN_VAE = WanVAEConfig(dim=8, z_dim=16, dim_mult=(1, 1, 1, 1), num_res_blocks=1)
BUILTIN_UMT5 = UMT5Config(
    vocab_size=BYTE_VOCAB,
    dim=64,
    dim_attn=64,
    dim_ffn=128,
    num_heads=4,
    num_layers=2,
    text_len=BUILTIN_TEXT_LEN,
)


def random_state_dict(
    module: nn.Module, generator: torch.Generator, *, dtype: torch.dtype = torch.float32
) -> dict[str, Tensor]:
    """Random tensors for every entry of ``module.state_dict()`` (the module may be on meta), drawn in
    float32 on the generator's device and each cast to ``dtype`` as it is drawn (so a 14B DiT in bf16 needs
    its bf16 size plus one float32 tensor, not its float32 size as well).

    Norm scales (names with "norm" or "gamma") are 1 + small noise, biases small, every other tensor
    normal with std 1 / sqrt(fan_in), so activations keep their scale through the layers. Names are
    visited in sorted order, so the result depends only on the generator's seed (and equals the float32
    result cast to ``dtype``).
    """
    out = {}
    for name, ref in sorted(module.state_dict().items()):
        shape = tuple(ref.shape)
        noise = torch.randn(shape, generator=generator, device=generator.device)
        leaf = name.rsplit(".", 2)[-2:]
        if "norm" in name or leaf[-1] == "gamma":
            value = 1.0 + 0.1 * noise
        elif leaf[-1] == "bias" or len(shape) < 2:
            value = 0.02 * noise
        else:
            value = noise / math.sqrt(max(1, math.prod(shape[1:])))
        out[name] = value.to(dtype)
    return out


def fill_random(model: nn.Module, generator: torch.Generator, dtype: torch.dtype) -> nn.Module:
    """Give a module built on meta random weights in ``dtype`` on the generator's device
    (``random_state_dict``); returns it in eval mode."""
    model.load_state_dict(random_state_dict(model, generator, dtype=dtype), strict=True, assign=True)
    return model.eval()


def _build(cls, config, *extra, generator: torch.Generator, dtype: torch.dtype) -> nn.Module:
    with on_meta():
        model = cls(config, *extra)
    return fill_random(model, generator, dtype)


def build_random(
    dit: WanDiTConfig,
    vae: WanVAEConfig,
    umt5: UMT5Config,
    attention: AttentionConfig,
    *,
    dtype: torch.dtype,
    device: torch.device | str = "cpu",
    seed: int = BUILTIN_SEED,
) -> tuple[WanDiT, WanVAE, UMT5Encoder]:
    """Random-weight DiT, VAE and umT5 of any size, drawn on ``device`` (a GPU makes full-size models in
    seconds, e.g. to time the 1.3B pipeline without a download). Same seed and device, same weights."""
    generator = torch.Generator(device).manual_seed(seed)
    return (
        _build(WanDiT, dit, attention, generator=generator, dtype=dtype),
        _build(WanVAE, vae, generator=generator, dtype=dtype),
        _build(UMT5Encoder, umt5, generator=generator, dtype=dtype),
    )


def build_builtin(
    attention: AttentionConfig, *, dtype: torch.dtype, seed: int = BUILTIN_SEED
) -> tuple[WanDiT, WanVAE, UMT5Encoder]:
    """The three tiny random-weight networks of "builtin-random" on the CPU, in ``dtype``."""
    return build_random(BUILTIN_DIT, BUILTIN_VAE, BUILTIN_UMT5, attention, dtype=dtype, seed=seed)
