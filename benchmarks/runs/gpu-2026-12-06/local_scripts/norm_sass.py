"""The fused norm's sm_90 SASS, the tree's kernel (equal tiles) against 4c5eaac's (a head and a tail tile), on a
machine without a GPU: registers, block barriers and straight-line instructions an element a thread (the
kernel has no loop, so the instructions before its last EXIT are what a thread issues, less skipped slow
paths), for bf16 rows with fp32 [B, 1, dim] modulation and e4m3 codes out.

    env -u TRITON_INTERPRET PYTHONPATH=.:benchmarks/runs/gpu-2026-12-06/device_scripts \\
        python benchmarks/runs/gpu-2026-12-06/local_scripts/norm_sass.py
"""

from __future__ import annotations

import re

import norm_modulate_at_4c5eaac as old
from triton.compiler import ASTSource

from turbodiffusion.ops.norm_modulate import kernel as tree
from turbodiffusion.ops.rms_norm.kernel import row_tiles
from turbodiffusion.testing.sm90_compile import compile_for_sm90, cuobjdump_output

POINTERS = dict(
    x_ptr="*bf16", scale_ptr="*fp32", shift_ptr="*fp32", w_ptr="*bf16", b_ptr="*bf16", y_ptr="*fp8e4nv",
    ys_ptr="*fp32", r_ptr="*bf16", g_ptr="*fp32", xo_ptr="*bf16",
)  # fmt: skip


def build(module, d: int, rows: int, warps: int, residual: bool) -> dict:
    fn = module._norm_modulate_kernel
    flags = dict(
        HAS_MOD=True, HAS_W=False, HAS_B=False, QUANT=True, RESIDUAL=residual, GATED=residual, ROUND_NORM=False,
        EMULATE_FP8=False, BLOCK_R=rows,
    )  # fmt: skip
    if "W" in fn.arg_names:
        width, tiles = row_tiles(d)
        flags.update(W=width, NT=tiles, PADDED=width * tiles > d)
    else:
        head, tail = old.row_tiles(d)
        flags.update(BLOCK_D=head, BLOCK_T=tail)
    ints = [n for n in fn.arg_names if n.startswith("stride_") or n in ("R", "L", "D")]
    sig = {**POINTERS, **dict.fromkeys(ints, "i32"), "eps": "fp32", **dict.fromkeys(flags, "constexpr")}
    aligned = [*POINTERS, *(n for n in ints if n.startswith("stride_")), "D"]
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in aligned}
    compiled = compile_for_sm90(ASTSource(fn, sig, flags, attrs), dict(num_warps=warps))
    usage, sass = cuobjdump_output(compiled.asm["cubin"], "-res-usage", "-sass")
    ins = [
        m[1] for m in (re.match(r"\s*/\*[0-9a-f]{4,5}\*/\s+(.*?);", line) for line in sass.splitlines()) if m
    ]
    straight = max(i for i, text in enumerate(ins) if "EXIT" in text)
    return dict(
        registers=int(re.search(r"REG:(\d+)", usage)[1]),
        barriers=sum("BAR.SYNC" in text for text in ins),
        per_element=round(straight / (rows * d / (32 * warps)), 1),
    )


def main() -> None:
    for d, rows, warps in [(1536, 4, 4), (1536, 2, 4), (1536, 1, 4), (5120, 1, 4), (5120, 2, 8)]:
        for residual in (False, True):
            a, b = build(old, d, rows, warps, residual), build(tree, d, rows, warps, residual)
            print(f"d {d} rows {rows} warps {warps} residual {int(residual)}: at_4c5eaac {a}  tiles {b}")


if __name__ == "__main__":
    main()
