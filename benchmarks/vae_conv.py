"""The Wan VAE decoder's convolutions: cuDNN against ops.causal_conv3d's Triton kernel, tiling by tiling.

    PYTHONPATH=. python benchmarks/vae_conv.py --resolution 480p --json results/vae_conv.json
    PYTHONPATH=. TRITON_INTERPRET=1 python benchmarks/vae_conv.py --quick --json /tmp/vae_conv.json  # CPU smoke

Shapes: the decoder's causal 3x3x3 convolutions at the pipeline's chunking (20 latent frames a chunk), each as
one call sees it: its input channels-last with the two past frames in front. The 96 -> 3 head, 96 -> 96 at
full size, 192 -> 192 at half size and 384 -> 384 at quarter size (h200-2026-12-02e, ``vae_decode.py
--layers``: 22.5, ~44, ~31 and ~14 ms a decode each). Random bf16 input and weights.

Per shape: cuDNN (``F.conv3d``, what the VAE runs) is the baseline, then the kernel at each tiling of
``--launches`` (``ConvLaunch`` fields: block_h, block_w, block_n, block_k, num_warps, num_stages). CUDA-event
medians after a warm-up call; TFLOP/s counts 2 x C_in x C_out x 27 per output; ``speedup`` is cuDNN's time
over the row's. Each kernel output's rel L2 to cuDNN's, and on the first output frames both outputs' max
relative error to an fp32 convolution.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from common import environment, print_table, write_json
from e2e_stages import quantiles, time_calls

from turbodiffusion.ops.causal_conv3d.kernel import ConvLaunch, causal_conv3d_triton, default_launch
from turbodiffusion.pipelines.presets import RESOLUTIONS
from turbodiffusion.testing.compare import max_rel, rel_l2

# (name, C_in, C_out, input frames (context included), divisor of the video's height and width)
SHAPES = [
    ("head 96->3", 96, 3, 82, 1),
    ("96->96", 96, 96, 82, 1),
    ("192->192 (1/2 size)", 192, 192, 82, 2),
    ("384->384 (1/4 size)", 384, 384, 42, 4),
]
QUICK_SHAPES = [("head 16->3", 16, 3, 4, 1), ("16->32", 16, 32, 4, 1)]
QUICK_SIZE = (16, 24)  # height, width of a --quick frame
# The kernel's tilings tried on the GPU (block_h, block_w, block_n, block_k, num_warps, num_stages); a row's
# block_n is capped at the output channels' next power of two.
LAUNCHES = [
    (1, 128, 64, 32, 4, 3),
    (1, 128, 64, 64, 4, 3),
    (1, 128, 128, 32, 8, 3),
    (1, 128, 128, 64, 8, 3),
    (1, 64, 64, 32, 4, 4),
    (1, 64, 128, 32, 4, 3),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="480p")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--shapes", default=None, help="comma list of shape names (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help="tiny shapes on the CPU (interpreter): a smoke run"
    )
    parser.add_argument("--json", default="results/vae_conv.json")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be >= 1")
    return args


def launches_for(c_in: int, c_out: int, width: int, quick: bool) -> list[ConvLaunch]:
    """The default tiling first, then ``LAUNCHES`` (block_n capped at C_out's power of two), no repeats."""
    out = [default_launch(c_in, c_out, width)]
    if quick:
        return out
    cap = max(16, 1 << (c_out - 1).bit_length())
    for bh, bw, bn, bk, warps, stages in LAUNCHES:
        launch = ConvLaunch(
            bh, bw, min(bn, cap), min(bk, max(16, 1 << (c_in - 1).bit_length())), warps, stages
        )
        if launch not in out:
            out.append(launch)
    return out


def measure_shape(
    shape: tuple, height: int, width: int, args: argparse.Namespace, device: torch.device
) -> list:
    """The rows of one shape: cuDNN, then the kernel at each tiling (a tiling that fails to build is a row with
    its error)."""
    name, c_in, c_out, frames, div = shape
    h, w = height // div, width // div
    g = torch.Generator(device).manual_seed(c_in + c_out)
    x = torch.randn(1, c_in, frames, h, w, generator=g, device=device, dtype=torch.bfloat16)
    x = x.contiguous(memory_format=torch.channels_last_3d)
    weight = (torch.randn(c_out, c_in, 3, 3, 3, generator=g, device=device) / (27 * c_in) ** 0.5).to(x.dtype)
    weight = weight.contiguous(memory_format=torch.channels_last_3d)
    bias = torch.randn(c_out, generator=g, device=device).to(x.dtype)
    tflop = 2 * c_in * c_out * 27 * (frames - 2) * h * w / 1e12

    def cudnn() -> torch.Tensor:
        return F.conv3d(x, weight, bias, padding=(0, 1, 1))

    base = cudnn()
    head = slice(0, 4)  # output frames checked against fp32 (the whole clip in fp32 would not fit)
    truth = F.conv3d(x[:, :, :6].float(), weight.float(), bias.float(), padding=(0, 1, 1))[:, :, head]
    p50, p20, p80 = quantiles(time_calls(cudnn, args.reps, device))
    rows = [{
        "shape": name, "impl": "cudnn", "launch": None, "ms": p50, "ms_p20": p20, "ms_p80": p80,
        "tflops": tflop / (p50 / 1e3), "speedup": 1.0, "rel_l2_vs_cudnn": 0.0,
        "max_rel_vs_fp32": max_rel(base[:, :, head], truth),
    }]  # fmt: skip
    print(f"{name}: cuDNN {p50:.3f} ms ({tflop / (p50 / 1e3):.0f} TFLOP/s)", flush=True)
    base_ms = p50
    for launch in launches_for(c_in, c_out, w, args.quick):

        def kernel(launch: ConvLaunch = launch) -> torch.Tensor:
            return causal_conv3d_triton(x, weight, bias, launch)

        try:
            out = kernel()
        except Exception as err:  # noqa: BLE001 - a tiling that does not build is a result, not a stop
            rows.append({"shape": name, "impl": "triton", "launch": vars(launch), "error": repr(err)[:300]})
            print(f"  {launch}: failed: {err!r}"[:300], flush=True)
            continue
        err_l2, err_fp32 = rel_l2(out.float(), base.float()), max_rel(out[:, :, head], truth)
        del out
        p50, p20, p80 = quantiles(time_calls(kernel, args.reps, device))
        rows.append({
            "shape": name, "impl": "triton", "launch": vars(launch), "ms": p50, "ms_p20": p20, "ms_p80": p80,
            "tflops": tflop / (p50 / 1e3), "speedup": base_ms / p50, "rel_l2_vs_cudnn": err_l2,
            "max_rel_vs_fp32": err_fp32,
        })  # fmt: skip
        print(f"  {launch}: {p50:.3f} ms ({base_ms / p50:.2f}x), rel L2 {err_l2:.1e}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device("cpu" if args.quick else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU; use --quick for the CPU smoke run")
    height, width = QUICK_SIZE if args.quick else RESOLUTIONS[args.resolution][::-1]
    shapes = QUICK_SHAPES if args.quick else SHAPES
    if args.shapes:
        wanted = {s.strip() for s in args.shapes.split(",")}
        shapes = [s for s in shapes if s[0] in wanted]
    rows: list[dict] = []
    payload = {"env": environment(), "args": vars(args), "rows": rows}
    with torch.no_grad():
        for shape in shapes:
            rows += measure_shape(shape, height, width, args, device)
            write_json(args.json, payload)
    print_table(
        [dict(r, launch=None if r.get("launch") is None else tuple(r["launch"].values())) for r in rows],
        ["shape", "impl", "launch", "ms", "tflops", "speedup", "rel_l2_vs_cudnn", "max_rel_vs_fp32"],
    )
    write_json(args.json, payload)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
