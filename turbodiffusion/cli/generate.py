"""``turbodiffusion generate PROMPT``: text (and image) to an mp4, through the same API users call.

Parses, checks every argument before loading anything, calls ``TurboPipeline``, writes the mp4
atomically, prints the path and one summary line of per-stage times.
"""

from __future__ import annotations

import argparse
import logging
import time

from ..attention.config import BACKEND_NAMES
from ..pipelines.options import OFFLOAD_MODES, QUANT_MODES
from ..pipelines.presets import (
    DEFAULT_PRESET,
    FALLBACK_PRESET,
    PRESETS,
    RESOLUTIONS,
    installed_default_preset,
    parse_resolution,
)

logger = logging.getLogger(__name__)


# Options whose default depends on the preset: their help says so, and argparse must not append
# "(default: None)" (the command table uses ArgumentDefaultsHelpFormatter), hence SUPPRESS + getattr.
_FROM_PRESET = argparse.SUPPRESS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="what the video shows")
    parser.add_argument(
        "--image",
        default=_FROM_PRESET,
        help="conditioning image (PNG/JPEG) for image-to-video presets (default: none)",
    )
    parser.add_argument(
        "--model",
        default=_FROM_PRESET,
        help=f"preset name or checkpoint folder; presets: {', '.join(PRESETS)} (default: the preset "
        f"recognised in --checkpoint-dir, else {DEFAULT_PRESET}: the default model shipped in the package, a "
        "small Wan DiT trained on a synthetic world of coloured shapes, 4-step rCM student + SLA; "
        f"builtin-teacher is its many-step teacher; an install without its trained weights uses "
        f"{FALLBACK_PRESET}, a RANDOM-weight smoke test)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        default=_FROM_PRESET,
        help="folder holding the preset's files; `turbodiffusion download PRESET --dir DIR` fills it "
        "(default: ./checkpoints/PRESET; the package's own folder for builtin and builtin-teacher)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=_FROM_PRESET,
        help="sampling steps, 1-4 for rcm (default: 4 for rcm; for unipc and euler 50, or the teacher's "
        "own count for builtin-teacher)",
    )
    parser.add_argument(
        "--sampler",
        choices=("rcm", "unipc", "euler"),
        default=_FROM_PRESET,
        help="rcm: TurboDiffusion's few-step sampler; unipc, euler: the original Wan sampler with guidance "
        "(default: rcm; unipc for builtin-teacher)",
    )
    parser.add_argument(
        "--attention",
        choices=BACKEND_NAMES,
        default=_FROM_PRESET,
        help="attention backend (default: the preset's: sagesla for TurboWan; for builtin sagesla on a GPU "
        "that runs it, else sla; sdpa otherwise)",
    )
    parser.add_argument(
        "--sla-topk",
        type=float,
        default=_FROM_PRESET,
        help="fraction of key blocks sla / sagesla keep, in (0, 1] (default: 0.1)",
    )
    parser.add_argument(
        "--quant",
        nargs="?",
        const="int8",
        choices=QUANT_MODES,
        default=None,
        help="W8A8 linears: int8 (the default of a bare --quant; the TurboWan format, always on for -quant "
        "presets), fp8-row (FP8 with row-wise scales: faster on GPUs with FP8 tensor cores, a little "
        "less exact) or fp8-row-fast (fp8-row with the GEMM's fast accumulation: the fastest, less exact "
        "again)",
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=_FROM_PRESET,
        help="number of frames, 4k+1 (default: the preset's: 81; 33 for builtin and builtin-teacher)",
    )
    parser.add_argument(
        "--resolution",
        default=_FROM_PRESET,
        help=f"{' or '.join(RESOLUTIONS)} (16:9) or WIDTHxHEIGHT, multiples of 16 (default: the preset's: "
        "480p or 720p; 256x256 for builtin and builtin-teacher; 256x144 for builtin-random)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same video")
    parser.add_argument(
        "--sigma-max",
        type=float,
        default=_FROM_PRESET,
        help="rCM's initial noise level (default: the preset's: 80 T2V, 200 I2V)",
    )
    parser.add_argument("--ode", action="store_true", help="deterministic rCM steps (no re-noising)")
    parser.add_argument(
        "--guidance",
        type=float,
        default=_FROM_PRESET,
        help="classifier-free guidance scale (unipc, euler; default: 5.0, the teacher's own for builtin models)",
    )
    parser.add_argument(
        "--shift",
        type=float,
        default=_FROM_PRESET,
        help="noise schedule shift (unipc, euler; default: 5.0, the teacher's own for builtin models)",
    )
    parser.add_argument(
        "--device",
        default=_FROM_PRESET,
        help="cuda, cuda:1, cpu, ... (default: cuda when available, else cpu)",
    )
    parser.add_argument(
        "--dtype", choices=("bfloat16", "float32"), default="bfloat16", help="weight and activation dtype"
    )
    parser.add_argument(
        "--no-fused",
        action="store_true",
        help="turn off the fused kernels (the DiT's norms, modulation, q/k norm + RoPE and gated residual; the "
        "VAE's RMSNorm + SiLU), which are on by default on a GPU",
    )
    parser.add_argument(
        "--offload",
        nargs="?",
        const="model",
        default=False,
        choices=OFFLOAD_MODES,
        help="CPU offload for small GPUs. --offload (= --offload model): each network on the GPU only while "
        "it runs; --offload blocks: that, and the DiT's transformer blocks stream from page-locked CPU memory "
        "one at a time, for a DiT larger than the GPU (slower per step). Put a bare --offload after the "
        "prompt, else it takes the prompt as its mode (default: no offload)",
    )
    parser.add_argument("-o", "--output", default="output.mp4", help="where to write the mp4 (H.264)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..pipelines import TurboPipeline
    from ..pipelines.components import resolve_preset, sampling_defaults
    from ..pipelines.gemm_workspace import skip_cublaslt_workspace
    from ..pipelines.host_memory import keep_freed_host_memory
    from ..pipelines.i2v import load_image
    from ..pipelines.pipeline import check_request, resolve_request
    from ..pipelines.video_io import check_output_path

    def opt(name: str):
        return getattr(args, name, None)

    # Every check that needs no weights runs first, so a typo fails in milliseconds.
    output = check_output_path(args.output)
    width = height = None
    if opt("resolution") is not None:
        width, height = parse_resolution(args.resolution)
    model, checkpoint_dir = opt("model"), opt("checkpoint_dir")
    if model is None:
        model, checkpoint_dir = (
            (checkpoint_dir, None) if checkpoint_dir is not None else (installed_default_preset(), None)
        )
    quant = args.quant
    preset, folder = resolve_preset(model, checkpoint_dir, quant)
    # Reads only the default model's config.json, so a missing folder is reported before any loading.
    defaults = sampling_defaults(preset, folder)
    num_frames, height, width, plan = resolve_request(
        preset,
        num_frames=opt("frames"),
        height=height,
        width=width,
        steps=opt("steps"),
        seed=args.seed,
        sampler=opt("sampler"),
        sigma_max=opt("sigma_max"),
        ode=args.ode,
        shift=opt("shift"),
        guidance=opt("guidance"),
        defaults=defaults,
    )
    image = load_image(args.image) if opt("image") is not None else None
    check_request(preset, args.prompt, image, num_frames, height, width, plan)

    # Before anything runs on a GPU: PyTorch reads it once, at the first use (pipelines/gemm_workspace.py).
    skip_cublaslt_workspace()
    start = time.perf_counter()
    pipe = TurboPipeline.from_pretrained(
        preset.name,
        checkpoint_dir=folder,
        device=opt("device"),
        attention=opt("attention"),
        sla_topk=opt("sla_topk"),
        quant=quant,
        dtype=getattr(torch, args.dtype),
        offload=args.offload,
        fused=False if args.no_fused else None,
    )
    load_s = time.perf_counter() - start
    if pipe.device.type == "cpu":
        keep_freed_host_memory()  # the CPU's steps and decode reuse freed memory (pipelines/host_memory.py)
    result = pipe(
        args.prompt,
        image,
        num_frames=num_frames,
        height=height,
        width=width,
        steps=plan.steps,
        seed=plan.seed,
        sampler=plan.sampler,
        sigma_max=plan.sigma_max,
        ode=plan.ode,
        shift=plan.shift,
        guidance=plan.guidance,
        progress=not args.no_progress,
    )
    start = time.perf_counter()
    path = result.save(output)
    save_s = time.perf_counter() - start
    s = result.settings
    print(f"wrote {path} ({s.num_frames} frames, {s.width}x{s.height}, {result.fps} fps, seed {s.seed})")
    # The generation's stages, then what the command spent around it: loading the networks, writing the mp4.
    print(f"{result.timings.summary()} | load {load_s:.2f} s, mp4 {save_s:.2f} s")
    return 0
