"""Attention backends at Wan shapes: SDPA (flash) against SLA, Sage INT8/FP8 and SageSLA (issue 8).

Claim measured, per shape (bf16, D=128, random inputs; H=12, L=32,760 is Wan2.1-1.3B at 480p and H=40,
L=75,600 is 14B at 720p): the forward time of ``sdpa`` (torch SDPA, flash), ``sla`` at topk 0.05 / 0.1 /
0.15 / 0.2, ``sage`` (FP8 P.V, and 16-bit P.V), ``sagesla`` at topk 0.1, the ``sageattention`` 1.0.6 peer
when it is importable, and SLA forward + backward at topk 0.1 against SDPA forward + backward.

    PYTHONPATH=. python benchmarks/attention.py --json results/attention.json
    PYTHONPATH=. python benchmarks/attention.py --quick        # smoke run: tiny shape (CPU: interpreter)
    PYTHONPATH=. python benchmarks/attention.py --sustain 2    # + each row sustained 2 s, clock sampled

Before timing, every implementation is checked on the timed inputs: SLA and SageSLA against the SLA
reference (fp32, on a subset of heads, with the same block selection), Sage against SDPA; a fast wrong
answer stops the run. Times are do_bench medians (p20-p80 in brackets) after a first call whose time
(compile + autotune) is reported separately; SDPA is timed before and after the other rows of a shape and
speedups use the mean of the two. FLOP/s: "effective" = dense-attention FLOPs (4 B H L^2 D forward,
x3.5 with backward) / time, "executed" = FLOPs of the work actually done (sparse: topk * BLKK keys per
query, plus the linear branch's 6 B H L D^2), shown as a fraction of the ceilings measured in this run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
from common import environment, measure_ceilings, print_table, time_ms, write_json
from gpu_clock import sustained_ms
from torch import nn

SHAPES = {"wan-1.3b-480p": (1, 32760, 12, 128), "wan-14b-720p": (1, 75600, 40, 128)}
QUICK_SHAPES = {"quick": (1, 300, 2, 128)}
SLA_TOPKS = (0.05, 0.1, 0.15, 0.2)
TRAIN_TOPK = 0.1
TRAIN_BLOCKS = (64, 64)  # the official SLA fine-tuning blocks (shared/docs/attention.md §2.1)
BWD_FACTOR = 2.5  # backward FLOPs / forward FLOPs of softmax attention (5 products instead of 2)
SLA_CHECK_REL_L2 = 1e-2  # bf16 kernel vs fp32 reference: bf16 operands land between 1e-3 and 1e-2
CHECK_HEADS = 2  # heads of the SLA reference check (heads are independent; memory of the gather)


def dense_flops(b: int, seq: int, h: int, d: int) -> float:
    return 4.0 * b * h * seq * seq * d


def sla_flops(b: int, seq: int, h: int, d: int, topk_blocks: int, block_k: int) -> float:
    """Executed forward FLOPs of SLA/SageSLA: QK^T and PV over topk * BLKK keys, plus the linear branch."""
    return 4.0 * b * h * seq * min(seq, topk_blocks * block_k) * d + 6.0 * b * h * seq * d * d


def timer(device: str):
    """(p50, p20, p80) ms: do_bench on a GPU, a wall-clock median of 3 runs on the CPU (smoke runs only)."""
    if device == "cuda":
        return time_ms

    def cpu_time(fn):
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - t) * 1e3)
        return statistics.median(runs), min(runs), max(runs)

    return cpu_time


def first_call(fn, device: str):
    """Run fn once (compile, autotune) and return (result, seconds)."""
    t = time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def fail(message: str) -> None:
    print(f"CHECK FAILED: {message}", file=sys.stderr)
    raise SystemExit(1)


def random_proj(d: int, device: str, seed: int) -> nn.Linear:
    """proj_l with random (not zero) weights, so the linear branch is exercised by the checks."""
    g = torch.Generator().manual_seed(seed)
    proj = nn.Linear(d, d)
    with torch.no_grad():
        proj.weight.copy_(torch.randn(d, d, generator=g) * 0.1 / d**0.5)  # small: o stays mostly attention
        proj.bias.copy_(torch.randn(d, generator=g) * 0.01)
    return proj.to(device)


def sla_check(out, q, k, v, proj, sel, block_q, block_k, heads) -> float:
    """rel L2 of out[:, :, heads] against the fp32 SLA reference on those heads.

    ``sel`` is the block selection of the full tensors, sliced here: selecting again on a subset of heads
    could break bf16 score ties differently (other GEMM shapes, other rounding).
    """
    from turbodiffusion.attention.sla import BlockSelection, sla_reference
    from turbodiffusion.testing.compare import rel_l2

    qs, ks, vs = (t[:, :, heads].float() for t in (q, k, v))
    sub = BlockSelection(lut=sel.lut[:, heads], num_key_blocks=sel.num_key_blocks)
    with torch.no_grad():
        ref = sla_reference(qs, ks, vs, proj.weight, proj.bias, topk_ratio=1.0, block_q=block_q, block_k=block_k,
                            selection=sub)  # fmt: skip
    return rel_l2(out[:, :, heads], ref)


def bench_shape(name, shape, device, impl, args, ceilings, rows, breakdown) -> None:
    from turbodiffusion.attention.sage import dense_tile_k, sage_attention
    from turbodiffusion.attention.sage.reference import V_RANGE_OFFICIAL
    from turbodiffusion.attention.sagesla import default_blocks, sagesla_attention
    from turbodiffusion.attention.sdpa import sdpa_attention
    from turbodiffusion.attention.sla import select_blocks, sla_attention, topk_count
    from turbodiffusion.testing import tolerances
    from turbodiffusion.testing.compare import rel_l2

    b, seq, h, d = shape
    bench = timer(device)
    g = torch.Generator(device=device).manual_seed(0)
    q, k, v = (torch.randn(b, seq, h, d, device=device, dtype=torch.bfloat16, generator=g) for _ in range(3))
    heads = sorted({0, h - 1})[:CHECK_HEADS]
    dense = dense_flops(b, seq, h, d)
    bf16_ceiling = ceilings.get("bf16_tflops")
    lowbit_ceiling = (
        min(ceilings["int8_tops"], ceilings.get("fp8_tflops", ceilings["int8_tops"])) if ceilings else None
    )

    def add(impl_name, fn, ms3, first_s, exec_flops, ceiling, ceiling_name, err_sdpa, check, flops=dense):
        rows.append(dict(
            shape=name, impl=impl_name, ms=ms3[0], p20=ms3[1], p80=ms3[2], first_call_s=first_s,
            eff_tflops=flops / ms3[0] / 1e9, exec_tflops=exec_flops / ms3[0] / 1e9,
            pct_ceiling=(100 * exec_flops / ms3[0] / 1e9 / ceiling) if ceiling else None, ceiling=ceiling_name,
            rel_l2_vs_sdpa=err_sdpa, check=check,
        ))  # fmt: skip
        if args.sustain and fn is not None:
            rows[-1].update(sustained_ms(fn, torch.device(device), args.sustain))

    # SDPA, the baseline (timed again at the end of the shape).
    def sdpa():
        return sdpa_attention(q, k, v)

    with torch.no_grad():
        o_sdpa, first_s = first_call(sdpa, device)
        t_sdpa = bench(sdpa)
    add("sdpa", sdpa, t_sdpa, first_s, dense, bf16_ceiling, "bf16", 0.0, "baseline")

    proj = random_proj(d, device, seed=1)
    with torch.no_grad():
        # SLA forward at each topk, inference blocks (128, 64).
        for topk in SLA_TOPKS:
            block_q, block_k = 128, 64

            def fn(topk=topk, block_q=block_q, block_k=block_k):
                return sla_attention(q, k, v, proj, topk=topk, block_q=block_q, block_k=block_k, impl=impl)

            _, first_s = first_call(fn, device)
            sel = select_blocks(q, k, block_q, block_k, topk)
            out = sla_attention(
                q, k, v, proj, topk=topk, block_q=block_q, block_k=block_k, impl=impl, selection=sel
            )
            err = sla_check(out, q, k, v, proj, sel, block_q, block_k, heads)
            if not err <= SLA_CHECK_REL_L2:
                fail(f"{name} sla topk={topk}: rel L2 {err:.3e} vs the SLA reference > {SLA_CHECK_REL_L2}")
            tk = topk_count(topk, -(-seq // block_k))
            add(f"sla topk={topk} ({block_q}/{block_k})", fn, bench(fn), first_s,
                sla_flops(b, seq, h, d, tk, block_k), bf16_ceiling, "bf16", rel_l2(out, o_sdpa),
                f"ref {err:.1e}")  # fmt: skip
            if topk == 0.1:

                def select(topk=topk, block_q=block_q, block_k=block_k):
                    return select_blocks(q, k, block_q, block_k, topk)

                def kernel(topk=topk, block_q=block_q, block_k=block_k, sel=sel):
                    return sla_attention(q, k, v, proj, topk=topk, block_q=block_q, block_k=block_k, impl=impl,
                                         selection=sel)  # fmt: skip

                breakdown.append(dict(shape=name, impl="sla topk=0.1", part="block selection (torch)",
                                      ms=bench(select)[0]))  # fmt: skip
                breakdown.append(dict(shape=name, impl="sla topk=0.1", part="kv state + fused kernel",
                                      ms=bench(kernel)[0]))  # fmt: skip

        # Sage dense: FP8 P.V (the default on sm89+) and 16-bit P.V (SageAttention1 numerics).
        for pv, bound in (
            ("fp8", tolerances.SAGE_FP8_RANDOM_REL_L2),
            ("half", tolerances.SAGE_HALF_RANDOM_REL_L2),
        ):
            if pv == "fp8" and device == "cuda" and torch.cuda.get_device_capability() < (8, 9):
                continue

            def fn(pv=pv):
                return sage_attention(q, k, v, pv=pv, impl=impl)

            out, first_s = first_call(fn, device)
            err = rel_l2(out, o_sdpa)
            if not err <= bound:
                fail(f"{name} sage pv={pv}: rel L2 {err:.3e} vs SDPA > {bound:.3e}")
            ceiling = lowbit_ceiling if pv == "fp8" else (
                2 / (1 / ceilings["int8_tops"] + 1 / bf16_ceiling) if ceilings else None)  # fmt: skip
            tile = dense_tile_k(q.device, 64)
            add(f"sage pv={pv} (128/64, tile {tile})", fn, bench(fn), first_s, dense, ceiling,
                "int8/fp8" if pv == "fp8" else "int8+bf16", err, f"sdpa {err:.1e}")  # fmt: skip
        if device == "cuda" and torch.cuda.get_device_capability() >= (8, 9):  # FP8 with 64-key tiles
            from turbodiffusion.attention.sage.kernel import sage_forward_triton

            def fn():
                return sage_forward_triton(
                    q, k, v, block_q=128, block_k=64, tile_k=64, pv="fp8", v_range=448.0
                )

            out, first_s = first_call(fn, device)
            err = rel_l2(out, o_sdpa)
            if not err <= tolerances.SAGE_FP8_RANDOM_REL_L2:
                fail(
                    f"{name} sage tile 64: rel L2 {err:.3e} vs SDPA > {tolerances.SAGE_FP8_RANDOM_REL_L2:.3e}"
                )
            add("sage pv=fp8 (128/64, tile 64)", fn, bench(fn), first_s, dense, lowbit_ceiling, "int8/fp8", err,
                f"sdpa {err:.1e}")  # fmt: skip

        # SageSLA at topk 0.1, the device's official blocks and V range 2.25.
        block_q, block_k = default_blocks(q.device)
        topk = 0.1

        def fn():
            return sagesla_attention(q, k, v, proj, topk=topk, block_q=block_q, block_k=block_k,
                                     v_range=V_RANGE_OFFICIAL, impl=impl)  # fmt: skip

        _, first_s = first_call(fn, device)
        sel = select_blocks(q, k, block_q, block_k, topk)
        out = sagesla_attention(q, k, v, proj, topk=topk, block_q=block_q, block_k=block_k, v_range=V_RANGE_OFFICIAL,
                                impl=impl, selection=sel)  # fmt: skip
        err = sla_check(out, q, k, v, proj, sel, block_q, block_k, heads)
        if not err <= tolerances.SAGE_FP8_RANDOM_REL_L2:
            fail(
                f"{name} sagesla: rel L2 {err:.3e} vs the SLA reference > {tolerances.SAGE_FP8_RANDOM_REL_L2:.3e}"
            )
        tk = topk_count(topk, -(-seq // block_k))
        add(f"sagesla topk=0.1 ({block_q}/{block_k})", fn, bench(fn), first_s, sla_flops(b, seq, h, d, tk, block_k),
            lowbit_ceiling, "int8/fp8", rel_l2(out, o_sdpa), f"ref {err:.1e}")  # fmt: skip
        if device == "cuda" and (block_q, block_k) != (
            128,
            64,
        ):  # also the other GPUs' blocks, for comparison

            def fn2():
                return sagesla_attention(q, k, v, proj, topk=topk, block_q=128, block_k=64, v_range=V_RANGE_OFFICIAL,
                                         impl=impl)  # fmt: skip

            _, first_s = first_call(fn2, device)
            sel2 = select_blocks(q, k, 128, 64, topk)
            out = sagesla_attention(q, k, v, proj, topk=topk, block_q=128, block_k=64, v_range=V_RANGE_OFFICIAL,
                                    impl=impl, selection=sel2)  # fmt: skip
            err = sla_check(out, q, k, v, proj, sel2, 128, 64, heads)
            if not err <= tolerances.SAGE_FP8_RANDOM_REL_L2:
                fail(f"{name} sagesla 128/64: rel L2 {err:.3e} vs the SLA reference")
            tk = topk_count(topk, -(-seq // 64))
            add("sagesla topk=0.1 (128/64)", fn2, bench(fn2), first_s, sla_flops(b, seq, h, d, tk, 64),
                lowbit_ceiling, "int8/fp8", rel_l2(out, o_sdpa), f"ref {err:.1e}")  # fmt: skip
        breakdown.append(dict(shape=name, impl="sagesla topk=0.1", part="block selection (torch)",
                              ms=bench(lambda: select_blocks(q, k, block_q, block_k, topk))[0]))  # fmt: skip
        breakdown.append(dict(shape=name, impl="sagesla topk=0.1", part="quantisers + kv state + kernel",
                              ms=bench(lambda: sagesla_attention(q, k, v, proj, topk=topk, block_q=block_q,
                                                                 block_k=block_k, impl=impl, selection=sel))[0]))  # fmt: skip

        # The sageattention 1.0.6 peer (Triton, INT8 Q.K^T + FP16 P.V), only where it is importable.
        if device == "cuda" and args.peer:
            try:
                from sageattention import sageattn
            except ImportError:
                sageattn = None
            if sageattn is not None:

                def fn():
                    return sageattn(q, k, v, tensor_layout="NHD")

                try:  # a peer that fails is reported, like the official kernel's failure in issue 8
                    out, first_s = first_call(fn, device)
                except Exception as exc:  # noqa: BLE001
                    print(f"sageattention failed at {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                else:
                    err = rel_l2(out, o_sdpa)
                    add("sageattention 1.0.6 (peer)", fn, bench(fn), first_s, dense, None, "-", err,
                        f"sdpa {err:.1e}")  # fmt: skip
            else:
                print("sageattention is not importable: peer row skipped", file=sys.stderr)

        t_again = bench(sdpa)
    add("sdpa (again)", None, t_again, 0.0, dense, bf16_ceiling, "bf16", 0.0, "baseline")

    # Training: SLA forward + backward at topk 0.1 against SDPA forward + backward.
    do = torch.randn(b, seq, h, d, device=device, dtype=torch.bfloat16, generator=g)
    qg, kg, vg = (t.detach().clone().requires_grad_() for t in (q, k, v))
    block_q, block_k = TRAIN_BLOCKS

    def sdpa_train():
        return torch.autograd.grad(sdpa_attention(qg, kg, vg), (qg, kg, vg), do)

    def sla_train():
        o = sla_attention(qg, kg, vg, proj, topk=TRAIN_TOPK, block_q=block_q, block_k=block_k, impl=impl)
        return torch.autograd.grad(o, (qg, kg, vg, proj.weight, proj.bias), do)

    _, first_s = first_call(sdpa_train, device)
    t_sdpa_train = bench(sdpa_train)
    add("sdpa fwd+bwd", None, t_sdpa_train, first_s, dense * (1 + BWD_FACTOR), bf16_ceiling, "bf16", 0.0,
        "baseline", flops=dense * (1 + BWD_FACTOR))  # fmt: skip
    grads, first_s = first_call(sla_train, device)
    err = train_check(
        grads, qg, kg, vg, do, proj, select_blocks(q, k, block_q, block_k, TRAIN_TOPK), block_q, block_k
    )
    if not err <= 2 * SLA_CHECK_REL_L2:
        fail(f"{name} sla fwd+bwd: gradient rel L2 {err:.3e} vs the reference > {2 * SLA_CHECK_REL_L2}")
    tk = topk_count(TRAIN_TOPK, -(-seq // block_k))
    exec_train = (1 + BWD_FACTOR) * sla_flops(b, seq, h, d, tk, block_k) + 12.0 * b * h * seq * d * d
    add(f"sla fwd+bwd topk=0.1 ({block_q}/{block_k})", None, bench(sla_train), first_s, exec_train, bf16_ceiling,
        "bf16", None, f"grads {err:.1e}", flops=dense * (1 + BWD_FACTOR))  # fmt: skip
    with torch.no_grad():
        breakdown.append(dict(shape=name, impl="sla fwd+bwd", part="forward alone (training blocks)",
                              ms=bench(lambda: sla_attention(q, k, v, proj, topk=TRAIN_TOPK, block_q=block_q,
                                                             block_k=block_k, impl=impl))[0]))  # fmt: skip

    base = (t_sdpa[0] + t_again[0]) / 2
    for row in rows:
        if row["shape"] == name:
            row["speedup"] = (t_sdpa_train[0] if "fwd+bwd" in row["impl"] else base) / row["ms"]


def train_check(grads, q, k, v, do, proj, sel, block_q, block_k) -> float:
    """Largest rel L2 of dq, dk, dv on head 0 against autograd through the fp32 reference (same selection)."""
    from turbodiffusion.attention.sla import BlockSelection, sla_reference
    from turbodiffusion.testing.compare import rel_l2

    sub = BlockSelection(lut=sel.lut[:, :1], num_key_blocks=sel.num_key_blocks)
    leaves = [t.detach()[:, :, :1].float().requires_grad_() for t in (q, k, v)]
    ref = sla_reference(*leaves, proj.weight, proj.bias, topk_ratio=1.0, block_q=block_q, block_k=block_k,
                        selection=sub)  # fmt: skip
    ref_grads = torch.autograd.grad(ref, leaves, do[:, :, :1].float())
    return max(rel_l2(gr[:, :, :1], rr) for gr, rr in zip(grads[:3], ref_grads))


def profile_calls(q, k, v, do, proj, impl) -> str:
    """Per-kernel CUDA time of one call each: sla topk 0.1 forward, sagesla forward, sla forward + backward."""
    from torch.profiler import ProfilerActivity, profile

    from turbodiffusion.attention.sagesla import sagesla_attention
    from turbodiffusion.attention.sla import sla_attention

    out = []
    qg, kg, vg = (t.detach().clone().requires_grad_() for t in (q, k, v))
    calls = {
        "sla topk=0.1 forward (128/64)": lambda: sla_attention(q, k, v, proj, topk=0.1, impl=impl),
        "sagesla topk=0.1 forward": lambda: sagesla_attention(q, k, v, proj, topk=0.1, impl=impl),
        "sla topk=0.1 forward+backward (64/64)": lambda: torch.autograd.grad(
            sla_attention(qg, kg, vg, proj, topk=0.1, block_q=64, block_k=64, impl=impl), (qg, kg, vg), do
        ),
    }
    for title, fn in calls.items():
        with torch.no_grad() if "backward" not in title else torch.enable_grad():
            fn()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                fn()
                torch.cuda.synchronize()
        table = prof.key_averages().table(sort_by="device_time_total", row_limit=14, max_name_column_width=60)
        out.append(f"--- {title} (shape {tuple(q.shape)})\n{table}")
    return "\n".join(out)


def chosen_configs() -> dict[str, dict[str, str]]:
    """The configs the autotuner picked, per kernel and key (for the notes: where the time goes)."""
    from turbodiffusion.attention.sage import kernel as sage_kernel
    from turbodiffusion.attention.sla import kernel_bwd, kernel_fwd

    tuned = {
        "sla_fwd": kernel_fwd._sla_fwd_tuned,
        "sla_bwd_dq": kernel_bwd._sla_bwd_dq_tuned,
        "sla_bwd_dkdv": kernel_bwd._sla_bwd_dkdv_tuned,
        "sage_fwd": sage_kernel._sage_fwd_tuned,
        "linear_branch": kernel_fwd._linear_branch_tuned,
    }
    return {name: {str(key): str(cfg) for key, cfg in t.cache.items()} for name, t in tuned.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, from {list(SHAPES)}")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run on a tiny shape (CPU: Triton interpreter)"
    )
    parser.add_argument("--json", default="results/attention.json", help="where to write the rows")
    parser.add_argument("--no-peer", dest="peer", action="store_false", help="skip the sageattention peer")
    parser.add_argument(
        "--profile", action="store_true", help="CUDA kernel times of one call of each SLA path"
    )
    parser.add_argument(
        "--sustain", type=float, default=0.0, metavar="SECONDS",
        help="also time each forward row back to back for SECONDS with the SM clock sampled (at the power "
        "cap a burst runs faster): columns sustained_ms, sm_mhz, power_capped, mcycles",
    )  # fmt: skip
    args = parser.parse_args()
    if args.sustain < 0:
        parser.error(f"--sustain must be >= 0 (got {args.sustain})")

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        if not args.quick:
            parser.error("without a GPU only --quick runs (the kernels are interpreted on the CPU)")
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before any kernel module is imported
    shapes = QUICK_SHAPES if args.quick else {n: SHAPES[n] for n in args.shapes.split(",")}
    ceilings = measure_ceilings() if device == "cuda" else {}
    if ceilings:
        print("ceilings:", ", ".join(f"{k} {v:.0f}" for k, v in ceilings.items()))
    rows: list[dict] = []
    breakdown: list[dict] = []
    for name, shape in shapes.items():
        print(f"== {name}: B, L, H, D = {shape}", flush=True)
        bench_shape(name, shape, device, "triton", args, ceilings, rows, breakdown)
        if device == "cuda":
            torch.cuda.empty_cache()
    for row in rows:
        row["ms_range"] = f"{row['p20']:.3g}-{row['p80']:.3g}"
    sustained = ["sustained_ms", "sm_mhz", "power_capped", "mcycles"] if args.sustain else []
    print_table(rows, ["shape", "impl", "ms", "ms_range", "speedup", "eff_tflops", "exec_tflops", "pct_ceiling",
                       "ceiling", "rel_l2_vs_sdpa", "check", "first_call_s", *sustained])  # fmt: skip
    print()
    print_table(breakdown, ["shape", "impl", "part", "ms"])
    configs = chosen_configs() if device == "cuda" else {}
    for kernel, chosen in configs.items():
        print(f"autotuned {kernel}: {chosen}")
    payload = {"environment": environment(), "ceilings": ceilings, "rows": rows, "breakdown": breakdown,
               "autotuned": configs}  # fmt: skip
    write_json(args.json, payload)
    print(f"wrote {args.json}")
    if args.profile and device == "cuda":  # after the JSON: a profiler failure loses no timings
        b, seq, h, d = next(iter(shapes.values()))
        g = torch.Generator(device=device).manual_seed(0)
        q, k, v, do = (
            torch.randn(b, seq, h, d, device=device, dtype=torch.bfloat16, generator=g) for _ in range(4)
        )
        text = profile_calls(q, k, v, do, random_proj(d, device, seed=1), "triton")
        print(text)
        payload["profile"] = text
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
