"""Compile the sm_90 Sage kernel, or a device-script variant of it, on a machine without a GPU and count
the instructions of its main loop (the smallest loop holding both the Q.K^T and the P~.V products).

    python benchmarks/runs/cpu-2026-12-04f/local_scripts/sass_loop_stats.py kernel|VARIANT.py[:KERNEL] D LINEAR [SASS_OUT]

KERNEL names the variant module's kernel (default ``_sage_sparse_wgmma_kernel_reorder``).

Prints one JSON line: ``sm90_compile``'s registers, stack and warpgroup-MMA waits, then the loop's address
range, instruction count and counts of branches, warpgroup barriers (BAR.SYNC), register moves, MMA waits
and MMA instructions. SASS_OUT, if given, receives the whole SASS listing.
"""

import collections
import importlib.util
import json
import re
import subprocess
import sys
import tempfile

import triton
from triton.backends.compiler import GPUTarget

from turbodiffusion.attention.sage import kernel_wgmma
from turbodiffusion.testing import sm90_compile


def load_variant(path: str):
    spec = importlib.util.spec_from_file_location("variant", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["variant"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def compile_and_dump(d: int, linear: bool) -> tuple[dict, str]:
    """sm90_compile's report and the SASS of the same build."""
    built = {}
    describe = sm90_compile._describe

    def keep(source, options):
        built["binary"] = triton.compile(source, target=GPUTarget("cuda", 90, 32), options=options)
        return describe(source, options)

    sm90_compile._describe = keep
    try:
        info = sm90_compile.compile_sage_wgmma(d, linear)
    finally:
        sm90_compile._describe = describe
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(built["binary"].asm["cubin"])
        f.flush()
        sass = subprocess.run(
            [sm90_compile.cuobjdump(), "-sass", f.name], capture_output=True, text=True
        ).stdout
    return info, sass


def loop_stats(sass: str) -> dict:
    ins = [
        (int(m.group(1), 16), m.group(2).strip())
        for m in (re.match(r"\s*/\*([0-9a-f]{4,5})\*/\s+(.*?);", line) for line in sass.splitlines())
        if m
    ]
    loops = []
    for off, text in ins:
        back = re.search(r"BRA (0x[0-9a-f]+)", text)
        # A loop's back edge is conditional; the out-of-line waits jump back unconditionally.
        if back and text.startswith("@") and int(back.group(1), 16) < off:
            body = [t for o, t in ins if int(back.group(1), 16) <= o <= off]
            if any("IGMMA" in t for t in body) and any("QGMMA" in t for t in body):
                loops.append((back.group(1), hex(off), body))
    start, end, body = min(loops, key=lambda loop: len(loop[2]))
    ops = collections.Counter(re.sub(r"^@!?U?P\w+\s+", "", t).split()[0] for t in body)
    return dict(
        start=start, end=end, instructions=len(body), branches=ops["BRA"], bar_sync=ops["BAR.SYNC.DEFER_BLOCKING"],
        moves=ops["MOV"] + ops["IMAD.MOV.U32"], mma_waits=ops["WARPGROUP.DEPBAR.LE"],
        mmas=sum(n for op, n in ops.items() if "GMMA" in op),
    )  # fmt: skip


def main(which: str, d: int, linear: bool, sass_out: str | None) -> None:
    if which != "kernel":
        path, _, name = which.partition(":")
        kernel_wgmma._sage_sparse_wgmma_kernel = getattr(
            load_variant(path), name or "_sage_sparse_wgmma_kernel_reorder"
        )
    info, sass = compile_and_dump(d, linear)
    if sass_out:
        with open(sass_out, "w") as f:
            f.write(sass)
    print(json.dumps(dict(triton=triton.__version__, **info, loop=loop_stats(sass))))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), bool(int(sys.argv[3])), sys.argv[4] if len(sys.argv) > 4 else None)
