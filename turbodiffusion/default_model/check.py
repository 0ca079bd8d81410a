"""Prompt adherence of trained weights on the held-out prompts, right after training, on the training device.

The held-out prompts' MiniLM states come from the caption bank (encoded where the MiniLM weights are), so
this runs on a GPU machine that has only the work folder. Each configuration renders every prompt once
(one batch), the frames go through the world's analyser, and the result is the fraction of videos whose
colour, shape, direction and background are all right, plus each attribute's own rate. The shipped
evaluation with whole pipelines is ``python -m turbodiffusion.eval.synthetic``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..attention import AttentionConfig
from ..models.wan.dit import WanDiT
from ..models.wan.vae import WanVAE
from ..quant import Int8Config, quantize_
from ..sampling.rcm import rcm_sample
from ..sampling.unipc import flow_unipc_sample, guided

ATTRIBUTES = ("colour", "shape", "direction", "background", "object", "all")  # object: the first three


def to_frames(video: Tensor) -> Tensor:
    """Decoder output [B, 3, T, H, W] (any float) -> uint8 [B, T, H, W, 3] on the CPU, clamped to [-1, 1]."""
    from ..world.render import to_uint8_frames

    return torch.stack([to_uint8_frames(clip) for clip in video]).cpu()


def adherence(frames: Tensor, keys: list[tuple]) -> dict[str, float]:
    """Percent of videos right per attribute and overall. frames: uint8 [B, T, H, W, 3]; keys: B
    (colour, shape, direction, background or None) as prompted."""
    from ..eval.analyser import analyse, score
    from ..world.captions import PromptSpec

    hits = dict.fromkeys(ATTRIBUTES, 0)
    for clip, key in zip(frames, keys):
        result = score(analyse(clip), PromptSpec(*key))
        for name in ATTRIBUTES:
            hits[name] += bool(result[name])
    return {name: round(100.0 * count / len(keys), 1) for name, count in hits.items()}


def build_dit(
    config: str,
    teacher_state: dict[str, Tensor],
    student_state: dict[str, Tensor],
    dit_config,
    device: torch.device,
    dtype: torch.dtype = torch.bfloat16,
    sla_topk: float = 0.1,
) -> WanDiT:
    """The DiT of one configuration: "teacher", "student" (dense attention), "student+sla" or
    "student+sla+w8a8" (SLA at ``sla_topk`` with its trained proj_l; INT8 W8A8 linears), in eval mode."""
    sla = "sla" in config
    dit = WanDiT(dit_config, AttentionConfig("sla", sla_topk=sla_topk) if sla else AttentionConfig("sdpa"))
    state = teacher_state if config == "teacher" else student_state
    dit.load_state_dict({k: v for k, v in state.items() if sla or ".proj_l." not in k})
    dit = dit.to(device=device, dtype=dtype).eval()
    if config.endswith("w8a8"):
        quantize_(dit, Int8Config())
    return dit


def sample_videos(
    config: str,
    dit: WanDiT,
    vae: WanVAE,
    context: Tensor,
    uncond: Tensor,
    latent_shape: tuple[int, ...],
    *,
    teacher_steps: int,
    guidance: float,
    shift: float,
    seed: int = 0,
) -> Tensor:
    """Decoded videos [B, 3, T, H, W] (VAE dtype) of one configuration for contexts [B, Lt, text_dim];
    uncond [1, Lt, text_dim]. The teacher samples with UniPC and CFG, the students with 4 rCM steps."""
    device, dtype = dit.patch_embedding.weight.device, dit.patch_embedding.weight.dtype  # W8A8 spares it
    ctx = context.to(device, dtype)
    unc = uncond.to(device, dtype).expand_as(ctx)
    gen = torch.Generator(device).manual_seed(seed)
    with torch.inference_mode():
        if config == "teacher":
            velocity = guided(
                lambda x, tau: dit(x, tau.to(dtype), ctx), lambda x, tau: dit(x, tau.to(dtype), unc), guidance
            )
            noise = torch.randn(latent_shape, generator=gen, device=device)
            latent = flow_unipc_sample(velocity, noise, steps=teacher_steps, shift=shift)
        else:
            latent = rcm_sample(
                lambda x, tau: dit(x, tau.to(dtype), ctx), latent_shape, generator=gen, steps=4
            )
        return torch.cat([vae.decode(latent[i : i + 8]) for i in range(0, latent.shape[0], 8)])
