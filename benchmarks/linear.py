"""W8A8 linears vs bf16 cuBLAS at the Wan linear shapes (issue 9, item 6).

Measures, per shape (M tokens x the qkvo, FFN-up and FFN-down linears of Wan 1.3B at 480p and 14B at 720p):
bf16 ``F.linear`` (cuBLAS, the baseline); our W8A8 INT8 linear as a whole (activation quantisation + GEMM,
bias fused) and its two launches alone; ``torch._int_mm`` on the same int8 codes (a raw INT8 GEMM with no
scales: the library peer); our FP8 e4m3 block-scaled linear and its GEMM alone; ``torch._scaled_mm`` with
per-tensor FP8 scales (the library FP8 peer); cuBLASLt's block-scaled FP8 GEMM on our FP8 codes and scales
(cublas_blockwise.py: the scale layout it reads is probed and the output checked first); torchao's int8
dynamic quantisation when it is importable.
FLOPs = 2·M·N·K for every row (for W8A8 the time includes the activation quantisation). Ceilings (bf16,
int8, fp8 GEMM at 8192^3; copy bandwidth) are measured in the same run; speedup = bf16 time / row time.

Every implementation is checked before it is timed: our INT8 codes and scales must equal the reference
bit for bit and our GEMM must be within SCALED_MM_OUTPUT_ULPS of the reference on the timed inputs (rows
0..1023 and the ragged last tiles); a failed check is reported and makes the script exit 1.

    PYTHONPATH=. python benchmarks/linear.py --json results/linear.json      # GPU: the issue's shapes
    PYTHONPATH=. python benchmarks/linear.py --quick                         # CPU smoke (interpreter), checks only
    PYTHONPATH=. python benchmarks/linear.py --dit-error                     # CPU: tiny DiT error, W8A8 vs fp32
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from common import environment, measure_ceilings, print_table, time_ms, write_json
from cublas_blockwise import probe_blockwise_fp8

# name -> (M tokens, model dim, FFN dim); M from models.md §8 (480p and 720p, 81 frames).
SHAPES = {"wan-1.3b": (32760, 1536, 8960), "wan-14b-720p": (75600, 5120, 13824)}
QUICK_SHAPES = {"quick": (333, 256, 384)}
CHECK_ROWS = 1024


def layer_shapes(m: int, dim: int, ffn: int) -> list[tuple[str, int, int, int]]:
    return [("qkvo", m, dim, dim), ("ffn_up", m, ffn, dim), ("ffn_down", m, dim, ffn)]


def check_rows(m: int) -> torch.Tensor:
    """Rows checked against the reference: the first CHECK_ROWS and the last two 128-row tiles (ragged)."""
    tail = max(0, (m - 1) // 128 * 128 - 128)
    return torch.cat([torch.arange(0, min(CHECK_ROWS, m)), torch.arange(max(tail, min(CHECK_ROWS, m)), m)])


def ulp_ratio(out, ref, pre_bias, dtype) -> float:
    """Worst |out - ref| / (ulp at the pre-bias value + ulp at the output): <= SCALED_MM_OUTPUT_ULPS passes."""
    bits = {torch.bfloat16: 7, torch.float16: 10, torch.float32: 23}[dtype]

    def spacing(v):
        return torch.exp2(torch.floor(torch.log2(v.double().abs().clamp_min(torch.finfo(dtype).tiny))) - bits)

    o, r, p = out.double(), ref.double(), pre_bias.double()
    bound = spacing(p.abs().maximum(o.abs())) + spacing(o.abs().maximum(r.abs()))
    return ((o - r).abs() / bound).max().item()


def check_int8(layer, x, rows) -> dict:
    """Our INT8 linear against the reference on ``rows`` of the timed input."""
    from turbodiffusion.quant.act_quant import quantize_blockwise, quantize_blockwise_reference
    from turbodiffusion.quant.gemm import scaled_mm, scaled_mm_reference
    from turbodiffusion.testing import tolerances

    xq, xs = quantize_blockwise(x, 128, "int8", impl="triton")
    out = scaled_mm(xq, xs, layer.int8_weight, layer.scale, layer.bias, impl="triton")
    result = {"codes_exact": True, "scales_exact": True, "ulp_ratio": 0.0}
    for lo, hi in _runs(rows):
        q_ref, s_ref = quantize_blockwise_reference(x[lo:hi], 128, "int8")
        result["codes_exact"] &= bool(torch.equal(xq[lo:hi], q_ref))
        result["scales_exact"] &= bool(torch.equal(xs[lo // 128 : -(-hi // 128)], s_ref))
        args = (q_ref, s_ref, layer.int8_weight, layer.scale)
        ref = scaled_mm_reference(*args, layer.bias)
        pre = scaled_mm_reference(*args)
        result["ulp_ratio"] = max(result["ulp_ratio"], ulp_ratio(out[lo:hi], ref, pre, x.dtype))
    result["ok"] = (
        result["codes_exact"]
        and result["scales_exact"]
        and result["ulp_ratio"] <= tolerances.SCALED_MM_OUTPUT_ULPS
    )
    return result


def check_fp8(layer, x, rows) -> dict:
    """Our FP8 linear against the reference: codes exact, output by the kernel-vs-reference rule."""
    from turbodiffusion.quant.act_quant import quantize_blockwise, quantize_blockwise_reference
    from turbodiffusion.quant.gemm import scaled_mm

    xq, xs = quantize_blockwise(x, 1, "fp8", impl="triton")
    out = scaled_mm(xq, xs, layer.fp8_weight, layer.scale, layer.bias, a_tile_rows=1, impl="triton")
    result = {"codes_exact": True, "scales_exact": True}
    for lo, hi in _runs(rows):
        q_ref, s_ref = quantize_blockwise_reference(x[lo:hi], 1, "fp8")
        result["codes_exact"] &= bool(torch.equal(xq[lo:hi].view(torch.int8), q_ref.view(torch.int8)))
        result["scales_exact"] &= bool(torch.equal(xs[lo:hi], s_ref))
    out_ok, details = fp8_output_check(out, xq, xs, layer, rows, x.dtype)
    result.update(details)
    result["ok"] = result["codes_exact"] and result["scales_exact"] and out_ok
    return result


def fp8_output_check(out, xq, xs, layer, rows, dtype) -> tuple[bool, dict]:
    """An FP8 GEMM's output [M, N] on the check rows against the reference on the same codes: its largest
    relative error to the fp32 truth within the bound set by the reference's own rounding to ``dtype``."""
    from turbodiffusion.quant.gemm import scaled_mm_reference
    from turbodiffusion.testing import tolerances
    from turbodiffusion.testing.compare import max_rel

    worst, bound = 0.0, 0.0
    for lo, hi in _runs(rows):
        args = (xq[lo:hi], xs[lo:hi], layer.fp8_weight, layer.scale, layer.bias)
        truth = scaled_mm_reference(*args, out_dtype=torch.float32, a_tile_rows=1)
        eager = scaled_mm_reference(*args, out_dtype=dtype, a_tile_rows=1)
        worst = max(worst, max_rel(out[lo:hi], truth))
        bound = max(bound, tolerances.lowp_bound(dtype, max_rel(eager, truth)))
    return worst <= bound, {"max_rel": worst, "bound": bound}


def _runs(rows: torch.Tensor) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) runs of the sorted row list (each starts on a 128-row tile edge)."""
    runs, start, prev = [], int(rows[0]), int(rows[0])
    for r in rows[1:].tolist():
        if r != prev + 1:
            runs.append((start, prev + 1))
            start = r
        prev = r
    runs.append((start, prev + 1))
    return runs


def rel_l2_vs_truth(fn, x, w, rows) -> float:
    """Relative L2 of fn()'s checked rows against the fp32 product of the same bf16 inputs."""
    from turbodiffusion.testing.compare import rel_l2

    idx = rows.to(x.device)
    return rel_l2(fn()[idx], x[idx].float() @ w.float().T)


def bench_shape(name, m, n, k, device, ceilings, args) -> list[dict]:
    from turbodiffusion.quant import Fp8Linear, Fp8RowLinear, Int8Linear
    from turbodiffusion.quant.act_quant import quantize_blockwise
    from turbodiffusion.quant.gemm import scaled_mm
    from turbodiffusion.quant.row_gemm import row_scaled_mm
    from turbodiffusion.quant.row_quant import quantize_rows

    g = torch.Generator(device=device).manual_seed(m + n + k)
    x = torch.randn(m, k, device=device, generator=g).to(torch.bfloat16)
    lin = torch.nn.Linear(k, n, device=device)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(n, k, device=device, generator=g) * k**-0.5)
        lin.bias.copy_(torch.randn(n, device=device, generator=g))
    w, bias = lin.weight.to(torch.bfloat16), lin.bias.to(torch.bfloat16)
    impl = "triton"
    int8 = Int8Linear.from_linear(lin, impl=impl).to(torch.bfloat16)
    fp8 = Fp8Linear.from_linear(lin, impl=impl).to(torch.bfloat16)
    fp8_re = Fp8Linear.from_linear(int8, impl=impl)
    fp8_row = Fp8RowLinear.from_linear(lin, impl=impl).to(torch.bfloat16)
    rows = check_rows(m)
    checks = {"int8": check_int8(int8, x, rows)}
    fp8_ok = device == "cpu" or torch.cuda.get_device_capability() >= (8, 9)
    if fp8_ok:
        checks["fp8"] = check_fp8(fp8, x, rows)
    flops = 2 * m * n * k
    rows_out: list[dict] = []
    blockwise_report = None
    candidates: list[tuple[str, str, object]] = [
        ("bf16 F.linear (cuBLAS)", "bf16", lambda: F.linear(x, w, bias))
    ]
    xq, xs = quantize_blockwise(x, 128, "int8", impl=impl)
    candidates += [
        ("w8a8 int8 (ours, quant+gemm)", "int8", lambda: int8(x)),
        ("  int8 act quant (ours)", "copy", lambda: quantize_blockwise(x, 128, "int8", impl=impl)),
        (
            "  int8 gemm (ours)",
            "int8",
            lambda: scaled_mm(xq, xs, int8.int8_weight, int8.scale, int8.bias, impl=impl),
        ),
    ]
    if device == "cuda":
        wq_t = int8.int8_weight.t()  # column-major [K, N], the layout cuBLASLt's int8 GEMM takes
        candidates.append(("torch._int_mm (codes only)", "int8", lambda: torch._int_mm(xq, wq_t)))
    if fp8_ok:
        xf, xfs = quantize_blockwise(x, 1, "fp8", impl=impl)
        candidates += [
            ("w8a8 fp8 (ours, quant+gemm)", "fp8", lambda: fp8(x)),
            ("  fp8 gemm (ours)", "fp8", lambda: scaled_mm(xf, xfs, fp8.fp8_weight, fp8.scale, fp8.bias, a_tile_rows=1, impl=impl)),
        ]  # fmt: skip
        xr, xrs = quantize_rows(x, impl=impl)
        candidates += [
            ("w8a8 fp8 row-wise (quant+gemm)", "fp8", lambda: fp8_row(x)),
            ("  fp8 row-wise act quant (ours)", "copy", lambda: quantize_rows(x, impl=impl)),
            ("  fp8 row-wise gemm (torch._scaled_mm)", "fp8", lambda: row_scaled_mm(xr, xrs, fp8_row.fp8_weight, fp8_row.scale, fp8_row.bias)),
        ]  # fmt: skip
        if device == "cuda":
            xt = x.clamp(-448, 448).to(torch.float8_e4m3fn)
            wt = (w * 16).to(torch.float8_e4m3fn).t()
            one = torch.ones((), device=device)
            candidates.append(
                ("torch._scaled_mm fp8 per-tensor", "fp8", lambda: torch._scaled_mm(xt, wt, one, one, bias=bias, out_dtype=torch.bfloat16))
            )  # fmt: skip
            blockwise, blockwise_report = probe_blockwise_fp8(
                xf, xfs, fp8.fp8_weight, fp8.scale, fp8.bias,
                lambda out: fp8_output_check(out, xf, xfs, fp8, rows, x.dtype),
            )  # fmt: skip
            if blockwise is not None:
                candidates.append(("  fp8 gemm cuBLASLt blockwise (our format)", "fp8", blockwise))
    # Accuracy on the bias-free products (Gaussian x and W), so a bias cannot dilute the error.
    nb = {
        name: copy.deepcopy(layer)
        for name, layer in (("int8", int8), ("fp8", fp8), ("fp8_re", fp8_re), ("fp8_row", fp8_row))
    }
    for layer in nb.values():
        layer.bias = None
    accuracy = {
        "bf16 F.linear (cuBLAS)": lambda: F.linear(x, w),
        "w8a8 int8 (ours, quant+gemm)": lambda: nb["int8"](x),
    }
    if fp8_ok:
        accuracy["w8a8 fp8 (ours, quant+gemm)"] = lambda: nb["fp8"](x)
        accuracy["w8a8 fp8 from int8 (ours)"] = lambda: nb["fp8_re"](x)
        accuracy["w8a8 fp8 row-wise (quant+gemm)"] = lambda: nb["fp8_row"](x)
    errors = {label: rel_l2_vs_truth(fn, x, w.float(), rows) for label, fn in accuracy.items()}
    timings: dict[str, list] = {}
    first_call: dict[str, float] = {}
    if device == "cuda":
        for label, _, fn in candidates:  # compile + autotune, reported apart
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            first_call[label] = time.perf_counter() - t0
        for _ in range(args.rounds):  # alternate baseline and candidates, round after round
            for label, _, fn in candidates:
                timings.setdefault(label, []).append(time_ms(fn))
    base = None
    for label, kind, _ in candidates:
        row = {"shape": name, "M": m, "N": n, "K": k, "impl": label}
        if label in timings:
            p50 = sorted(t[0] for t in timings[label])[len(timings[label]) // 2]
            _, p20, p80 = timings[label][-1]
            row.update(ms_p50=p50, ms_p20=p20, ms_p80=p80, p50_rounds=[t[0] for t in timings[label]])
            row["first_call_s"] = first_call[label]
            if kind == "copy":
                nbytes = m * k * 3 + 4 * m * k // (128 * 128)
                row["GB/s"] = nbytes / p50 / 1e6
                row["%ceil"] = 100 * row["GB/s"] / ceilings["copy_gbps"]
            else:
                row["TFLOP/s"] = flops / p50 / 1e9
                ceiling = ceilings.get(
                    {"bf16": "bf16_tflops", "int8": "int8_tops", "fp8": "fp8_tflops"}[kind]
                )
                row["%ceil"] = 100 * row["TFLOP/s"] / ceiling if ceiling else None
            if label.startswith("bf16"):
                base = p50
            row["speedup"] = base / p50 if base else None
        row["rel_l2_nobias"] = errors.get(label)
        if label.startswith("w8a8 int8"):
            row["check"] = "ok" if checks["int8"]["ok"] else "FAIL"
        if label.startswith("w8a8 fp8"):
            row["check"] = "ok" if checks["fp8"]["ok"] else "FAIL"
        rows_out.append(row)
    if blockwise_report is not None:
        rows_out.append({"shape": name, "M": m, "N": n, "K": k, "impl": "cuBLASLt blockwise probe",
                         "note": f"layout: {blockwise_report['layout']}", "probe": blockwise_report})  # fmt: skip
    if fp8_ok:
        rows_out.append({"shape": name, "M": m, "N": n, "K": k, "impl": "w8a8 fp8 from int8 (ours)",
                         "rel_l2_nobias": errors["w8a8 fp8 from int8 (ours)"]})  # fmt: skip
    rows_out.append(
        {"shape": name, "M": m, "N": n, "K": k, "impl": "torchao int8 dynamic", **torchao_row(lin, x, device)}
    )
    if device == "cuda":
        rows_out[0]["gemm_configs"] = {
            "int8": tuned_config(int8, x, 128),
            "fp8": tuned_config(fp8, x, 1) if fp8_ok else None,
        }
    for r in rows_out:
        r["checks"] = checks
    return rows_out


def tuned_config(layer, x, a_tile_rows: int) -> dict:
    """The autotuner's pick for this shape and whether its PTX uses Hopper's wgmma (the fast path)."""
    from turbodiffusion.quant.act_quant import quantize_blockwise
    from turbodiffusion.quant.gemm import kernel

    fmt = "int8" if a_tile_rows == 128 else "fp8"
    xq, xs = quantize_blockwise(x, a_tile_rows, fmt, impl="triton")
    w = layer.codes
    m, n, k = x.shape[0], w.shape[0], x.shape[1]
    key = (m, n, k, a_tile_rows, fmt == "fp8")
    best = next((c for kk, c in kernel._scaled_mm_tuned.cache.items() if tuple(kk[: len(key)]) == key), None)
    if best is None:
        return {"config": None}
    c = torch.empty(m, n, dtype=x.dtype, device=x.device)
    grid = (triton_cdiv(m, best.kwargs["BM"]) * triton_cdiv(n, 128),)
    compiled = kernel._scaled_mm_kernel[grid](
        xq, xs, w, layer.scale, layer.bias, c, m, n, k, xq.stride(0), w.stride(0), c.stride(0), xs.stride(0), xs.stride(1),
        A_TILE_ROWS=a_tile_rows, HAS_BIAS=True, IS_FP8=fmt == "fp8", **best.kwargs,
        num_warps=best.num_warps, num_stages=best.num_stages,
    )  # fmt: skip
    ptx = compiled.asm.get("ptx", "") if hasattr(compiled, "asm") else ""
    return {"config": str(best), "wgmma_in_ptx": "wgmma" in ptx, "mma_sync_in_ptx": "mma.sync" in ptx}


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


def torchao_row(lin, x, device) -> dict:
    """The torchao peer: int8 dynamic activation + int8 weight, when torchao is importable."""
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    except ImportError:
        return {"note": "torchao not installed"}
    if device != "cuda":
        return {"note": "timed on CUDA only"}
    layer = copy.deepcopy(lin).to(torch.bfloat16)
    quantize_(layer, Int8DynamicActivationInt8WeightConfig())
    layer(x)
    torch.cuda.synchronize()
    p50, p20, p80 = time_ms(lambda: layer(x))
    return {
        "ms_p50": p50,
        "ms_p20": p20,
        "ms_p80": p80,
        "TFLOP/s": 2 * x.shape[0] * lin.in_features * lin.out_features / p50 / 1e9,
    }


def tiny_dit_error(shared: Path) -> list[dict]:
    """The golden tiny DiT (fp32) with every block linear quantised, vs the same DiT unquantised."""
    from turbodiffusion.models.wan.config import WanDiTConfig
    from turbodiffusion.models.wan.dit import WanDiT
    from turbodiffusion.quant import Fp8Config, Fp8RowConfig, Int8Config, quantize_
    from turbodiffusion.testing.compare import cosine, rel_l2
    from turbodiffusion.testing.golden import read_fixture

    rows = []
    for path in sorted((shared / "reference" / "golden").glob("dit_*.safetensors")):
        tensors, meta = read_fixture(path)
        config = WanDiTConfig.from_official(json.loads(meta["config"]))
        model = WanDiT(config).eval()
        model.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("weights.")}, strict=True)
        inputs = {k[6:]: v for k, v in tensors.items() if k.startswith("input.")}
        n_steps = len([k for k in tensors if k.startswith("output.")])
        variants = {
            "fp32": model,
            "bf16 (no quant)": copy.deepcopy(model).to(torch.bfloat16),
            "int8 w8a8, fp32 acts": quantize_(copy.deepcopy(model), Int8Config(impl="reference")),
            "int8 w8a8, bf16 acts": quantize_(copy.deepcopy(model), Int8Config(impl="reference")).to(
                torch.bfloat16
            ),
            "fp8 w8a8, fp32 acts": quantize_(copy.deepcopy(model), Fp8Config(impl="reference")),
            "fp8 from int8, fp32 acts": quantize_(
                quantize_(copy.deepcopy(model), Int8Config(impl="reference")), Fp8Config(impl="reference")
            ),
            "fp8 row-wise, fp32 acts": quantize_(copy.deepcopy(model), Fp8RowConfig(impl="reference")),
            "fp8 row-wise from int8, fp32 acts": quantize_(
                quantize_(copy.deepcopy(model), Int8Config(impl="reference")), Fp8RowConfig(impl="reference")
            ),
        }
        with torch.no_grad():
            for i in range(n_steps):
                args = (inputs["x"], inputs[f"timestep_{i}"], inputs["crossattn_emb"], inputs.get("y"))
                base = model(*args)
                golden = tensors[f"output.{i}"]
                for label, variant in variants.items():
                    out = variant(*args).float()
                    rows.append({"fixture": path.stem, "step": i, "variant": label, "rel_l2_vs_fp32": rel_l2(out, base),
                                 "cosine": cosine(out, base), "rel_l2_vs_golden": rel_l2(out, golden)})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help=f"comma-separated, from {', '.join(SHAPES)}"
    )
    parser.add_argument("--quick", action="store_true", help="CPU smoke run: small shapes, checks, no timing")
    parser.add_argument(
        "--dit-error", action="store_true", help="also measure the tiny DiT's W8A8 error (CPU)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds, alternating implementations")
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"),
                        help="shared reference folder (for --dit-error)")  # fmt: skip
    parser.add_argument("--json", default=None, help="write rows and the environment block here")
    args = parser.parse_args()

    cuda = torch.cuda.is_available() and not args.quick
    if not cuda:
        # Triton kernels run under the interpreter on CPU; must be set before triton is imported.
        os.environ.setdefault("TRITON_INTERPRET", "1")
        print("CPU run: kernels interpreted, correctness checks only (no timings)", file=sys.stderr)
    device = "cuda" if cuda else "cpu"
    shapes = QUICK_SHAPES if args.quick else {s: SHAPES[s] for s in args.shapes.split(",")}
    ceilings = measure_ceilings(device) if cuda else {}
    if ceilings:
        print("ceilings: " + ", ".join(f"{k}={v:.4g}" for k, v in ceilings.items()))
    rows: list[dict] = []
    for shape, (m, dim, ffn) in shapes.items():
        for layer, lm, n, k in layer_shapes(m, dim, ffn):
            got = bench_shape(f"{shape}/{layer}", lm, n, k, device, ceilings, args)
            rows += got
            print_table(got, ["shape", "impl", "ms_p50", "ms_p20", "ms_p80", "TFLOP/s", "GB/s", "%ceil", "speedup",
                              "rel_l2_nobias", "check", "first_call_s", "note"])  # fmt: skip
            print(flush=True)
            if args.json:  # after every shape, so a run cut short still leaves its numbers
                write_json(args.json, {"environment": environment(), "ceilings": ceilings, "rows": rows})
    dit_rows = []
    if args.dit_error or args.quick:
        shared = Path(args.shared)
        if (shared / "reference" / "golden").is_dir():
            dit_rows = tiny_dit_error(shared)
            print_table(
                dit_rows, ["fixture", "step", "variant", "rel_l2_vs_fp32", "cosine", "rel_l2_vs_golden"]
            )
        else:
            print(f"no golden fixtures under {shared}; skipping the tiny DiT error", file=sys.stderr)
    failed = [r for r in rows if r.get("check") == "FAIL"]
    if args.json:
        write_json(
            args.json,
            {"environment": environment(), "ceilings": ceilings, "rows": rows, "tiny_dit": dit_rows},
        )
    if failed:
        print(f"FAILED checks: {[(r['shape'], r['impl']) for r in failed]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
