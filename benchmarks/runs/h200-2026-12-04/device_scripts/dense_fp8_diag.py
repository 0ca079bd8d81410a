"""Why does ``test_dense_kernel_matches_the_lossy_reference[333-128-64-32-64-fp8-bf16]`` fail on the GPU only?

For the test's inputs (and other seeds of the same config, and neighbouring configs) compare, by the test's
metric (max |a - b| / max |b|):
- the kernel on the GPU against the reference on the GPU (the test) and on the CPU;
- the reference on the GPU against the reference on the CPU (same inputs);
- a copy of the kernel with ``tl.exp2`` replaced by libdevice's exp2 (correctly rounded on most inputs)
  against both references;
and locate the worst element. The copy is written beside kernel.py at run time (the device's checkout) and
is not part of the project.

    PYTHONPATH=. python benchmarks/runs/h200-2026-12-04/device_scripts/dense_fp8_diag.py OUT.json
"""

import importlib
import json
import pathlib
import sys

import torch

from turbodiffusion.attention.sage import kernel as sage_kernel
from turbodiffusion.attention.sage.reference import sage_attention_reference
from turbodiffusion.testing.compare import max_rel, rel_l2


def precise_copy():
    src = pathlib.Path(sage_kernel.__file__)
    text = src.read_text()
    assert text.count("tl.exp2(") >= 3, "kernel.py changed: exp2 calls not found"
    text = text.replace("tl.exp2(", "libdevice.exp2(")
    text = text.replace(
        "import triton.language as tl\n",
        "import triton.language as tl\nfrom triton.language.extra import libdevice\n",
        1,
    )
    dst = src.with_name("_diag_precise_exp2.py")
    dst.write_text(text)
    return importlib.import_module("turbodiffusion.attention.sage._diag_precise_exp2")


def qkv(seed, b, seq, h, d, dtype, k_mean=2.0):  # tests/attention/test_sage.py's inputs
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, seq, h, d, generator=g)
    k = torch.randn(b, seq, h, d, generator=g) + k_mean * torch.randn(d, generator=g)
    v = torch.randn(b, seq, h, d, generator=g)
    return [t.to(dtype) for t in (q, k, v)]


def main(out_path):
    precise = precise_copy()
    rows = []
    cases = [(333, 128, 64, 32, 64, s) for s in (333 * 3 + 128, 1, 2, 3, 4, 5, 6, 7)]
    cases += [
        (333, 128, 64, 64, 64, 1127),
        (333, 64, 64, 32, 64, 1063),
        (200, 128, 64, 32, 64, 728),
        (200, 64, 128, 64, 128, 664),
        (333, 128, 128, 64, 128, 1127),
    ]
    for seq, d, bq, bk, tile, seed in cases:
        q, k, v = qkv(seed, 2, seq, 2, d, torch.bfloat16)
        kw = dict(block_q=bq, block_k=bk, tile_k=tile, pv="fp8", v_range=448.0)
        qc, kc, vc = (t.cuda() for t in (q, k, v))
        out = sage_kernel.sage_forward_triton(qc, kc, vc, **kw)
        out_p = precise.sage_forward_triton(qc, kc, vc, **kw)
        ref_gpu = sage_attention_reference(qc, kc, vc, out_dtype=torch.float32, **kw)
        ref_cpu = sage_attention_reference(q, k, v, out_dtype=torch.float32, **kw)
        diff = (out.float().cpu() - ref_gpu.cpu()).abs()
        idx = torch.unravel_index(diff.argmax(), diff.shape)
        row = dict(
            seq=seq, d=d, block_q=bq, block_k=bk, tile_k=tile, seed=seed,
            kernel_vs_ref_gpu=max_rel(out, ref_gpu), kernel_vs_ref_cpu=max_rel(out.cpu(), ref_cpu),
            ref_gpu_vs_ref_cpu=max_rel(ref_gpu.cpu(), ref_cpu),
            precise_vs_ref_gpu=max_rel(out_p, ref_gpu), precise_vs_ref_cpu=max_rel(out_p.cpu(), ref_cpu),
            kernel_vs_precise=max_rel(out, out_p.float()),
            l2_kernel_vs_ref_cpu=rel_l2(out.cpu(), ref_cpu.to(torch.bfloat16)),
            worst_index=[int(i) for i in idx], worst_abs=float(diff.max()),
            elements_over_half_bound=int((diff > 0.004 * ref_gpu.abs().max().item()).sum()),
        )  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
