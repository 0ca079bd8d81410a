"""The Sage kernel with one MMA wait a tile (``sage_sync.py``) against ``kernel_wgmma`` on the GPU, in three parts:

1. outputs against the kernel's (bit for bit expected: the same arithmetic in the same order), as the largest
   difference in bf16 steps and the relative L2 difference; the cases of 04f's ``sage_reorder_ab`` (ragged and
   real shapes, with and without the linear branch, top-k, dense and one- or two-tile luts);
2. a layer alone: CUDA graphs of 20 calls in a burst, then ~1.5 s sustained with the SM clock and power
   sampled, the two kernels alternated, two rounds;
3. whole forwards (one model, a CUDA graph per arm, replays alternated) at 1.3B-480p and 14B-720p.

    PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:\
benchmarks/runs/h200-2026-12-04/device_scripts:benchmarks/runs/cpu-2026-12-04f/device_scripts:\
benchmarks/runs/cpu-2026-12-05c/device_scripts \
        python benchmarks/runs/cpu-2026-12-05c/device_scripts/sage_sync_ab.py OUT.json [outputs,layers,forwards]
"""

import contextlib
import json
import sys

import sage_sync
import torch
from e2e_stages import GraphForward, build_dit, dit_shape, time_calls
from graph_timing import time_ms
from pingpong_bench import run  # sage_forward_triton with the Gluon launcher swapped: (out, its args)
from sage_clock_probe import sustained

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.sage import kernel_wgmma as kw
from turbodiffusion.attention.sla.block_map import topk_count
from turbodiffusion.models.wan.config import dit_preset

# arm -> (the launcher, the context its V^T order needs)
ARMS = {
    "kernel": (kw.sage_sparse_wgmma, contextlib.nullcontext),
    "sync": (sage_sync.sage_sparse_wgmma, contextlib.nullcontext),
}


# sage_reorder_ab.case (04f), copied: that module imports a helper kernel_wgmma no longer has.
def case(b, h, seq, d, seed, linear, tiles=None):
    """bf16 q, k, v [b, seq, h, d], an ascending lut of ``tiles`` key blocks a query block (top-k 0.1 of
    random scores when None; every block when "all"), and the linear branch's projection if ``linear``."""
    g = torch.Generator("cuda").manual_seed(seed)
    q, k, v = (torch.randn(b, seq, h, d, generator=g, device="cuda").to(torch.bfloat16) for _ in range(3))
    mq, nk = -(-seq // 64), -(-seq // 128)
    if tiles == "all":
        nt = nk
    elif tiles is None:
        nt = topk_count(0.1, nk) if nk > 20 else max(1, nk // 2)
    else:
        nt = tiles
    scores = torch.rand(b, h, mq, nk, generator=g, device="cuda")
    lut = scores.topk(nt, dim=-1).indices.sort(dim=-1).values.to(torch.int32).contiguous()
    proj = None
    if linear:
        proj = (torch.randn(d, d, generator=g, device="cuda").to(torch.bfloat16) / d**0.5,
                torch.randn(d, generator=g, device="cuda").to(torch.bfloat16))  # fmt: skip
    return q, k, v, lut, proj


def difference(got, ref):
    """Largest |got - ref| in bf16 steps of ref (ulp at |ref|) and in bf16 steps at the output's scale (the
    GPU test's bound: eps * max |ref|), and the relative L2 difference."""
    got, ref = got.float(), ref.float()
    ulp = torch.exp2(torch.floor(torch.log2(ref.abs().clamp_min(2.0**-126))) - 7)
    return dict(
        max_steps=((got - ref).abs() / ulp).max().item(),
        max_scale_steps=(
            (got - ref).abs().max() / (torch.finfo(torch.bfloat16).eps * ref.abs().max())
        ).item(),
        max_abs_diff=(got - ref).abs().max().item(),
        rel_l2=((got - ref).norm() / ref.norm().clamp_min(1e-30)).item(),
        finite=bool(torch.isfinite(got).all()),
    )


def run_arm(arm, x):
    launcher, context = ARMS[arm]
    with context():
        return run(*x, launcher)


def check_outputs(rows):
    checks = [  # b, h, seq, d, seed, tiles
        (1, 3, 4097, 128, 1, None), (2, 2, 200, 64, 2, None), (1, 2, 333, 128, 3, None),
        (1, 2, 333, 128, 4, "all"), (1, 2, 1000, 64, 5, "all"), (1, 3, 700, 128, 6, 1), (1, 3, 700, 128, 7, 2),
        (1, 2, 129, 128, 8, "all"), (1, 12, 32760, 128, 9, None),
    ]  # fmt: skip
    for b, h, seq, d, seed, tiles in checks:
        for linear in (False, True):
            x = case(b, h, seq, d, seed, linear, tiles)
            ref, _ = run_arm("kernel", x)
            got, _ = run_arm("sync", x)
            row = dict(check=[b, h, seq, d], tiles=x[3].shape[-1], linear=linear, sync=difference(got, ref))
            rows.append(row)
            print(json.dumps(row), flush=True)


def time_layers(rows):
    for name, (h, seq) in {
        "1.3b-480p": (12, 32760),
        "14b-480p": (40, 32760),
        "14b-720p": (40, 75600),
    }.items():
        for linear in (False, True):
            x = case(1, h, seq, 128, 5, linear)
            fns = {}
            for arm, (launcher, _) in ARMS.items():
                _, seen = run_arm(arm, x)  # the launcher's arguments, V^T in the arm's order
                fns[arm] = lambda f=launcher, a=seen["args"], k=seen["kwargs"]: f(*a, **k)
            row = dict(shape=name, linear=linear)
            for rnd in range(2):
                for arm, fn in fns.items():
                    row[f"{arm}_{rnd}"] = dict(burst_ms=time_ms(fn), **sustained(fn, seconds=1.5))
            rows.append(row)
            print(json.dumps(row), flush=True)


def time_forwards(preset, resolution, rounds, reps):
    """One random model (FP8-fast linears, fused ops, SageSLA top-k 0.1), a CUDA graph per arm, the graphs
    replayed in alternation; median ms a forward and the sync arm's output against the kernel's."""
    device = torch.device("cuda")
    shape = dit_shape(dit_preset(preset), resolution, 81, None)
    cfg = shape.cfg
    g = torch.Generator(device).manual_seed(5)
    x = torch.randn(shape.latent, generator=g, device=device).to(torch.bfloat16)
    t = torch.full((1,), 988.0, device=device, dtype=torch.bfloat16)
    context = torch.randn(1, cfg.text_len, cfg.text_dim, generator=g, device=device).to(torch.bfloat16)
    model = build_dit(cfg, AttentionConfig(backend="sagesla", sla_topk=0.1), device, "fp8row-fast")
    model.enable_fused_ops(True)
    graphs, outs = {}, {}
    for arm, (_, arm_context) in ARMS.items():
        with arm_context():  # read at call time by sage_forward_triton, so also at capture
            with torch.no_grad():
                model(x, t, context, None)  # compile and autotune outside the capture
            graphs[arm] = GraphForward(model, x, t, context, None)
            outs[arm] = graphs[arm](x, t).float().clone()
    ms = {arm: [] for arm in graphs}
    for _ in range(rounds):
        for arm, graph in graphs.items():
            ms[arm] += time_calls(lambda graph=graph: graph(x, t), reps, device)
    med = {arm: sorted(v)[len(v) // 2] for arm, v in ms.items()}
    row = dict(
        preset=preset, resolution=resolution, tokens=shape.tokens, rounds=rounds, reps=reps, ms=med,
        speedup_over_kernel={arm: med["kernel"] / v for arm, v in med.items()},
        sync_against_kernel=difference(outs["sync"], outs["kernel"]), all_ms=ms,
    )  # fmt: skip
    print(json.dumps({k: v for k, v in row.items() if k != "all_ms"}), flush=True)
    graphs.clear()
    del model
    torch.cuda.empty_cache()
    return row


PARTS = ("outputs", "layers", "forwards")


def main(out_path: str, parts: list[str]) -> None:
    rows = []

    def save():
        with open(out_path, "w") as f:  # after each part: a run cut off keeps what it measured
            json.dump(rows, f, indent=1)

    if "outputs" in parts:
        check_outputs(rows)
        save()
    if "layers" in parts:
        time_layers(rows)
        save()
    if "forwards" in parts:
        for args in (("wan2.1-t2v-1.3b", "480p", 6, 8), ("wan2.1-t2v-14b", "720p", 2, 3)):
            rows.append(dict(forward=time_forwards(*args)))
            save()


if __name__ == "__main__":
    # OUT.json [PARTS]: PARTS comma-separated from outputs, layers, forwards (default: all three).
    chosen = sys.argv[2].split(",") if len(sys.argv) > 2 else list(PARTS)
    if any(p not in PARTS for p in chosen):
        raise SystemExit(f"parts must come from {', '.join(PARTS)} (got {sys.argv[2]!r})")
    main(sys.argv[1], chosen)
