"""bf16 error of SageSLA's linear-branch kernel against the float64 truth, on the CPU interpreter, with the
official bf16 order of roundings beside it (the record's 0.0028 / 0.0035 against 0.0054 / 0.0056):

    TRITON_INTERPRET=1 PYTHONPATH=. python benchmarks/runs/h200-2026-12-03b/local_scripts/linear_branch_error.py

The inputs are those of tests/attention/test_sla_kernel.py's bf16 linear-branch test.
"""

import torch

from tests.attention.test_sla_kernel import make_case
from turbodiffusion.attention.sla.kernel_fwd import linear_branch_triton, linear_operands
from turbodiffusion.attention.sla.reference import LINEAR_EPS, linear_branch_reference
from turbodiffusion.testing.compare import max_rel

for seq, d in ((150, 64), (333, 128)):
    q, k, v, _, proj = make_case(seq + d, 2, seq, 2, d, torch.bfloat16, "cpu")
    out = torch.full_like(q, float("nan"))
    linear_branch_triton(q, *linear_operands(q, k, v, proj.weight, proj.bias), LINEAR_EPS / seq, out)
    heads = [t.transpose(1, 2) for t in (q, k, v)]
    truth = proj.double()(linear_branch_reference(*(t.double() for t in heads), LINEAR_EPS).transpose(1, 2))
    o_l = linear_branch_reference(*heads, LINEAR_EPS).transpose(1, 2)
    eager = torch.nn.functional.linear(o_l, proj.weight.bfloat16(), proj.bias.bfloat16())
    print(f"L={seq} D={d}: kernel {max_rel(out, truth):.4f}, official bf16 order {max_rel(eager, truth):.4f}")
