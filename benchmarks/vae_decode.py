"""VAE decode speed: the Wan2.1 VAE's layouts and fused norms side by side, with a kernel-time breakdown.

    PYTHONPATH=. python benchmarks/vae_decode.py --resolution 480p --json results/vae_decode.json
    PYTHONPATH=. python benchmarks/vae_decode.py --quick --json /tmp/vae_quick.json   # CPU smoke

Variants (random bf16 weights, the same draws for all): ``default`` (channels-first, eager norms, as the
official code), ``channels_last`` (WanVAE.use_channels_last), ``fused`` (WanVAE.enable_fused_ops),
``channels_last+fused``, ``channels_last+fused+subpixel`` (WanVAE.use_subpixel_upsampling as well: the
pipeline's form), ``channels_last+fused+subpixel+conv16`` (WanVAE.use_conv_kernel as well: the head's
96 -> 3 convolution as ops.causal_conv3d's kernel) and ``...+convall`` (every causal convolution on that
kernel: its compiled code is cached on disk, where cuDNN plans each shape again in every process, so
``first_call_s`` matters here); each at every ``--chunk-latents`` (latent frames per decoder call after the
first; 1 is the official chunking). Times are CUDA-event medians after one warm-up call; every output is
compared (rel L2) with ``default`` at the first chunk setting and with the same weights decoded in fp32:
these are layouts and roundings of one model, not approximations. A setting that does not fit the device
is recorded (``out_of_memory``) and the others run. ``--profile`` adds ms by kernel category (as
benchmarks/profile_forward.py) for one decode of each variant at the last chunk setting.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import (
    add_video_arguments,
    benchmark_device,
    check_video_arguments,
    environment,
    print_table,
    write_json,
)
from e2e_stages import QUICK_SIZE, build_vae, first_call, peak_gib, quantiles, reset_memory, time_calls
from profile_forward import CATEGORIES, categorize, kernel_times

from turbodiffusion.models.wan.vae import WAN21_VAE
from turbodiffusion.pipelines.builtin import BUILTIN_VAE
from turbodiffusion.pipelines.presets import RESOLUTIONS
from turbodiffusion.testing.compare import rel_l2

VARIANTS = {  # channels-last, fused norms, sub-pixel upsampling, conv kernel up to this many outputs (0: none)
    "default": (False, False, False, 0),
    "channels_last": (True, False, False, 0),
    "fused": (False, True, False, 0),
    "channels_last+fused": (True, True, False, 0),
    "channels_last+fused+subpixel": (True, True, True, 0),
    "channels_last+fused+subpixel+conv16": (True, True, True, 16),
    "channels_last+fused+subpixel+convall": (True, True, True, 1 << 16),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_video_arguments(parser, preset=False)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--chunk-latents", type=int, nargs="+", default=[4, 20])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="kernel time by category per variant")
    parser.add_argument(
        "--layers", action="store_true", help="time every convolution (CUDA events around it), last variant"
    )
    parser.add_argument("--quick", action="store_true", help="tiny VAE on the CPU: a smoke run")
    parser.add_argument("--json", default="results/vae_decode.json")
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown or not args.variants:
        parser.error(
            f"unknown --variants {', '.join(unknown) or '(none)'}; choose from {', '.join(VARIANTS)}"
        )
    check_video_arguments(parser, args)
    if args.reps < 1 or min(args.chunk_latents) < 1:
        parser.error("--reps and --chunk-latents must be >= 1")
    return args


def layer_times(vae: torch.nn.Module, latent: torch.Tensor, chunk_latents: int, device: torch.device) -> list:
    """ms of every convolution module over one decode (summed over chunks), slowest first, with the
    weight shape. CUDA events around each call (wall clock on the CPU); they serialise nothing else."""
    cuda = device.type == "cuda"
    marks: dict[str, list] = {}
    hooks = []
    for name, module in vae.decoder.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Conv3d)):

            def pre(mod, inp, name=name):
                start = torch.cuda.Event(enable_timing=True) if cuda else time.perf_counter()
                if cuda:
                    start.record()
                marks.setdefault(name, []).append([start, None, tuple(mod.weight.shape)])

            def post(mod, inp, out, name=name):
                end = torch.cuda.Event(enable_timing=True) if cuda else time.perf_counter()
                if cuda:
                    end.record()
                marks[name][-1][1] = end

            hooks += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        vae.decode(latent, chunk_latents=chunk_latents)
        if cuda:
            torch.cuda.synchronize(device)
    finally:
        for h in hooks:
            h.remove()
    out = []
    for name, calls in marks.items():
        ms = sum(s.elapsed_time(e) if cuda else (e - s) * 1e3 for s, e, _ in calls)
        out.append({"layer": name, "ms": ms, "calls": len(calls), "shape": list(calls[0][2])})
    return sorted(out, key=lambda r: -r["ms"])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = benchmark_device(args.quick)
    cfg = BUILTIN_VAE if args.quick else WAN21_VAE
    frames, height, width = QUICK_SIZE if args.quick else (args.frames, *RESOLUTIONS[args.resolution][::-1])
    latent_shape = (1, cfg.z_dim, 1 + (frames - 1) // 4, height // 8, width // 8)
    g = torch.Generator(device).manual_seed(8)
    latent = torch.randn(latent_shape, generator=g, device=device)
    print(f"decode {frames}x{height}x{width} from latent {latent_shape} on {device}", flush=True)
    reset_memory(device)
    vae = build_vae(cfg, device)
    rows, reference = [], None
    payload = {"env": environment(), "args": vars(args), "latent": latent_shape, "rows": rows}
    with torch.no_grad():
        # The truth every variant is measured against: the same weights in fp32, official chunking (one
        # latent frame a call, the least memory: at chunk 20 the fp32 decode overran an 80 GB H100).
        truth = build_vae(cfg, device).float().decode(latent, chunk_latents=1).float()
        for variant in args.variants:
            channels_last, fused, subpixel, conv_outputs = VARIANTS[variant]
            vae.use_channels_last(channels_last).enable_fused_ops(fused).use_subpixel_upsampling(subpixel)
            vae.use_conv_kernel(conv_outputs > 0, max_out_channels=conv_outputs)
            for k in args.chunk_latents:

                def decode(k: int = k) -> torch.Tensor:
                    return vae.decode(latent, chunk_latents=k)

                reset_memory(device)
                try:
                    first, out = first_call(decode, device)
                except torch.OutOfMemoryError:  # this setting does not fit the device: the others still run
                    reset_memory(device)
                    rows.append({"variant": variant, "chunk_latents": k, "s": None, "out_of_memory": True})
                    print(f"{variant} chunk {k}: out of device memory", flush=True)
                    continue
                reference = out.float() if reference is None else reference
                err, err32 = rel_l2(out.float(), reference), rel_l2(out.float(), truth)
                del out
                p50, p20, p80 = quantiles(time_calls(decode, args.reps, device))
                rows.append({
                    "variant": variant, "chunk_latents": k, "s": p50 / 1e3, "s_p20": p20 / 1e3,
                    "s_p80": p80 / 1e3, "first_call_s": first, "rel_l2_vs_default": err, "rel_l2_vs_fp32": err32,
                    "peak_gib": peak_gib(device),
                })  # fmt: skip
                print(
                    f"{variant} chunk {k}: {p50 / 1e3:.3f} s, rel_l2 {err:.2e} (fp32 {err32:.2e})", flush=True
                )
                write_json(args.json, payload)
            if args.profile and rows[-1]["s"] is not None:  # not after a setting that ran out of memory
                activities = [torch.profiler.ProfilerActivity.CPU]
                if device.type == "cuda":
                    activities.append(torch.profiler.ProfilerActivity.CUDA)
                with torch.profiler.profile(activities=activities) as prof:
                    vae.decode(latent, chunk_latents=args.chunk_latents[-1])
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                kernels = kernel_times(prof, 1, cuda=device.type == "cuda")
                cats = dict.fromkeys(CATEGORIES, 0.0)
                for name, ms in kernels.items():
                    cats[categorize(name)] += ms
                top = sorted(kernels.items(), key=lambda kv: -kv[1])[:15]
                rows[-1]["profile_ms"] = cats
                rows[-1]["top_kernels"] = [{"kernel": n[:160], "ms": ms} for n, ms in top]
                print(f"  {variant}: " + ", ".join(f"{c} {ms:.0f} ms" for c, ms in cats.items()), flush=True)
                write_json(args.json, payload)
        if args.layers:
            payload["layers"] = layer_times(vae, latent, args.chunk_latents[-1], device)
            for entry in payload["layers"][:20]:
                print(
                    f"  {entry['ms']:8.1f} ms  {entry['calls']:3d} calls  {entry['layer']}  {entry['shape']}"
                )
    base = {r["chunk_latents"]: r["s"] for r in rows if r["variant"] == args.variants[0] and r["s"]}
    for r in rows:
        r["speedup"] = base[r["chunk_latents"]] / r["s"] if r["chunk_latents"] in base and r["s"] else None
    print_table(
        rows,
        [
            "variant",
            "chunk_latents",
            "s",
            "s_p20",
            "s_p80",
            "speedup",
            "rel_l2_vs_default",
            "rel_l2_vs_fp32",
            "peak_gib",
        ],
    )
    write_json(args.json, payload)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
