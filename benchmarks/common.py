"""Shared benchmark plumbing: timing, measured ceilings, the result table and atomic JSON output.

Benchmarks import this as ``from common import ...`` (they run as ``python benchmarks/<name>.py`` from
the repository root, with the package installed or ``PYTHONPATH=.``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence

import torch

from turbodiffusion.models.checkpoint_io import write_text_atomic
from turbodiffusion.pipelines.gemm_workspace import WORKSPACE_VARIABLE


def environment() -> dict:
    """Device, versions, git commit (+ dirty flag), command line and UTC time for the JSON header."""
    env: dict = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "command": " ".join([sys.executable, *sys.argv]),
        "utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        # Changes which GEMM algorithms cuBLASLt picks (turbodiffusion/pipelines/gemm_workspace.py).
        "cublaslt_workspace_size": os.environ.get(WORKSPACE_VARIABLE),
    }
    try:
        import triton

        env["triton"] = triton.__version__
    except ImportError:
        env["triton"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(
            device=props.name,
            capability=f"{props.major}.{props.minor}",
            cuda=torch.version.cuda,
            sms=props.multi_processor_count,
        )
    else:
        env.update(device="cpu", capability=None, cuda=None)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout
        env["git_commit"] = commit.strip()
        env["git_dirty"] = bool(dirty.strip())
    except (OSError, subprocess.CalledProcessError):
        env["git_commit"] = None
    return env


def time_ms(
    fn: Callable[[], object], *, warmup_ms: float = 50, rep_ms: float = 300
) -> tuple[float, float, float]:
    """(p50, p20, p80) milliseconds of ``fn`` on the GPU, via triton's do_bench with explicit quantiles."""
    from triton.testing import do_bench

    p50, p20, p80 = do_bench(fn, warmup=warmup_ms, rep=rep_ms, quantiles=[0.5, 0.2, 0.8])
    return float(p50), float(p20), float(p80)


def _gemm_rate(make: Callable[[], tuple[Callable[[], object], int]]) -> float:
    """Operations per microsecond x 1e-6 (i.e. T(FL)OP/s) of the product ``make`` sets up."""
    fn, flops = make()
    ms = time_ms(fn)[0]
    return flops / ms / 1e9


# Products (m, k, n) each matmul ceiling is the best rate of: the square one and the long, narrow products of
# a video DiT's linears (tens of thousands of tokens; Wan 14B's width 5,120 and FFN 13,824), every rate kept
# in the record. On an H200 (benchmarks/runs/h200-2026-12-03g, random normal data) the square product was the
# fastest of the three for every kind but bf16, and none reached the ~1,556 TFLOP/s that a 14B-720p forward's
# fast-accumulation FP8 GEMMs sum to in its profile (h200-2026-12-03f): not explained yet.
CEILING_SHAPES = ((8192, 8192, 8192), (65536, 5120, 5120), (65536, 5120, 13824))


def best_gemm_rate(
    name: str,
    make: Callable[[int, int, int], tuple[Callable[[], object], int]],
    shapes: tuple[tuple[int, int, int], ...],
    rates: list[dict] | None = None,
) -> float:
    """The best of ``make(m, k, n)``'s rates over ``shapes``; each rate is appended to ``rates`` (when given)
    as {"ceiling": name, "shape": [m, k, n], "rate": ...} for the record."""
    best = 0.0
    for m, k, n in shapes:
        rate = _gemm_rate(lambda m=m, k=k, n=n: make(m, k, n))
        if rates is not None:
            rates.append({"ceiling": name, "shape": [m, k, n], "rate": rate})
        best = max(best, rate)
        torch.cuda.empty_cache()
    return best


def measure_ceilings(
    device: str = "cuda",
    shapes: tuple[tuple[int, int, int], ...] = CEILING_SHAPES,
    rates: list[dict] | None = None,
) -> dict[str, float]:
    """Measured roofs of this GPU: bf16 GEMM and int8 GEMM (TFLOP/s / TOPS), fp8 GEMM with row-wise scales if
    any (plain and with fast accumulation), each the best over ``shapes`` (every rate goes to ``rates`` when
    given); copy GB/s."""
    g = torch.Generator(device=device).manual_seed(0)

    def bf16(m, k, n):
        a = torch.randn(m, k, device=device, dtype=torch.bfloat16, generator=g)
        b = torch.randn(n, k, device=device, dtype=torch.bfloat16, generator=g).t()
        return (lambda: a @ b), 2 * m * k * n

    def int8(m, k, n):
        a = torch.randint(-128, 127, (m, k), device=device, dtype=torch.int8, generator=g)
        b = torch.randint(-128, 127, (n, k), device=device, dtype=torch.int8, generator=g).t()
        return (lambda: torch._int_mm(a, b)), 2 * m * k * n

    def fp8(m, k, n, fast: bool):
        # Row-wise scales, as the fp8-row linears run: one per token and one per output channel.
        a = torch.randn(m, k, device=device, generator=g).to(torch.float8_e4m3fn)
        b = torch.randn(n, k, device=device, generator=g).to(torch.float8_e4m3fn).t()
        sa, sb = torch.ones(m, 1, device=device), torch.ones(1, n, device=device)
        return (
            lambda: torch._scaled_mm(a, b, sa, sb, out_dtype=torch.bfloat16, use_fast_accum=fast)
        ), 2 * m * k * n

    def copy():
        src = torch.empty(1 << 30, dtype=torch.uint8, device=device).random_(generator=g)
        dst = torch.empty_like(src)
        # Bytes read plus bytes written, reported in the same unit as a rate: GB/s = bytes / ms / 1e6.
        return (lambda: dst.copy_(src)), 2 * src.numel() * 1e3

    out = {
        "bf16_tflops": best_gemm_rate("bf16_tflops", bf16, shapes, rates),
        "int8_tops": best_gemm_rate("int8_tops", int8, shapes, rates),
    }
    if hasattr(torch, "float8_e4m3fn") and torch.cuda.get_device_capability()[0] >= 9:
        out["fp8_tflops"] = best_gemm_rate("fp8_tflops", lambda m, k, n: fp8(m, k, n, False), shapes, rates)
        out["fp8_fast_tflops"] = best_gemm_rate(
            "fp8_fast_tflops", lambda m, k, n: fp8(m, k, n, True), shapes, rates
        )
    out["copy_gbps"] = _gemm_rate(copy)
    torch.cuda.empty_cache()
    return out


def add_video_arguments(parser: argparse.ArgumentParser, *, preset: bool = True) -> None:
    """The arguments of the real-shape benchmarks: the DiT preset (positional, unless preset=False),
    --resolution (a key of turbodiffusion.pipelines.presets.RESOLUTIONS) and --frames; check them with
    ``check_video_arguments``."""
    from turbodiffusion.pipelines.presets import RESOLUTIONS

    if preset:
        parser.add_argument("preset", help="DiT preset: wan2.1-t2v-1.3b, wan2.1-t2v-14b or wan2.2-i2v-a14b")
    parser.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="480p")
    parser.add_argument("--frames", type=int, default=81, help="video frames, 4k+1")


def check_video_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """parser.error (exit 2) for a frame count that is not 4k+1 or an unknown preset (when there is one)."""
    if args.frames < 1 or (args.frames - 1) % 4:
        parser.error(f"--frames must be 4k+1 (got {args.frames}); use 81")
    if getattr(args, "preset", None) is not None:
        check_preset(parser, args.preset)


def check_preset(parser: argparse.ArgumentParser, name: str) -> None:
    """parser.error (exit 2, the choices named) unless ``name`` is a DiT preset."""
    from turbodiffusion.models.wan.config import dit_preset

    try:
        dit_preset(name)
    except ValueError as err:
        parser.error(str(err))


def benchmark_device(quick: bool) -> torch.device:
    """CUDA for a real run, the CPU for a --quick smoke run; exits with a message on a GPU-less machine."""
    if not quick and not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU; use --quick for the CPU smoke run")
    return torch.device("cpu" if quick else "cuda")


def print_table(rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Fixed-width table of ``rows`` (dicts) over ``columns``; floats printed with 4 significant digits."""

    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "-" if v is None else str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)
    ]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` as JSON atomically (temporary file in the same folder, then os.replace)."""
    write_text_atomic(path, json.dumps(payload, indent=2, default=str))
