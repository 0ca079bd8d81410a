"""Does sm_90 evaluate a packed half-precision exp2 in one special-function instruction? Compiles a Triton
kernel whose only work is fp32 pair -> f16x2 -> ex2.approx.f16x2 -> e4m3x2 (what the Sage kernel's softmax
would do to halve its exp2 instructions, P~ being e4m3 anyway) for sm_90 on a machine without a GPU and
prints the SASS lines of the conversions and the exp2s.

    env -u TRITON_INTERPRET python benchmarks/runs/cpu-2026-12-05h/local_scripts/ex2_f16x2_sass.py
"""

import triton
import triton.language as tl
from triton.compiler import ASTSource

from turbodiffusion.testing.sm90_compile import compile_for_sm90, cuobjdump_output

PACKED_EXP2_TO_E4M3 = tl.constexpr(
    "{ .reg .b32 t; cvt.rn.f16x2.f32 t, $2, $1; ex2.approx.f16x2 t, t; cvt.rn.satfinite.e4m3x2.f16x2 $0, t; }"
)


@triton.jit
def _packed_exp2_kernel(x_ptr, y_ptr):
    offs = tl.arange(0, 256)
    a = tl.load(x_ptr + offs)
    b = tl.load(x_ptr + offs + 256)
    codes = tl.inline_asm_elementwise(
        PACKED_EXP2_TO_E4M3, "=h,f,f", [a, b], dtype=tl.int16, is_pure=True, pack=1
    )
    tl.store(y_ptr + offs, codes)


def main() -> None:
    source = ASTSource(_packed_exp2_kernel, {"x_ptr": "*fp32", "y_ptr": "*i16"}, {})
    (sass,) = cuobjdump_output(compile_for_sm90(source, {}).asm["cubin"], "-sass")
    for line in sass.splitlines():
        if any(op in line for op in ("MUFU", "F2FP", "PRMT")):
            print(line.split(";")[0].strip())


if __name__ == "__main__":
    main()
