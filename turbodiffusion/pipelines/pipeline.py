"""``TurboPipeline``: prompt (and image) in, video out, for T2V and I2V alike.

    pipe = TurboPipeline.from_pretrained("turbowan2.1-t2v-1.3b-480p", attention="sla")
    result = pipe("a red fox running through snow", num_frames=81, steps=4, seed=0)
    result.save("fox.mp4")

Stages, each timed (``VideoOutput.timings``) and with a progress bar on stderr:
1. text encoding: tokenise, umT5 on the device, then the encoder is parked on the CPU (skipped for a prompt
   one of the last calls encoded: ``PromptCache``);
2. (I2V) image encoding: resize + centre-crop, VAE-encode the clip (chunked), y = cat(mask, latent);
3. sampling: rCM (1-4 steps; the default) or the baseline UniPC / Euler with guidance, over the DiT
   or Wan2.2's two experts (only one resident on the device);
4. decode: VAE decode (chunked), clamp to [-1, 1], map to uint8 frames [T, H, W, 3].
The VAE takes as many latent frames a call as the GPU's free memory holds (``vae_chunk_latents``), one on
the CPU and with offload. All arguments are checked before any of this starts.
"""

from __future__ import annotations

import logging
import os
import time

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..attention import AttentionConfig
from ..attention.degraded import report_degraded_attention
from ..sampling.schedules import RCM_MAX_STEPS
from ..sampling.unipc import WAN_NEGATIVE_PROMPT
from .block_offload import BlockOffload
from .components import (
    ComponentConfigs,
    Components,
    check_quant,
    load_components,
    resolve_dtype,
    resolve_preset,
)
from .denoise import SAMPLERS, Sampler, SamplingPlan, sample_latent, synchronize
from .forward_graphs import ForwardGraphs
from .i2v import ImageInput, fit_image, image_condition, load_image
from .options import OFFLOAD_MODES, OffloadMode
from .out_of_memory import device_memory_error
from .output import GenerationSettings, StageTimings, VideoOutput
from .presets import DEFAULT_PRESET, ModelPreset, SamplingDefaults, parse_resolution
from .residency import Residency, expert_group, keeps_everything, module_bytes
from .text import PromptCache, encode_prompts

logger = logging.getLogger(__name__)

BASELINE_STEPS = 50  # Wan's default for the original (non-distilled) sampler
MAX_SEED = 2**63 - 1


class TurboPipeline:
    """A loaded model ready to generate videos. Build it with ``from_pretrained``."""

    def __init__(
        self,
        components: Components,
        device: torch.device,
        *,
        offload: bool | OffloadMode = False,
        fused: bool | None = None,
        cuda_graphs: bool = False,
    ) -> None:
        """offload, fused and cuda_graphs: as in ``from_pretrained``; the fast paths are switched on the
        components' networks in place."""
        self.offload: OffloadMode | None = resolve_offload(offload)
        check_cuda_graphs(cuda_graphs, device, self.offload, len(components.dits))
        # Channels-last VAE on every device: its convolutions are faster that way on CUDA (with the
        # fused norms) and on the CPU (decode 4.1 -> 1.3 s for the default model, 2-core machine). The
        # sub-pixel upsamples do 2.25x fewer multiply-adds in the upsampling convolutions on any device (the
        # default model's decode 0.646-0.716 -> 0.615-0.680 s on that machine, benchmarks/runs/
        # cpu-2026-12-05e; Wan2.1's 480p decode 1.011 -> 0.933 s on an H100, h100-2026-12-05).
        components.vae.use_channels_last().use_subpixel_upsampling()
        use_fused = device.type == "cuda" if fused is None else fused
        if use_fused:
            for dit in components.dits:
                dit.enable_fused_ops()
            components.vae.enable_fused_ops()
        for dit in components.dits:
            # One line for the whole model rather than one per attention layer at the first step.
            report_degraded_attention(dit, device)
        self.components = components
        self.preset = components.preset
        self.device = device
        self.residency = Residency(device, offload=self.offload is not None)
        self._warned_undistilled = False
        device_bytes = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0
        # The text encoder is parked on the CPU as soon as the prompt is encoded, unless every network
        # fits on the GPU with room to spare (keeps_everything).
        keep_text = keeps_everything(
            module_bytes(components.text_encoder, components.vae, *components.dits), device_bytes
        )
        self.residency.add("text_encoder", components.text_encoder, keep=keep_text)
        self.residency.add("vae", components.vae)
        self.experts = ("dit",) if len(components.dits) == 1 else ("dit.high", "dit.low")
        # offload="blocks": each DiT's blocks wait in page-locked host memory for the pipeline's lifetime
        # (pinned once here, not per call) and stream to the device during each forward.
        self.block_offloads: dict[str, BlockOffload] = {}
        group = expert_group(module_bytes(components.vae, *components.dits), device_bytes)
        for name, dit in zip(self.experts, components.dits):
            if self.offload == "blocks":
                self.block_offloads[name] = BlockOffload(dit, device)
            self.residency.add(name, dit, group=group, streamed=self.block_offloads.get(name))
        self.graphs = ForwardGraphs() if cuda_graphs else None
        self.prompt_cache = PromptCache()  # the contexts of recent prompts (``pipe.prompt_cache.clear()``)

    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike = DEFAULT_PRESET,
        *,
        checkpoint_dir: str | os.PathLike | None = None,
        device: torch.device | str | None = None,
        attention: str | AttentionConfig | None = None,
        sla_topk: float | None = None,
        quant: bool | str | None = None,
        dtype: torch.dtype | str = torch.bfloat16,
        offload: bool | OffloadMode = False,
        fused: bool | None = None,
        cuda_graphs: bool = False,
        configs: ComponentConfigs | None = None,
    ) -> TurboPipeline:
        """Load a preset (by name, files in ``checkpoint_dir`` or ./checkpoints/NAME) or a checkpoint folder.

        model: a preset name (see ``turbodiffusion.pipelines.presets.PRESETS``; default "builtin", the
            default model trained on the synthetic world, shipped in the package; "builtin-teacher" is its
            many-step teacher, "builtin-random" a tiny random-weight smoke test) or a folder: an official
            Wan / TurboWan layout (recognised), or a default-model folder (``write_default_model``'s
            config.json + three safetensors; loaded as "builtin", or pass "builtin-teacher" with
            checkpoint_dir=FOLDER).
        checkpoint_dir: the preset's folder (default: ./checkpoints/NAME; the package's own folder for
            "builtin" and "builtin-teacher").
        device: where the networks run (default: "cuda" when available, else "cpu").
        attention: "sdpa", "sla", "sage", "sagesla" or an AttentionConfig (default: the preset's;
            "sagesla" for TurboWan). sla_topk: SLA's kept fraction of key blocks (default 0.1).
        quant: W8A8 linears for the DiT's blocks: True or "int8" (the TurboWan INT8 format), "fp8-row"
            (FP8 e4m3 with one scale per output channel and per token, on PyTorch's row-wise FP8 GEMM:
            faster than INT8 and bf16 on Hopper-class GPUs, about 2.5x INT8's error; needs compute
            capability 8.9+ on CUDA), "fp8-row-fast" (the same with the FP8 GEMM's fast accumulation:
            the fastest mode, less exact again; on an H200 a 1.3B-480p 4-step diffusion took 0.564 s
            against fp8-row's 0.609 s, and one forward moved by 3.3% rel L2 from fp8-row's with random
            weights, benchmarks/runs/h200-2026-12-04d), False for float linears. Default: "int8" for
            -quant presets, which cannot turn it off (they can convert to an FP8 mode), float otherwise.
            Float (or, for FP8, INT8) weights are quantised while loading, layer by layer on the GPU when
            ``device`` is one.
        dtype: torch.bfloat16 (default, as TurboDiffusion runs) or torch.float32.
        offload: False (default: every network stays on the device once used, the text encoder excepted);
            "model" (or True): model CPU offload, each network on the device only while it runs; "blocks":
            as "model", and the DiT's transformer blocks stream from page-locked CPU memory one at a time
            during each forward (block_offload.py), for a DiT larger than the GPU: device memory is the
            DiT's trunk + two blocks, paid for by one host-to-device copy of the blocks per forward.
        fused: the fused kernels of the engineering path: the DiT's norm, modulation, q/k norm + RoPE and
            gated residual (``WanDiT.enable_fused_ops``) and the VAE's RMSNorm + SiLU
            (``WanVAE.enable_fused_ops``). Each op rounds once in fp32 instead of in bf16 steps, so frames
            differ from the plain path by bf16 rounding. Default: on for CUDA devices, off elsewhere (on
            the CPU the fused ops run their PyTorch references, no faster). The VAE always runs
            channels-last (``WanVAE.use_channels_last``), which is faster on both, with its upsamples in
            the sub-pixel form (``WanVAE.use_subpixel_upsampling``: 2.25x fewer multiply-adds there).
        cuda_graphs: replay the DiT's forwards from CUDA graphs that the pipeline keeps across calls
            (``forward_graphs.ForwardGraphs``): the first call of each shape captures them (about one
            host pass over the forward each; the text context's rows, a multiple of 32 up to the longest
            prompt's end, are part of the shape), later calls replay them, so steps no longer depend on how
            fast the host issues kernels. For a pipeline that makes many videos of one size; the graphs
            hold their activations' memory between calls (``pipe.graphs.clear()`` frees it). Needs a CUDA
            device, no offload and one DiT (Wan2.2's two experts take turns on the device).
        configs: architecture overrides (see ComponentConfigs).
        Raises ValueError (bad or unrunnable choice), FileNotFoundError (missing file, naming the
        command that fetches it), CheckpointError (a file that does not match), all before or while
        loading, never after a partial load.
        """
        device = torch.device(device) if device is not None else _default_device()
        dtype = resolve_dtype(dtype)
        offload_mode = resolve_offload(offload)  # before any loading
        check_quant(quant)
        preset, folder = resolve_preset(model, checkpoint_dir, quant)
        check_cuda_graphs(cuda_graphs, device, offload_mode, len(preset.experts))
        components = load_components(
            preset,
            folder,
            attention=attention,
            sla_topk=sla_topk,
            quant=quant,
            dtype=dtype,
            device=device,
            configs=configs or ComponentConfigs(),
            # Only then do the DiTs stay on the device from their first use on (Residency).
            resident=device.type == "cuda" and offload_mode is None,
        )
        logger.info(
            "loaded %s (%s, attention=%s, quant=%s, %s) for %s",
            preset.name,
            preset.task,
            components.attention.backend,
            components.quant,
            str(dtype).removeprefix("torch."),
            device,
        )
        return cls(components, device, offload=offload, fused=fused, cuda_graphs=cuda_graphs)

    @property
    def task(self) -> str:
        return self.preset.task

    def _vae_chunk_latents(self, num_latents: int, height: int, width: int) -> int:
        """Latent frames per VAE encoder or decoder call for a video of ``num_latents`` latent frames: 1
        (the official chunking, the least memory) on the CPU and with offload, else as many as the device's
        free memory holds (``vae_chunk_latents``)."""
        device = self.device
        if device.type != "cuda" or self.offload is not None:
            return 1
        # Free to this process: what the driver has left plus what torch's allocator holds unused (the
        # DiT's activations were freed into its cache, not back to the driver). The CUDA graphs' pool is
        # reserved too, but only they can use it.
        idle = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        idle = max(0, idle - (self.graphs.pool_bytes if self.graphs is not None else 0))
        return vae_chunk_latents(num_latents, height, width, torch.cuda.mem_get_info(device)[0] + idle)

    def __call__(
        self,
        prompt: str,
        image: ImageInput | None = None,
        *,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        steps: int | None = None,
        seed: int = 0,
        sampler: Sampler | None = None,
        sigma_max: float | None = None,
        ode: bool = False,
        shift: float | None = None,
        guidance: float | None = None,
        negative_prompt: str | None = None,
        progress: bool = True,
    ) -> VideoOutput:
        """Generate one video.

        prompt: the text. image: I2V only, a path or uint8 [H, W, 3] array (resized and centre-cropped).
        num_frames (4k+1), height, width (multiples of 16): default to the preset's (81 frames, 480p or
        720p 16:9). steps: 1-4 for rCM (default 4), 50 for the baseline samplers. seed: same seed, same
        device -> the same frames. sampler: "rcm" (few-step, for TurboWan), "unipc" or "euler" (the
        original Wan sampler with classifier-free ``guidance`` against ``negative_prompt`` and ``shift``).
        sigma_max: rCM's first noise level (default: the preset's, 80 T2V / 200 I2V). ode: deterministic
        rCM steps. progress: tqdm bars on stderr. sampler, steps, shift, guidance and negative_prompt left
        unset take the model's defaults (``components.sampling``): Wan's ("rcm", 5.0, 5.0, Wan's negative
        prompt) except for the default model, whose teacher samples as its config.json says, with "".
        Returns a VideoOutput: frames [T, H, W, 3] uint8, fps, settings and per-stage timings.
        """
        preset = self.preset
        num_frames, height, width, plan = resolve_request(
            preset,
            num_frames=num_frames,
            height=height,
            width=width,
            steps=steps,
            seed=seed,
            sampler=sampler,
            sigma_max=sigma_max,
            ode=ode,
            shift=shift,
            guidance=guidance,
            defaults=self.components.sampling,
        )
        if negative_prompt is None:
            negative_prompt = self.components.sampling.negative_prompt
        if negative_prompt is None:
            negative_prompt = WAN_NEGATIVE_PROMPT
        check_request(preset, prompt, image, num_frames, height, width, plan)
        pixels = fit_image(load_image(image), height, width) if image is not None else None
        if plan.sampler == "rcm" and not preset.distilled and not self._warned_undistilled:
            self._warned_undistilled = True  # WARNING once per pipeline, not per call
            logger.warning(
                "%s is not rCM-distilled: few-step sampling gives poor videos; use sampler='unipc' "
                "(50 steps) or a TurboWan preset",
                preset.name,
            )
        try:
            with torch.inference_mode():
                return self._generate(
                    prompt, pixels, num_frames, height, width, plan, negative_prompt, progress
                )
        except torch.OutOfMemoryError as err:
            # torch's message names one allocation; ours names the settings that need less memory.
            c = self.components
            raise device_memory_error(self.device, self.offload, c.quant, num_frames, height, width) from err

    def _generate(
        self, prompt, pixels, num_frames, height, width, plan, negative_prompt, progress
    ) -> VideoOutput:
        c = self.components
        device = self.device
        baseline = plan.sampler != "rcm"

        # 1. Text encoding, unless these prompts were encoded by a recent call; the encoder leaves the device
        # right after unless everything fits.
        start = time.perf_counter()
        prompts = [prompt, negative_prompt] if baseline else [prompt]
        context = self.prompt_cache.get(prompts)
        if context is None:
            with tqdm(total=1, desc="text encoding", disable=not progress, leave=False) as bar:
                with self.residency.use("text_encoder") as encoder:
                    context = encode_prompts(c.tokenizer, encoder, prompts, trim=True).to(c.dtype)
                bar.update()
            self.prompt_cache.put(prompts, context)
        synchronize(device)
        t_text = time.perf_counter() - start

        # The latent the video is sampled in: [1, z_dim, latent frames, H / 8, W / 8].
        vae_cfg = c.vae.config
        sf, tf = vae_cfg.spatial_factor, vae_cfg.temporal_factor
        shape = (1, vae_cfg.z_dim, 1 + (num_frames - 1) // tf, height // sf, width // sf)

        # 2. Image conditioning (I2V).
        y, t_image = None, None
        if pixels is not None:
            start = time.perf_counter()
            with self.residency.use("vae") as vae:
                chunk = self._vae_chunk_latents(shape[2], height, width)
                y = image_condition(vae, pixels, num_frames, progress=progress, chunk_latents=chunk)
                y = y.to(c.dtype)
            synchronize(device)
            t_image = time.perf_counter() - start

        # 3. Sampling.
        latent, step_times = sample_latent(
            self.residency,
            self.experts,
            self.preset.boundary,
            shape,
            context[:1],
            y,
            plan,
            input_dtype=c.dtype,
            negative_context=context[1:] if baseline else None,
            progress=progress,
            graphs=self.graphs,
        )

        # 4. Decode, clamp to [-1, 1], map to uint8 frames.
        start = time.perf_counter()
        with self.residency.use("vae") as vae:
            chunk = self._vae_chunk_latents(shape[2], height, width)
            video = vae.decode(latent.to(device), progress=progress, chunk_latents=chunk)
        frames = frames_to_host(video)
        synchronize(device)
        t_decode = time.perf_counter() - start

        timings = StageTimings(t_text, t_image, step_times, t_decode)
        att = c.attention
        settings = GenerationSettings(
            model=self.preset.name,
            task=self.task,
            prompt=prompt,
            image=pixels is not None,
            num_frames=num_frames,
            height=height,
            width=width,
            steps=plan.steps,
            seed=plan.seed,
            sampler=plan.sampler,
            sigma_max=plan.sigma_max if not baseline else None,
            shift=plan.shift if baseline else None,
            guidance=plan.guidance if baseline else None,
            ode=plan.ode,
            attention=att.backend,
            sla_topk=att.sla_topk if att.has_sla_weights else None,
            quant=c.quant,
            dtype=str(c.dtype).removeprefix("torch."),
            device=str(device),
            offload=self.offload,
        )
        logger.info("generated %d frames %dx%d: %s", num_frames, width, height, timings.summary())
        return VideoOutput(frames=frames, fps=self.preset.fps, settings=settings, timings=timings)


def resolve_request(
    preset: ModelPreset,
    *,
    num_frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    sampler: Sampler | None = None,
    sigma_max: float | None = None,
    ode: bool = False,
    shift: float | None = None,
    guidance: float | None = None,
    defaults: SamplingDefaults | None = None,
) -> tuple[int, int, int, SamplingPlan]:
    """Fill unset arguments with the preset's defaults and ``defaults`` (sampler, baseline steps, shift,
    guidance; default: Wan's): (num_frames, height, width, plan)."""
    defaults = defaults or SamplingDefaults()
    default_w, default_h = parse_resolution(preset.resolution)
    sampler = defaults.sampler if sampler is None else sampler
    shift = defaults.shift if shift is None else shift
    guidance = defaults.guidance if guidance is None else guidance
    if steps is None:
        baseline_steps = BASELINE_STEPS if defaults.baseline_steps is None else defaults.baseline_steps
        steps = 4 if sampler == "rcm" else baseline_steps
    plan = SamplingPlan(
        sampler=sampler,
        steps=steps,
        seed=seed,
        sigma_max=preset.sigma_max if sigma_max is None else sigma_max,
        ode=ode,
        shift=shift,
        guidance=guidance,
    )
    return (
        preset.num_frames if num_frames is None else num_frames,
        default_h if height is None else height,
        default_w if width is None else width,
        plan,
    )


def check_request(
    preset: ModelPreset,
    prompt: str,
    image: ImageInput | None,
    num_frames: int,
    height: int,
    width: int,
    plan: SamplingPlan,
) -> None:
    """Raise ValueError for any argument that cannot run, naming what to use instead.

    Needs only the preset, so callers (the CLI) run it before loading any weights.
    """
    from ..models.wan.config import check_video_shape

    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"prompt must be a non-empty string (got {prompt!r})")
    if preset.task == "i2v" and image is None:
        raise ValueError(
            f"{preset.name} is image-to-video and needs an image: pass image=PATH (--image PATH)"
        )
    if preset.task == "t2v" and image is not None:
        raise ValueError(
            f"{preset.name} is text-to-video and takes no image; drop the image, or use an I2V "
            "preset such as turbowan2.2-i2v-a14b-720p"
        )
    check_video_shape(num_frames, height, width)
    if plan.sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)} (got {plan.sampler!r})")
    if isinstance(plan.steps, bool) or not isinstance(plan.steps, int):
        raise ValueError(f"steps must be an int (got {plan.steps!r})")
    if plan.sampler == "rcm" and not 1 <= plan.steps <= RCM_MAX_STEPS:
        raise ValueError(
            f"steps must be 1 to {RCM_MAX_STEPS} for the rCM sampler (got {plan.steps}); use 4 for the best "
            f"quality, or sampler='unipc' for the {BASELINE_STEPS}-step baseline"
        )
    if plan.sampler != "rcm" and plan.steps < 1:
        raise ValueError(f"steps must be at least 1 (got {plan.steps}); Wan's baseline uses {BASELINE_STEPS}")
    if isinstance(plan.seed, bool) or not isinstance(plan.seed, int) or not 0 <= plan.seed <= MAX_SEED:
        raise ValueError(f"seed must be an int in [0, 2^63) (got {plan.seed!r})")
    if not plan.sigma_max > 0:
        raise ValueError(f"sigma_max must be positive (got {plan.sigma_max}); use 80 (T2V) or 200 (I2V)")
    if not plan.shift > 0:
        raise ValueError(f"shift must be positive (got {plan.shift}); Wan uses 5.0")
    if not plan.guidance >= 0:
        raise ValueError(f"guidance must be >= 0 (got {plan.guidance}); Wan uses 5.0")


# A VAE call's peak memory as an affine function of its latent frames per chunk c, in bytes per output pixel:
# BASE + SLOPE * (c - 1). The decoder's on an H200 (channels-last with fused norms, 480x832, weights
# included): 7.8 GiB at c = 4 and 26.1 GiB at c = 20 (benchmarks/runs/h200-2026-12-02e), so 1.144 GiB (3,075
# B a pixel) a latent frame on top of 4.37 GiB (11,750 B a pixel) at c = 1; both rounded up here. The encoder
# needs no more: counted on the meta device for 81 frames (benchmarks/vae_memory.py; the counts scale with
# the pixels) its activations peak at 7,821 + 3,864 (c - 1) B a pixel, the decoder's at 9,636 + 3,841 (c - 1).
VAE_BASE_BYTES_PER_PIXEL = 12288
VAE_BYTES_PER_LATENT_PIXEL = 4096


def vae_chunk_latents(num_latents: int, height: int, width: int, free_bytes: int) -> int:
    """Latent frames per VAE encoder or decoder call whose peak memory (BASE + SLOPE (c - 1) bytes a pixel,
    above) fits in four fifths of ``free_bytes``: larger chunks run faster (a decode of 81 frames at 480p:
    1.00 s at 1, 0.81 s at 20 on an H200) and give the same video. Between 1 and the frames after the
    first (which always runs alone); 1 when even that does not fit, the least memory there is."""
    pixels = height * width
    spare = int(0.8 * free_bytes) - VAE_BASE_BYTES_PER_PIXEL * pixels
    return max(1, min(num_latents - 1, 1 + spare // (VAE_BYTES_PER_LATENT_PIXEL * pixels)))


def frames_to_host(video: Tensor) -> Tensor:
    """The decoder's output [1, 3, T, H, W] (any float dtype, unclamped) as the frames of a VideoOutput:
    uint8 [T, H, W, 3] on the CPU, [-1, 1] mapped to 0..255 with rounding.

    From a GPU the frames are laid out [T, H, W, 3] there and copied into page-locked host memory: on an
    H200 the 81 frames of a 480p video (97 MB) took 1.6 + 1.9 ms that way, where copying the permuted view
    to pageable memory took 68.5 ms (benchmarks/runs/h200-2026-12-04b). On the CPU the result is the
    permuted view, as before.
    """
    frames = ((video[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0)
    if frames.device.type != "cuda":
        return frames
    frames = frames.contiguous()
    host = torch.empty(frames.shape, dtype=torch.uint8, pin_memory=True)
    host.copy_(frames, non_blocking=True)
    torch.cuda.current_stream(frames.device).synchronize()  # the host buffer is read right after
    return host


def check_cuda_graphs(
    cuda_graphs: bool, device: torch.device, offload: OffloadMode | None, num_dits: int
) -> None:
    """Raise ValueError, saying what to change, when CUDA graphs cannot be kept for this pipeline."""
    if not cuda_graphs:
        return
    if device.type != "cuda":
        raise ValueError(f"cuda_graphs=True needs a CUDA device (got {device}); leave it off elsewhere")
    if offload is not None:
        raise ValueError(
            f"cuda_graphs=True cannot be combined with offload={offload!r}: a graph replays fixed weight "
            "addresses, and offloading moves the weights between calls (or blocks within one); use one or "
            "the other"
        )
    if num_dits != 1:
        raise ValueError(
            "cuda_graphs=True needs a single DiT: Wan2.2's two experts take turns on the device, which "
            "moves their weights every call, so their graphs could not be kept; leave it off for this model"
        )


def resolve_offload(offload: bool | str) -> OffloadMode | None:
    """The offload mode of a pipeline argument: None (off), "model" or "blocks"; True means "model"."""
    if offload is False:
        return None
    if offload is True:
        return "model"
    if offload not in OFFLOAD_MODES:
        raise ValueError(
            f'offload must be False, True, "model" or "blocks" (got {offload!r}); "model" (= True) '
            f'parks each network after use, "blocks" also streams the DiT block by block'
        )
    return offload


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


__all__ = [
    "OFFLOAD_MODES",
    "OffloadMode",
    "TurboPipeline",
    "check_request",
    "frames_to_host",
    "resolve_offload",
    "resolve_request",
]
