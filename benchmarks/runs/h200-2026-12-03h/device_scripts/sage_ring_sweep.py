"""Device sweep (2026-12-03h, call 2): the sm_90 sparse Sage kernel's ring depths, P~ stores and a
warp-specialised loader (``sage_ring_variants.py``) against ``kernel_wgmma.sage_sparse_wgmma`` (no linear
epilogue): every variant's output compared bit for bit with the kernel's (V^T permuted for the PERM_P
variants), then each timed in a CUDA graph of 20 calls; the kernel is timed first and last.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03h/device_scripts \\
        python benchmarks/runs/h200-2026-12-03h/device_scripts/sage_ring_sweep.py OUT.json
"""

import json
import math
import sys

import sage_ring_variants as rv
import torch
from graph_timing import time_ms
from sage_probe import inputs

from turbodiffusion.attention.sage import kernel_wgmma as kw
from turbodiffusion.attention.sla.kernel_fwd import LOG2E

VARIANTS = {
    "ring_2_2": (rv.run_ring, dict(sk=2, sv=2)),
    "ring_2_3": (rv.run_ring, dict(sk=2, sv=3)),
    "ring_3_2": (rv.run_ring, dict(sk=3, sv=2)),
    "ring_2_2_perm": (rv.run_ring, dict(sk=2, sv=2, perm_p=True)),
    "ring_2_3_perm": (rv.run_ring, dict(sk=2, sv=3, perm_p=True)),
    "ws_2_2": (rv.run_ws, dict(sk=2, sv=2)),
    "ws_2_2_perm": (rv.run_ws, dict(sk=2, sv=2, perm_p=True)),
    "ws_2_3_perm": (rv.run_ws, dict(sk=2, sv=3, perm_p=True)),
    "ws_3_2_perm": (rv.run_ws, dict(sk=3, sv=2, perm_p=True)),
    "ws_3_3_perm": (rv.run_ws, dict(sk=3, sv=3, perm_p=True)),
}


def main(out_path):
    rows = []
    scale = LOG2E / math.sqrt(128)
    shapes = {"1.3b-480p": (12, 32760), "ragged": (3, 4097), "14b-480p": (40, 32760), "14b-720p": (40, 75600)}
    for name, (h, seq) in shapes.items():
        q, x = inputs(1, h, seq, 128, 0.1, seed=seq)
        xp = (*x[:4], rv.permute_v(x[4]), *x[5:])
        o = torch.empty_like(q)
        ref = kw.sage_sparse_wgmma(*x, o.clone(), scale)
        row = dict(shape=name, nt=x[-1].shape[-1])
        timed = name != "ragged"
        if timed:
            row["kernel_ms"] = time_ms(lambda x=x, o=o: kw.sage_sparse_wgmma(*x, o, scale))
        for vname, (fn, kwargs) in VARIANTS.items():
            args = xp if kwargs.get("perm_p") else x
            try:
                got = fn(*args, o.clone(), **kwargs)
                torch.cuda.synchronize()
                row[f"{vname}_equal"] = bool(torch.equal(got, ref))
                row[f"{vname}_max_diff"] = (got.float() - ref.float()).abs().max().item()
                if timed:
                    row[f"{vname}_ms"] = time_ms(lambda a=args, o=o, f=fn, k=kwargs: f(*a, o, **k))
            except Exception as e:  # noqa: BLE001 - a variant that fails is reported, the sweep goes on
                row[f"{vname}_error"] = repr(e)[:400]
        if timed:
            row["kernel_again_ms"] = time_ms(lambda x=x, o=o: kw.sage_sparse_wgmma(*x, o, scale))
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
