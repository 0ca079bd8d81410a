"""I2V's image encode ([image, zeros] through the VAE encoder) with and without the steady tail, side by side.

    PYTHONPATH=.:benchmarks python benchmarks/vae_encode.py --resolution 720p --json results/vae_encode.json
    PYTHONPATH=.:benchmarks python benchmarks/vae_encode.py --cpu --size 81 64 112   # Wan2.1's VAE, CPU
    PYTHONPATH=.:benchmarks python benchmarks/vae_encode.py --quick                  # CPU smoke run

``pipelines.i2v.image_condition`` on a random image with random bf16 weights (Wan2.1's VAE; the default
model's with --quick), in the pipeline's layout on CUDA (channels-last, fused norms), at each
``--chunk-latents`` (latent frames per encoder call after the first; 1 is the official chunking). Two arms:
``every_frame`` (WanVAE.use_steady_tail(False): every frame through every stage, as the official code) and
``steady_tail`` (the pipeline's: each stage's repeated frame computed once, models/wan/vae_steady.py). They
take turns over ``--rounds`` rounds (order alternating); times are medians of the calls (CUDA events on a
GPU, wall clock on the CPU). Each arm's TFLOP is counted by FlopCounterMode on a meta-device VAE, and the
arms' outputs are compared (rel L2; they differ by rounding only). Writes every time to JSON.
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial

import torch
from common import add_video_arguments, check_video_arguments, environment, print_table, write_json
from e2e_stages import QUICK_SIZE, build_vae, encode_tflop, first_call, peak_gib, reset_memory, time_calls

from turbodiffusion.models.wan.vae import WAN21_VAE, WanVAE
from turbodiffusion.pipelines.builtin import BUILTIN_VAE
from turbodiffusion.pipelines.i2v import image_condition
from turbodiffusion.pipelines.presets import RESOLUTIONS
from turbodiffusion.testing.compare import rel_l2

ARMS = ("every_frame", "steady_tail")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_video_arguments(parser, preset=False)
    parser.add_argument("--chunk-latents", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the two arms taking turns")
    parser.add_argument("--reps", type=int, default=2, help="timed calls per arm and round")
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--quick", action="store_true", help="the default model's tiny VAE on the CPU: a smoke run"
    )
    group.add_argument("--cpu", action="store_true", help="Wan2.1's VAE on the CPU, at --size")
    parser.add_argument(
        "--size", type=int, nargs=3, metavar=("FRAMES", "HEIGHT", "WIDTH"), help="with --cpu: the clip's size"
    )
    parser.add_argument("--json", default="results/vae_encode.json")
    args = parser.parse_args(argv)
    check_video_arguments(parser, args)
    if args.rounds < 1 or args.reps < 1 or min(args.chunk_latents) < 1:
        parser.error("--rounds, --reps and --chunk-latents must be >= 1")
    if args.size is not None:
        frames, height, width = args.size
        if not args.cpu:
            parser.error("--size goes with --cpu (a GPU run takes --resolution and --frames)")
        if frames < 1 or (frames - 1) % 4 or min(height, width) < 8 or height % 8 or width % 8:
            parser.error(f"--size needs 4k+1 frames and sides that are multiples of 8 (got {args.size})")
    return args


def encode(vae: WanVAE, image: torch.Tensor, frames: int, steady: bool, chunk_latents: int) -> torch.Tensor:
    """One arm's call: I2V's y for ``image`` [3, H, W] over ``frames`` frames."""
    vae.use_steady_tail(steady)
    return image_condition(vae, image, frames, chunk_latents=chunk_latents)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    cpu = args.quick or args.cpu
    if not cpu and not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU; use --cpu or --quick on a machine without one")
    device = torch.device("cpu" if cpu else "cuda")
    cfg = BUILTIN_VAE if args.quick else WAN21_VAE
    if args.quick:
        frames, height, width = QUICK_SIZE
    elif args.cpu:
        frames, height, width = args.size or (81, 64, 112)
    else:
        frames, (width, height) = args.frames, RESOLUTIONS[args.resolution]
    print(f"i2v encode of {frames}x{height}x{width} on {device}", flush=True)
    vae = build_vae(cfg, device)
    if device.type == "cuda":
        vae.use_channels_last().enable_fused_ops()
    image = (
        torch.rand(3, height, width, generator=torch.Generator(device).manual_seed(7), device=device) * 2 - 1
    )
    rows = []
    payload = {"env": environment(), "args": vars(args), "size": [frames, height, width], "rows": rows}
    with torch.no_grad():
        for k in args.chunk_latents:
            times: dict[str, list[float]] = {arm: [] for arm in ARMS}
            firsts, outputs, peaks = {}, {}, {}
            calls = {arm: partial(encode, vae, image, frames, arm == "steady_tail", k) for arm in ARMS}
            for arm in ARMS:  # the first call (compiles, cuDNN plans) apart from the timed ones
                reset_memory(device)
                firsts[arm], outputs[arm] = first_call(calls[arm], device)
                peaks[arm] = peak_gib(device)
            for r in range(args.rounds):
                for arm in ARMS if r % 2 == 0 else ARMS[::-1]:
                    times[arm] += time_calls(calls[arm], args.reps, device)
            err = rel_l2(outputs["steady_tail"].float(), outputs["every_frame"].float())
            base = statistics.median(times["every_frame"]) / 1e3
            for arm in ARMS:
                s = statistics.median(times[arm]) / 1e3
                rows.append({
                    "arm": arm, "chunk_latents": k, "s": s, "speedup": base / s,
                    "s_all": [t / 1e3 for t in times[arm]], "first_call_s": firsts[arm],
                    "tflop": encode_tflop(cfg, frames, height, width, k, steady=arm == "steady_tail"),
                    "rel_l2_vs_every_frame": err if arm == "steady_tail" else 0.0, "peak_gib": peaks[arm],
                })  # fmt: skip
                print(f"chunk {k} {arm}: {s:.3f} s ({base / s:.2f}x)", flush=True)
            write_json(args.json, payload)
    print_table(rows, ["arm", "chunk_latents", "s", "speedup", "tflop", "rel_l2_vs_every_frame", "peak_gib"])
    write_json(args.json, payload)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
