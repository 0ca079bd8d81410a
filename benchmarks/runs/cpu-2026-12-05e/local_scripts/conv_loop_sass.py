"""The main loop of ops.causal_conv3d's kernel as ptxas builds it for sm_90 (no GPU needed): instruction
count, warpgroup MMAs, ldmatrix loads (the A operand through registers) and what each MMA wait allows.

    python benchmarks/runs/cpu-2026-12-05e/local_scripts/conv_loop_sass.py BLOCK_H BLOCK_W BLOCK_N BLOCK_K [C_IN]

(run without TRITON_INTERPRET; bf16, 3x3x3 taps, num_warps 4, num_stages 3).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from turbodiffusion.ops.causal_conv3d import kernel as k
from turbodiffusion.testing.sm90_compile import cuobjdump


def main() -> None:
    bh, bw, bn, bk = (int(a) for a in sys.argv[1:5])
    c_in = int(sys.argv[5]) if len(sys.argv) > 5 else 96
    fn = k._causal_conv3d_kernel
    const = dict(C=c_in, KT=3, KH=3, KW=3, HAS_BIAS=True, BLOCK_H=bh, BLOCK_W=bw, BLOCK_N=bn, BLOCK_K=bk,
                 PRECISION="tf32")  # fmt: skip
    sig = dict(x_desc=f"tensordesc<bf16[1, {bh}, {bw}, {bk}]>", w_desc=f"tensordesc<bf16[{bk}, {bn}]>",
               b_ptr="*bf16", y_ptr="*bf16", T_IN="i32", T_OUT="i32", H="i32", W="i32", CO="i32",
               syb="i64", syt="i32", syh="i32", syw="i32")  # fmt: skip
    sig.update(dict.fromkeys(const, "constexpr"))
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in ("b_ptr", "y_ptr", "syt", "syh")}
    compiled = triton.compile(
        ASTSource(fn, sig, const, attrs), target=GPUTarget("cuda", 90, 32),
        options=dict(num_warps=4, num_stages=3, enable_fp_fusion=True),
    )  # fmt: skip
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        sass = subprocess.run([cuobjdump(), "-sass", f.name], capture_output=True, text=True).stdout
    ins = [
        (int(m.group(1), 16), m.group(2).strip())
        for m in (re.match(r"\s*/\*([0-9a-f]{4,5})\*/\s+(.*?);", line) for line in sass.splitlines())
        if m
    ]
    loops = []
    for off, text in ins:
        back = re.search(r"BRA (0x[0-9a-f]+)", text)
        if back and int(back.group(1), 16) < off:
            body = [t for o, t in ins if int(back.group(1), 16) <= o <= off]
            if any("HGMMA" in t for t in body):
                loops.append(body)
    loop = min(loops, key=len)
    count = lambda op: sum(re.sub(r"^@!?U?P\w+\s+", "", t).startswith(op) for t in loop)  # noqa: E731
    waits = re.findall(r"WARPGROUP\.DEPBAR\.LE gsb0, (0x[0-9a-f]+)", "\n".join(loop))
    print(
        f"box [1, {bh}, {bw}, {bk}], BLOCK_N {bn}, C_in {c_in}: {len(loop)} instructions a step, "
        f"{count('HGMMA')} HGMMA, {count('LDSM')} LDSM, {count('UTMALDG')} TMA loads, {count('BAR.SYNC')} BAR.SYNC, "
        f"MMA waits allow {[int(w, 16) for w in waits]} outstanding"
    )


if __name__ == "__main__":
    main()
