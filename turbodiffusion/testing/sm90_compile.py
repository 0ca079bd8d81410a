"""Compile the Hopper Gluon kernels (and Triton kernels: the VAE's convolution, the INT8 and V quantisers, the
fused norm) for sm_90 on a machine without a
GPU (Triton ships ptxas and cuobjdump) and report what its tests check: registers, stack, shared memory, the
SASS's warpgroup-MMA instructions and waits, and for the Sage kernel and the convolution their main loop's
instructions, shared-memory stores, byte permutes and ldmatrix loads.

The test suite runs Triton's CPU interpreter, which replaces jitted functions and breaks compilation, so
tests call this in a subprocess without TRITON_INTERPRET (``build_report``):

    python -m turbodiffusion.testing.sm90_compile 128 1    # the Sage kernel: D, LINEAR [fp64] -> one JSON line
    python -m turbodiffusion.testing.sm90_compile kv_summary 128 1 1    # the K/V summary: D, STATE, STATS
    python -m turbodiffusion.testing.sm90_compile causal_conv3d 64 32 96 1 128    # N, K, C_out, box H x W
    python -m turbodiffusion.testing.sm90_compile quantize_int8 128 128 1 1    # D, block, SMOOTH, POOL
    python -m turbodiffusion.testing.sm90_compile norm_modulate 1536 4 4 0    # D, rows, warps, RESIDUAL
    python -m turbodiffusion.testing.sm90_compile quantize_v_fp8 fp64    # v_range's type
    python -m turbodiffusion.testing.sm90_compile sla_fwd fp64    # qk_scale's and eps's type
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

import triton

from ..kernel_device import FP_FUSION


def build_report(*args: object) -> dict:
    """This module's report for ``args`` (its command line, e.g. ``"kv_summary", 128, 1, 1``), from a
    subprocess run without TRITON_INTERPRET, as the tests need it. Raises RuntimeError with the tail of the
    build's stderr when it fails."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # the interpreter cannot compile
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    run = subprocess.run(
        [sys.executable, "-m", "turbodiffusion.testing.sm90_compile", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"the sm_90 build {args} failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def cuobjdump() -> str:
    return os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def compile_for_sm90(source, options: dict):
    """``triton.compile`` of a Gluon or Triton source for sm_90 (with FP fusion, as the launchers build)."""
    from triton.backends.compiler import GPUTarget

    return triton.compile(source, target=GPUTarget("cuda", 90, 32), options={**options, **FP_FUSION})


def cuobjdump_output(cubin: bytes, *flags: str) -> list[str]:
    """What cuobjdump prints for ``cubin`` under each flag (``-sass``, ``-res-usage``), in order."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        return [
            subprocess.run([cuobjdump(), flag, f.name], capture_output=True, text=True).stdout
            for flag in flags
        ]


def compile_sage_wgmma(d: int, linear: bool, floats: str = "fp32") -> dict:
    """Build ``_sage_sparse_wgmma_kernel`` for sm_90 as its launcher would and describe the binary; ``floats``:
    the type of its float arguments (qk_scale, eps), "fp32" as Triton's launcher passes them, "fp64" as
    torch.compile's Inductor does."""
    from triton.experimental.gluon import language as gl
    from triton.experimental.gluon._runtime import GluonASTSource

    from ..attention.sage import kernel_wgmma as kw

    def desc(ty: str, shape: list[int], gl_ty) -> str:
        layout = gl.NVMMASharedLayout.get_default_for(shape, gl_ty)
        return f"tensordesc<{ty}[{shape[0]}, {shape[1]}],{layout!r}>"

    fn = kw._sage_sparse_wgmma_kernel
    const = dict(
        D=d, BLKQ=kw.BLOCK_M, BLKK=kw.BLOCK_N, BLOCK_M=kw.BLOCK_M, BLOCK_N=kw.BLOCK_N, STAGES=kw.STAGES,
        LOADER_REGS=kw.LOADER_REGS, LINEAR=linear, num_warps=kw.LAUNCH_OPTIONS["num_warps"],
    )  # fmt: skip
    sig = dict(
        q_desc=desc("i8", [kw.BLOCK_M, d], gl.int8),
        k_desc=desc("i8", [kw.BLOCK_N, d], gl.int8),
        v_desc=desc("fp8e4nv", [d, kw.BLOCK_N], gl.float8e4nv),
        m_desc=desc("bf16", [d, d], gl.bfloat16) if linear else desc("i8", [kw.BLOCK_M, d], gl.int8),
        QS="*fp32", KS="*fp32", VS="*fp32", LUT="*i32", Out="*bf16", QH="*bf16", KSUM="*fp32", BIAS="*fp32",
        sob="i32", sol="i32", soh="i32", sqb="i32", sql="i32", sqh="i32",
        H="i32", L="i32", KP="i32", NQB="i32", NKB="i32", MQ="i32", NT="i32", qk_scale=floats, eps=floats,
    )  # fmt: skip
    sig.update(dict.fromkeys(const, "constexpr"))
    # As the GPU's JIT marks them (pointers from the allocator, strides of whole heads and rows).
    aligned = ("QS", "KS", "VS", "LUT", "Out", "QH", "KSUM", "BIAS", "sob", "sol", "soh", "sqb", "sql", "sqh")
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in aligned}
    return _describe(GluonASTSource(fn, sig, const, attrs), kw.LAUNCH_OPTIONS, main_loop=("IGMMA", "QGMMA"))


def compile_kv_summary_wgmma(d: int, state: bool, stats: bool) -> dict:
    """Build ``_kv_summary_wgmma_kernel`` (bf16 k and v) for sm_90 and describe the binary."""
    from triton.experimental.gluon import language as gl
    from triton.experimental.gluon._runtime import GluonASTSource

    from ..attention.sla import kv_summary_wgmma as kw

    layout = gl.NVMMASharedLayout.get_default_for([kw.BLOCK_L, d], gl.bfloat16)
    desc = f"tensordesc<bf16[{kw.BLOCK_L}, {d}],{layout!r}>"
    fn = kw._kv_summary_wgmma_kernel
    const = dict(D=d, BLOCK_L=kw.BLOCK_L, STAGES=kw.STAGES, STATE=state, STATS=stats, num_warps=kw.NUM_WARPS)
    sig = dict(
        k_desc=desc, v_desc=desc, KVP="*fp32", KSUMP="*fp32", KCOLP="*fp32", VMAXP="*fp32",
        H="i32", L="i32", ROWS_PER_SPLIT="i32", SPLITS="i32",
    )  # fmt: skip
    sig.update(dict.fromkeys(const, "constexpr"))
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in ("KVP", "KSUMP", "KCOLP", "VMAXP")}
    return _describe(GluonASTSource(fn, sig, const, attrs), dict(num_warps=kw.NUM_WARPS))


def compile_causal_conv3d(block_n: int, block_k: int, c_out: int, block_h: int = 0, block_w: int = 0) -> dict:
    """Build ``_causal_conv3d_kernel`` (bf16, 96 channels in, 3x3x3 taps, ``c_out`` out) for sm_90 and
    describe the binary and its main loop; ``hgmma``: its warpgroup MMA instructions, ``mma_waits``: the
    outstanding MMAs each wait allows. The box is ``block_h`` x ``block_w`` positions, by default the
    launcher's for 480p rows (832 wide)."""
    from triton.compiler import ASTSource

    from ..ops.causal_conv3d import kernel as k

    fn = k._causal_conv3d_kernel
    launch = k.default_launch(96, c_out, 832)
    launch = k.ConvLaunch(block_h or launch.block_h, block_w or launch.block_w, block_n, block_k)
    const = dict(
        C=96, KT=3, KH=3, KW=3, HAS_BIAS=True, BLOCK_H=launch.block_h, BLOCK_W=launch.block_w, BLOCK_N=block_n,
        BLOCK_K=block_k, PRECISION="tf32",
    )  # fmt: skip
    sig = dict(
        x_desc=f"tensordesc<bf16[1, {launch.block_h}, {launch.block_w}, {block_k}]>",
        w_desc=f"tensordesc<bf16[{block_k}, {block_n}]>",
        b_ptr="*bf16", y_ptr="*bf16", T_IN="i32", H="i32", W="i32", CO="i32",
        syb="i64", syt="i32", syh="i32", syw="i32",
    )  # fmt: skip
    sig.update(dict.fromkeys(const, "constexpr"))
    # As the JIT marks them (pointers from the allocator, strides of whole rows of channels).
    aligned = ("b_ptr", "y_ptr", "syt", "syh") + (("CO", "syw") if c_out % 16 == 0 else ())
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in aligned}
    options = dict(num_warps=launch.num_warps, num_stages=launch.num_stages)
    return _describe(ASTSource(fn, sig, const, attrs), options, main_loop=("HGMMA",))


def compile_quantize_int8(d: int, block: int, smooth: bool, pool: bool) -> dict:
    """Build the Sage INT8 quantiser (``sage.quant._quantize_int8_kernel``, bf16 in) for sm_90 as its
    launcher would, with or without K smoothing and the selection's pooling, and describe the binary."""
    from triton.compiler import ASTSource

    from ..attention.sage import quant

    fn = quant._quantize_int8_kernel
    const = dict(D=d, BLK=block, SMOOTH=smooth, WIDE=False, POOL=pool, PRECISION="tf32")
    sig = dict(
        X="*bf16", MEAN="*fp32", XQ="*i8", SCALE="*fp32", POOLED="*bf16", sxb="i32", sxl="i32", sxh="i32",
        H="i32", L="i32", LC="i32", NB="i32",
    )  # fmt: skip
    sig.update(dict.fromkeys(const, "constexpr"))
    return _describe(ASTSource(fn, sig, const), dict(num_warps=quant.quantizer_warps(block)))


def compile_quantize_v_fp8(v_range_type: str) -> dict:
    """Build the Sage V quantiser (``sage.quant._quantize_v_fp8_kernel``, D 128, keys permuted) for sm_90
    with its float argument ``v_range`` typed ``v_range_type``: "fp32" as Triton's launcher passes a Python
    float, "fp64" as torch.compile's Inductor does; describe the binary."""
    from triton.compiler import ASTSource

    from ..attention.sage import quant

    const = dict(D=128, BLOCK_L=quant.V_PAD, EMULATE=False, PERMUTE_KEYS=True, WIDE=False)
    sig = dict(
        V="*bf16", VA="*fp32", VS="*fp32", VQ="*fp8e4nv", svb="i32", svl="i32", svh="i32", H="i32", L="i32",
        LP="i32", v_range=v_range_type, **dict.fromkeys(const, "constexpr"),
    )  # fmt: skip
    return _describe(ASTSource(quant._quantize_v_fp8_kernel, sig, const), dict(num_warps=quant.V_QUANT_WARPS))


def compile_sla_fwd(floats: str) -> dict:
    """Build the SLA forward (``sla.kernel_fwd._sla_fwd_kernel``, bf16, D 64, the linear branch on) for sm_90
    with its float arguments (qk_scale, eps) typed ``floats``: "fp32" as Triton's launcher passes them,
    "fp64" as torch.compile's Inductor does; describe the binary."""
    from triton.compiler import ASTSource

    from ..attention.sla import kernel_fwd

    fn = kernel_fwd._sla_fwd_kernel
    const = dict(
        D=64, BLKQ=64, BLKK=64, BLOCK_M=64, LINEAR=True, STORE_AUX=False, PRECISION="tf32", WIDE=False
    )
    pointers = dict(
        Q="*bf16", K="*bf16", V="*bf16", LUT="*i32", KV="*bf16", KSUM="*fp32", WT="*bf16", BIAS="*fp32",
        Out="*bf16", OS="*bf16", LSE="*fp32",
    )  # fmt: skip
    types = {**pointers, "qk_scale": floats, "eps": floats, **dict.fromkeys(const, "constexpr")}
    sig = {n: types.get(n, "i32") for n in fn.arg_names}  # the rest: strides and sizes
    return _describe(ASTSource(fn, sig, const), dict(num_warps=4))


def compile_norm_modulate(d: int, block_r: int, num_warps: int, residual: bool) -> dict:
    """Build the fused LayerNorm + modulation kernel (``ops.norm_modulate``'s, bf16 rows ``d`` wide, fp32
    [B, 1, dim] modulation, e4m3 codes out; with ``residual`` the gated residual first, as norm3 takes it)
    for sm_90 with ``block_r`` rows a program on ``num_warps`` warps, and describe the binary."""
    from triton.compiler import ASTSource

    from ..ops.norm_modulate import kernel as k
    from ..ops.rms_norm.kernel import row_tiles

    fn = k._norm_modulate_kernel
    width, tiles = row_tiles(d)
    const = dict(
        HAS_MOD=True, HAS_W=False, HAS_B=False, QUANT=True, RESIDUAL=residual, GATED=residual,
        ROUND_NORM=False, EMULATE_FP8=False, BLOCK_R=block_r, W=width, NT=tiles, PADDED=width * tiles > d,
    )  # fmt: skip
    pointers = dict(
        x_ptr="*bf16", scale_ptr="*fp32", shift_ptr="*fp32", w_ptr="*bf16", b_ptr="*bf16", y_ptr="*fp8e4nv",
        ys_ptr="*fp32", r_ptr="*bf16", g_ptr="*fp32", xo_ptr="*bf16",
    )  # fmt: skip
    ints = [n for n in fn.arg_names if n.startswith("stride_") or n in ("R", "L", "D")]
    sig = {**pointers, **dict.fromkeys(ints, "i32"), "eps": "fp32", **dict.fromkeys(const, "constexpr")}
    # As the JIT marks them: pointers from the allocator, row strides of whole rows, 0 for [B, 1, dim] tokens.
    aligned = [*pointers, *(n for n in ints if n.startswith("stride_")), "D"]
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in aligned}
    return _describe(ASTSource(fn, sig, const, attrs), dict(num_warps=num_warps))


def _main_loop(sass: str, mmas: tuple[str, ...] = ("IGMMA", "QGMMA")) -> list[str]:
    """The instructions of a kernel's main loop: the smallest loop (a conditional backward branch and what
    lies between) that holds a warpgroup MMA of each kind in ``mmas`` (the Sage kernel's: its int8 Q.K^T and
    FP8 P~.V)."""
    ins = [
        (int(m.group(1), 16), m.group(2).strip())
        for m in (re.match(r"\s*/\*([0-9a-f]{4,5})\*/\s+(.*?);", line) for line in sass.splitlines())
        if m
    ]
    loops = []
    for off, text in ins:
        back = re.search(r"BRA (0x[0-9a-f]+)", text)
        if back and text.startswith("@") and int(back.group(1), 16) < off:
            body = [t for o, t in ins if int(back.group(1), 16) <= o <= off]
            if all(any(mma in t for t in body) for mma in mmas):
                loops.append(body)
    if not loops:
        raise RuntimeError(f"no loop holds {' and '.join(mmas)} MMAs in this SASS")
    return min(loops, key=len)


def _mma_waits(sass: str) -> list[int]:
    """The outstanding warpgroup MMAs each wait in ``sass`` allows, in order."""
    return [int(w, 16) for w in re.findall(r"WARPGROUP\.DEPBAR\.LE gsb0, (0x[0-9a-f]+)", sass)]


def _describe(source, options: dict, main_loop: tuple[str, ...] = ()) -> dict:
    """Compile a Gluon or Triton source for sm_90 and report registers, stack, local loads, shared memory and
    the warpgroup MMAs and their waits in its SASS; with ``main_loop`` (the MMA kinds that mark it, as
    ``_main_loop`` takes them), that loop too: its instructions, byte permutes (``PRMT``), shared-memory
    stores (``STS``), ldmatrix loads (``LDSM``: an operand going through registers) and MMA waits."""
    compiled = compile_for_sm90(source, options)
    usage, sass = cuobjdump_output(compiled.asm["cubin"], "-res-usage", "-sass")
    regs, stack = map(int, re.search(r"REG:(\d+) STACK:(\d+)", usage).groups())
    report = dict(
        registers=regs, stack=stack, local_loads="LDL" in sass, shared=compiled.metadata.shared,
        mma_waits=_mma_waits(sass), hgmma=len(re.findall(r"\bHGMMA\.", sass)),
        barriers=len(re.findall(r"\bBAR\.SYNC\b", sass)),
        fp64_ops=len(re.findall(r"\bD(?:FMA|MUL|ADD)\b", sass)),
    )  # fmt: skip
    if main_loop:
        loop = _main_loop(sass, main_loop)
        opcodes = [re.sub(r"^@!?U?P\w+\s+", "", t).split()[0] for t in loop]
        report["loop"] = dict(
            instructions=len(loop),
            byte_permutes=sum(op.startswith("PRMT") for op in opcodes),
            shared_stores=sum(op.startswith("STS") for op in opcodes),
            ldmatrix=sum(op.startswith("LDSM") for op in opcodes),
            mma_waits=_mma_waits("\n".join(loop)),
        )
    return report


if __name__ == "__main__":
    if sys.argv[1] == "sla_fwd":
        print(json.dumps(compile_sla_fwd(sys.argv[2])))
    elif sys.argv[1] == "quantize_v_fp8":
        print(json.dumps(compile_quantize_v_fp8(sys.argv[2])))
    elif sys.argv[1] == "norm_modulate":
        print(json.dumps(compile_norm_modulate(*(int(a) for a in sys.argv[2:5]), bool(int(sys.argv[5])))))
    elif sys.argv[1] == "quantize_int8":
        print(json.dumps(compile_quantize_int8(*(int(a) for a in sys.argv[2:6]))))
    elif sys.argv[1] == "causal_conv3d":
        print(json.dumps(compile_causal_conv3d(*(int(a) for a in sys.argv[2:7]))))
    elif sys.argv[1] == "kv_summary":
        print(json.dumps(compile_kv_summary_wgmma(int(sys.argv[2]), *(bool(int(a)) for a in sys.argv[3:5]))))
    else:
        print(json.dumps(compile_sage_wgmma(int(sys.argv[1]), bool(int(sys.argv[2])), *sys.argv[3:4])))
