"""Compile one Triton kernel for sm_90 on a machine without a GPU and print what the record quotes: compile
seconds, registers and stack a thread, and the instructions of its longest loop (with its MMA waits).

    python sm90_compile.py MODULE KERNEL --ptr Q=bf16 M=bf16 KSUM=fp32 --const D=128 BLOCK_M=64 \
        PRECISION=tf32 WIDE=0 --divisible Q M sqb sql --warps 8 --stages 2

Arguments not named in --ptr or --const are int32 (``--float`` names fp32 scalars). --divisible marks
arguments divisible by 16, as the GPU's JIT marks aligned pointers and strides: without it every load
compiles to narrow accesses and the counts mean nothing. MODULE may be a file path (a copy of a kernel
module at another commit, imports made absolute).
"""

import argparse
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource


def load(module: str):
    if module.endswith(".py"):
        spec = importlib.util.spec_from_file_location("kernel_copy", module)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["kernel_copy"] = mod
        spec.loader.exec_module(mod)
        return mod
    return importlib.import_module(module)


def value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def longest_loop(sass: str) -> tuple[int, int]:
    """(instructions, MMA waits) between the farthest backward branch and its target."""
    ins = []
    for line in sass.splitlines():
        m = re.match(r"\s+/\*([0-9a-f]{4,5})\*/\s+(\S.*?);", line)
        if m:
            ins.append((int(m.group(1), 16), m.group(2)))
    loops = []
    for addr, text in ins:
        m = re.search(r"BRA 0x([0-9a-f]+)", text)
        if m and int(m.group(1), 16) < addr:
            loops.append((int(m.group(1), 16), addr))
    if not loops:
        return 0, 0
    start, end = max(loops, key=lambda se: se[1] - se[0])
    body = [t for a, t in ins if start <= a <= end]
    return len(body), sum("WARPGROUP.DEPBAR" in t for t in body)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("module")
    p.add_argument("kernel")
    p.add_argument(
        "--ptr", nargs="*", default=[], help="NAME=ELEMENT_TYPE (bf16, fp32, i8, i32, i64, fp8e4nv)"
    )
    p.add_argument("--const", nargs="*", default=[], help="NAME=VALUE constexprs")
    p.add_argument("--float", nargs="*", default=[], help="fp32 scalar arguments")
    p.add_argument("--divisible", nargs="*", default=[])
    p.add_argument("--warps", type=int, default=4)
    p.add_argument("--stages", type=int, default=2)
    p.add_argument("--sass", help="also write the whole SASS to this file")
    args = p.parse_args()
    fn = getattr(load(args.module), args.kernel)
    ptrs = dict(s.split("=") for s in args.ptr)
    const = {k: value(v) for k, v in (s.split("=") for s in args.const)}
    const = {
        k: (bool(v) if k in ("WIDE", "STATE", "STATS", "GELU", "EMULATE_FP8") else v)
        for k, v in const.items()
    }
    sig = {}
    for name in fn.arg_names:
        if name in const:
            sig[name] = "constexpr"
        elif name in ptrs:
            sig[name] = "*" + ptrs[name]
        else:
            sig[name] = "fp32" if name in args.float else "i32"
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in args.divisible}
    t0 = time.time()
    k = triton.compile(
        ASTSource(fn, sig, const, attrs),
        target=GPUTarget("cuda", 90, 32),
        options=dict(num_warps=args.warps, num_stages=args.stages),
    )
    seconds = time.time() - t0
    tools = os.path.join(os.path.dirname(triton.__file__), "backends/nvidia/bin/cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(k.asm["cubin"])
        f.flush()
        usage = subprocess.run([tools, "-res-usage", f.name], capture_output=True, text=True).stdout
        sass = subprocess.run([tools, "-sass", f.name], capture_output=True, text=True).stdout
    if args.sass:
        with open(args.sass, "w") as f:
            f.write(sass)
    regs = re.search(r"REG:(\d+) STACK:(\d+)", usage)
    loop, waits = longest_loop(sass)
    print(
        f"{args.kernel} {const} warps {args.warps} stages {args.stages}: compile {seconds:.1f} s, "
        f"{regs.group(1)} registers, {regs.group(2)} B stack, loop {loop} instructions, {waits} MMA waits"
    )


if __name__ == "__main__":
    main()
