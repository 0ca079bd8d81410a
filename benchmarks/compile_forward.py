"""Does torch.compile pay on the DiT forward? Eager, a CUDA graph and torch.compile, alternated on one model.

    PYTHONPATH=. python benchmarks/compile_forward.py wan2.1-t2v-1.3b --resolution 480p \
        --json results/compile_forward.json
    PYTHONPATH=. python benchmarks/compile_forward.py wan2.1-t2v-1.3b --quick --json /tmp/c.json  # CPU smoke

One DiT with random bf16 weights, built as ``--variant`` says (benchmarks/profile_forward.py's syntax; the
default is what the Turbo rows run: SageSLA, FP8 row-wise linears with fast accumulation, fused ops; with
``--quick``, SLA and INT8 linears, whose plain-PyTorch paths run on the CPU). The arms (``--arms``) are:

- ``eager``, the baseline;
- ``graph``, the forward captured in a CUDA graph (e2e_stages.GraphForward; GPU only);
- ``compile``, torch.compile with mode "default";
- ``compile-max-autotune``, mode "max-autotune-no-cudagraphs".

Before the compile arms are built, torch._dynamo.explain counts the graphs and graph breaks of one forward
and keeps the first break reasons. Each arm's first call is timed on its own: that is the compile, capture or
autotune cost. Then come ``--rounds`` rounds of ``--reps`` calls an arm, in an order that turns each round,
so that clock drift hits every arm alike.

Prints ms a forward (the median over rounds), its ratio to eager and each output's rel L2 against eager's.
Writes every call to JSON (and, as each arm is built, what is known so far). A compile arm that raises is
recorded with its error, and the other arms still run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

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
    GraphForward,
    build_dit,
    dit_shape,
    first_call,
    random_dit_inputs,
    reset_memory,
    time_calls,
)
from profile_forward import QUICK_DIT, parse_variant

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.testing.compare import rel_l2

ARMS = ("eager", "graph", "compile", "compile-max-autotune")
COMPILE_MODES = {"compile": "default", "compile-max-autotune": "max-autotune-no-cudagraphs"}
GPU_ONLY = ("graph", "compile-max-autotune")  # CUDA graphs; max-autotune's GEMM search targets GPUs
COLUMNS = (
    "arm",
    "fwd_ms",
    "speedup_vs_eager",
    "first_call_s",
    "graphs",
    "graph_breaks",
    "rel_l2_vs_eager",
    "error",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_video_arguments(parser)
    parser.add_argument(
        "--variant", default=None,
        help="as profile_forward's variants (default: sagesla+fp8row-fast+fused; sla+int8+fused with --quick)",
    )  # fmt: skip
    parser.add_argument("--sla-topk", type=float, default=0.1)
    parser.add_argument(
        "--arms", default=None, help=f"comma-separated, from {', '.join(ARMS)} (default: all; with --quick the "
        "CPU's: eager, compile)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--reps", type=int, default=5, help="timed forwards per arm and round")
    parser.add_argument("--quick", action="store_true", help="tiny config on the CPU: a smoke run")
    parser.add_argument("--json", default="results/compile_forward.json")
    args = parser.parse_args(argv)
    check_video_arguments(parser, args)
    if args.variant is None:
        args.variant = "sla+int8+fused" if args.quick else "sagesla+fp8row-fast+fused"
    try:
        attention, quant, _ = parse_variant(args.variant)
    except ValueError as err:
        parser.error(str(err))
    if args.quick and (attention == "sagesla" or (quant or "").startswith("fp8")):
        parser.error(f"variant {args.variant!r} needs a CUDA GPU (SageSLA and FP8 kernels); not with --quick")
    if args.arms is None:
        args.arms = ",".join(a for a in ARMS if not (args.quick and a in GPU_ONLY))
    args.arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in args.arms if a not in ARMS]
    if unknown or not args.arms:
        parser.error(f"--arms: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(ARMS)}")
    if "eager" not in args.arms:
        args.arms.insert(0, "eager")  # the baseline of every ratio
    if args.quick and any(a in GPU_ONLY for a in args.arms):
        parser.error(
            f"arms {', '.join(a for a in args.arms if a in GPU_ONLY)} need a CUDA GPU; not with --quick"
        )
    for name in ("rounds", "reps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    return args


def explain_breaks(model: torch.nn.Module, inputs: tuple) -> dict:
    """Graphs and graph breaks torch.compile would make of one forward, with the first reasons. (explain
    resets dynamo's caches before and after, so it runs before any arm is compiled.)"""
    report = torch._dynamo.explain(model)(*inputs)
    reasons = []
    for r in report.break_reasons[:5]:
        where = ""
        if r.user_stack:
            frame = r.user_stack[-1]
            where = f"{frame.filename.rsplit('turbodiffusion/', 1)[-1]}:{frame.lineno}"
        reasons.append({"reason": str(r.reason)[:300], "where": where})
    return {"graphs": report.graph_count, "graph_breaks": report.graph_break_count, "break_reasons": reasons}


def build_arm(arm: str, model: torch.nn.Module, inputs: tuple) -> Callable[[], torch.Tensor]:
    """The arm's forward: no arguments, returns the velocity."""
    if arm == "eager":
        return lambda: model(*inputs)
    if arm == "graph":
        graph = GraphForward(model, *inputs)
        return lambda: graph(inputs[0], inputs[1])
    compiled = torch.compile(model, mode=COMPILE_MODES[arm], dynamic=False)
    return lambda: compiled(*inputs)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = benchmark_device(args.quick)
    shape = dit_shape(
        dit_preset(args.preset), args.resolution, args.frames, QUICK_DIT if args.quick else None
    )
    cfg = shape.cfg
    inputs = random_dit_inputs(shape, device)
    attention, quant, fused = parse_variant(args.variant)
    reset_memory(device)
    model = build_dit(cfg, AttentionConfig(backend=attention, sla_topk=args.sla_topk), device, quant)
    model.enable_fused_ops(fused)
    print(f"{args.preset} {args.resolution}: L={shape.tokens} tokens, {args.variant}, {device}", flush=True)

    def save(table: list[dict]) -> None:
        write_json(
            args.json, {"env": environment(), "args": vars(args), "tokens": shape.tokens, "rows": table}
        )

    arms, rows, calls = {}, {}, {arm: [] for arm in args.arms}
    with torch.no_grad():
        first_call(lambda: model(*inputs), device)  # kernels compile and autotune before any arm is built
        # The same trace whatever the mode: one explain for every compile arm.
        breaks = {}
        if any(a in COMPILE_MODES for a in args.arms):
            try:
                breaks = explain_breaks(model, inputs)
            except Exception as err:  # noqa: BLE001 - the compile arms then say so, the others still run
                breaks = {"explain_error": f"{type(err).__name__}: {str(err)[:500]}"}
        for arm in args.arms:
            row = {"arm": arm, "error": None, **(breaks if arm in COMPILE_MODES else {})}
            try:
                t0 = time.perf_counter()
                forward = build_arm(arm, model, inputs)
                row["build_s"] = time.perf_counter() - t0
                row["first_call_s"], out = first_call(forward, device)
                row["out"] = out.float().clone()
                arms[arm] = forward
            except Exception as err:  # noqa: BLE001 - an arm that cannot be built is a result, not a crash
                row["error"] = f"{type(err).__name__}: {str(err)[:500]}"
                print(f"{arm}: {row['error']}", flush=True)
            rows[arm] = row
            # What is known so far, in case a later arm's compile outlasts the caller's time limit.
            save([{k: v for k, v in r.items() if k != "out"} for r in rows.values()])
        names = list(arms)
        for r in range(args.rounds):
            shift = r % len(names)
            for arm in names[shift:] + names[:shift]:
                calls[arm] += time_calls(arms[arm], args.reps, device)
    # The eager arm cannot fail here: the same call ran above, before any arm was built.
    eager_ms = statistics.median(calls["eager"])
    ref = rows["eager"]["out"]
    table = []
    for arm, row in rows.items():
        out = row.pop("out", None)
        if arm in arms:
            row["fwd_ms"] = statistics.median(calls[arm])
            row["speedup_vs_eager"] = eager_ms / row["fwd_ms"]
            row["rel_l2_vs_eager"] = rel_l2(out, ref)
        row["ms"] = calls[arm]
        table.append(row)
    print_table(table, COLUMNS)
    for row in table:
        for reason in row.get("break_reasons", []):
            print(f"  {row['arm']} break at {reason['where']}: {reason['reason'][:150]}")
    save(table)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
