"""Block streaming (pipelines/block_offload.py): DiT forward time streamed vs resident, and peak GPU memory.

    PYTHONPATH=. python benchmarks/offload.py wan2.1-t2v-14b --resolution 480p --json results/offload_14b_480p.json
    PYTHONPATH=. python benchmarks/offload.py wan2.1-t2v-14b --resolution 720p --w8a8 --fused \
        --json results/offload_14b_720p_turbo.json
    PYTHONPATH=. python benchmarks/offload.py wan2.1-t2v-1.3b --quick --json /tmp/offload_quick.json   # CPU smoke

One DiT with random bf16 weights drawn on the GPU (timings do not depend on weight values; --w8a8 and
--fused as in benchmarks/e2e.py) runs one forward on shared inputs (latent of --frames at --resolution, a
full-length random text context, t = 988), first resident, then with its blocks streamed from page-locked
host memory at each --depths value (``stream_blocks(model, "cuda", depth=d)``: at most d + 1 blocks on the
GPU). The GPU must hold the whole model for the resident row: the ratio is measured in one process.

Rows: ``resident`` and ``streamed d=D``. Columns: fwd_ms p50 [p20, p80] (CUDA events, after one warm-up
call whose time is first_call_s), ratio = streamed / resident p50, device_gib = weights on the GPU at rest
(all of them resident; the trunk and d + 1 block slots streamed), peak_gib = torch.cuda.max_memory_allocated
from the end of the setup to the end of the row, copy_ms = block bytes / host-to-device rate measured in
this run (pinned 1 GiB copies), floor_ms = max(resident fwd, copy_ms) (a streamed forward can hide its
copies behind compute, not beat either), x_floor = fwd / floor.
Correctness: the streamed output must equal the resident one bit for bit (the same kernels read the same
bytes), or, if the resident forward itself is not reproducible, lie within 4x its run-to-run rel_l2;
anything else fails the run. CUDA graphs are not measured: streamed weights are moved by the host between
blocks, which a graph cannot replay (BlockOffload refuses a capture). ``--quick``: a tiny config on the
CPU (wall clock, no pinned memory) so the script is checked before GPU time is spent.
"""

from __future__ import annotations

import argparse

import torch
from common import (
    add_video_arguments,
    benchmark_device,
    check_video_arguments,
    environment,
    print_table,
    write_json,
)
from e2e_stages import (
    build_dit,
    dit_shape,
    param_gib,
    peak_gib,
    quantiles,
    random_dit_inputs,
    reset_memory,
    sync,
    time_calls,
    time_forward,
)

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import WanDiTConfig, dit_preset
from turbodiffusion.pipelines.block_offload import stream_blocks
from turbodiffusion.testing.compare import rel_l2

QUICK_DIT = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=4, text_dim=64, text_len=32)
COLUMNS = [
    "row", "depth", "fwd_ms", "fwd_p20", "fwd_p80", "first_call_s", "ratio", "device_gib", "peak_gib",
    "copy_ms", "floor_ms", "x_floor", "exact", "rel_l2",
]  # fmt: skip
GIB = 1024**3


def h2d_gbps(device: torch.device) -> float | None:
    """Host-to-device copy rate from page-locked memory (GB/s, median of 5 copies of 1 GiB); None on CPU."""
    if device.type != "cuda":
        return None
    buffers = {
        "src": torch.empty(GIB, dtype=torch.uint8, pin_memory=True),
        "dst": torch.empty(GIB, dtype=torch.uint8, device=device),
    }
    ms = quantiles(time_calls(lambda: buffers["dst"].copy_(buffers["src"], non_blocking=True), 5, device))[0]
    buffers.clear()  # 1 GiB on each side: give it back before the model is built
    torch.cuda.empty_cache()
    return GIB / ms / 1e6


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_video_arguments(parser)
    parser.add_argument(
        "--attention", choices=["sdpa", "sla", "sagesla"], default=None,
        help="self-attention backend (default: sagesla on CUDA, sla with --quick)",
    )  # fmt: skip
    parser.add_argument("--sla-topk", type=float, default=0.1)
    parser.add_argument("--w8a8", action="store_true", help="quantize_(model, Int8Config()) before timing")
    parser.add_argument("--fused", action="store_true", help="WanDiT.enable_fused_ops() before timing")
    parser.add_argument(
        "--depths", type=int, nargs="+", default=[1, 2], help="prefetch depths to stream at (>= 0)"
    )
    parser.add_argument("--reps", type=int, default=5, help="timed forwards per row (after one warm-up)")
    parser.add_argument("--quick", action="store_true", help="tiny config on the CPU: a smoke run")
    parser.add_argument("--json", default="results/offload.json")
    args = parser.parse_args(argv)
    check_video_arguments(parser, args)
    if args.reps < 1:
        parser.error(f"--reps must be >= 1 (got {args.reps})")
    if any(d < 0 for d in args.depths):
        parser.error(f"--depths must be >= 0 (got {' '.join(map(str, args.depths))}); 1 is the default")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = benchmark_device(args.quick)
    preset = dit_preset(args.preset)
    shape = dit_shape(preset, args.resolution, args.frames, QUICK_DIT if args.quick else None)
    cfg, lat, tokens = shape.cfg, shape.latent, shape.tokens
    frames, height, width = shape.frames, shape.height, shape.width
    backend = args.attention or ("sla" if args.quick else "sagesla")
    print(f"{args.preset}: {frames}x{height}x{width}, L={tokens} tokens, {backend}, {device}", flush=True)

    x, t, context, y = random_dit_inputs(shape, device)
    rate = h2d_gbps(device)
    attention = AttentionConfig(backend=backend, sla_topk=args.sla_topk)
    model = build_dit(cfg, attention, device, "int8" if args.w8a8 else None)
    model.enable_fused_ops(args.fused)
    weights = param_gib(model)

    def forward() -> torch.Tensor:
        return model(x, t, context, y)

    rows: list[dict] = []
    with torch.no_grad():
        reset_memory(device)
        row, ref = time_forward(forward, args.reps, device)
        noise = rel_l2(forward().float(), ref)  # run-to-run: the bar for "streamed changes nothing"
        resident = {"row": "resident", "depth": None, **row, "ratio": 1.0, "device_gib": weights}
        resident.update(peak_gib=peak_gib(device), exact=True, rel_l2=noise)
        rows.append(resident)
    print(f"resident: fwd {resident['fwd_ms']:.1f} ms, peak {resident['peak_gib'] or 0:.2f} GiB", flush=True)

    for depth in args.depths:
        offload = stream_blocks(model, device, depth=depth)  # blocks to page-locked host memory
        sync(device)
        reset_memory(device)
        with torch.no_grad():
            row, out = time_forward(forward, args.reps, device)
        err, exact = rel_l2(out, ref), torch.equal(out, ref)
        copy_ms = offload.block_bytes / rate / 1e6 if rate else None
        floor = max(resident["fwd_ms"], copy_ms or 0.0)
        row.update(
            row=f"streamed d={depth}", depth=depth, ratio=row["fwd_ms"] / resident["fwd_ms"],
            device_gib=(offload.trunk_bytes + offload.num_slots * offload.slot_bytes) / GIB,
            peak_gib=peak_gib(device), copy_ms=copy_ms, floor_ms=floor, x_floor=row["fwd_ms"] / floor,
            exact=exact, rel_l2=err, block_gib=offload.slot_bytes / GIB, blocks_gib=offload.block_bytes / GIB,
        )  # fmt: skip
        rows.append(row)
        offload.remove(to=device)  # the whole model resident again for the next depth
        print(
            f"{row['row']}: fwd {row['fwd_ms']:.1f} ms (x{row['ratio']:.2f}), peak {row['peak_gib'] or 0:.2f} GiB"
        )
        if not (exact or err <= 4 * noise):
            raise SystemExit(
                f"{row['row']}: streamed output differs from resident (rel_l2 {err:.3g}, resident run-to-run "
                f"{noise:.3g}); refusing to report its speed"
            )

    print_table(rows, COLUMNS)
    notes = [
        "ratio = streamed fwd p50 / resident fwd p50, both measured in this run on the same inputs",
        "copy_ms = block bytes / pinned host-to-device GB/s measured in this run; floor_ms = max(resident, copy)",
        "no CUDA graph rows: streamed weights are moved by the host between blocks, which a graph cannot "
        "replay (BlockOffload refuses a capture)",
    ]
    write_json(
        args.json,
        {
            "env": environment(), "args": vars(args), "preset": args.preset, "attention": backend,
            "shape": {"latent": lat, "tokens": tokens, "frames": frames, "height": height, "width": width},
            "weights_gib": weights, "h2d_gbps": rate, "rows": rows, "notes": notes,
        },
    )  # fmt: skip
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
