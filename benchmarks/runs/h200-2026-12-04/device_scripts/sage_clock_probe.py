"""The sm_90 Sage kernel and 03h's probe variants (``sage_probe.py``, a frozen copy of the kernel at
657d349 with one resource taken away at a time), each replayed in CUDA graphs for a sustained ~2 s while
``nvidia-smi`` samples the SM clock and board power, so that time can be put in SM cycles: does a variant
gain because it needs fewer cycles or because the power cap lets the clock run faster?

Two softmax stand-ins are added (``CHEAP`` picks which one the probe's ``SOFTMAX=False`` runs, one per
process, since a jitted function's globals must not change after it is compiled):
- ``cheap``: 03h's one FMA and the cast;
- ``noexp``: the row maximum, the exponent's FMA and the row sum kept, exp2 dropped (what the MUFU costs);
- ``halfpoly``: the whole softmax with exp2 by a cubic polynomial on the FMA pipe for every other key
  (Cody-Waite split by the 1.5 * 2^23 trick), the other half on the MUFU.

    PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts \
        python benchmarks/runs/h200-2026-12-04/device_scripts/sage_clock_probe.py OUT.json CHEAP
"""

import json
import math
import sys
import time

import sage_probe
import sage_wgmma_at_657d349 as frozen
import torch
from gpu_clock import ClockSampler
from graph_timing import time_ms
from triton.experimental import gluon
from triton.experimental.gluon import language as gl

from turbodiffusion.attention.sage import kernel_wgmma as current
from turbodiffusion.attention.sage.quant import quantize_v_fp8_triton
from turbodiffusion.attention.sla.kernel_fwd import LOG2E, summarize_kv

sage_probe.kw = frozen  # the probe was written against 657d349's module (its _tma_load, _load_tile)
_LOG2_FP8_MAX = frozen._LOG2_FP8_MAX
_INT32_BIAS = frozen._INT32_BIAS


@gluon.jit
def _noexp_tile(s, rs, m_i, l_i):
    x = s.to(gl.float32, bitcast=True)
    m_new = gl.maximum(m_i, (gl.max(x, 1) - _INT32_BIAS) * rs)
    alpha = gl.exp2(m_i - m_new)
    p = gl.fma(x, rs[:, None], -gl.fma(rs, _INT32_BIAS, m_new - _LOG2_FP8_MAX)[:, None])
    l_i = l_i * alpha + gl.sum(p, 1)
    return p, alpha, m_new, l_i


@gluon.jit
def _exp2_poly(x):
    x = gl.maximum(x, -127.0)
    t = x + 12582912.0  # 1.5 * 2^23: rounds x to an integer n held in t's low mantissa bits
    f = x - (t - 12582912.0)  # in [-0.5, 0.5]
    p = gl.fma(gl.fma(gl.fma(f, 0.0555041, 0.2402265), f, 0.6931472), f, 1.0)
    bits = p.to(gl.int32, bitcast=True) + (t.to(gl.int32, bitcast=True) << 23)
    return bits.to(gl.float32, bitcast=True)


@gluon.jit
def _halfpoly_tile(s, rs, m_i, l_i):
    x = s.to(gl.float32, bitcast=True)
    m_new = gl.maximum(m_i, (gl.max(x, 1) - _INT32_BIAS) * rs)
    alpha = gl.exp2(m_i - m_new)
    e = gl.fma(x, rs[:, None], -gl.fma(rs, _INT32_BIAS, m_new - _LOG2_FP8_MAX)[:, None])
    m: gl.constexpr = e.shape[0]
    n: gl.constexpr = e.shape[1]
    e0, e1 = gl.split(e.reshape([m, n // 2, 2]))
    p = gl.convert_layout(gl.join(gl.exp2(e0), _exp2_poly(e1)).reshape([m, n]), e.type.layout)
    l_i = l_i * alpha + gl.sum(p, 1)
    return p, alpha, m_new, l_i


STAND_INS = {"cheap": None, "noexp": _noexp_tile, "halfpoly": _halfpoly_tile}


def sustained(fn, seconds=2.0, reps=20):
    """ms a call over ~``seconds`` of back-to-back graph replays, with the clock sampled meanwhile."""
    g = torch.cuda.CUDAGraph()
    fn()
    torch.cuda.synchronize()
    with torch.cuda.graph(g):
        for _ in range(reps):
            fn()
    g.replay()
    torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    with ClockSampler(torch.device("cuda")) as clocks:
        while time.perf_counter() - t0 < seconds:
            g.replay()
            n += 1
            if n % 8 == 0:
                torch.cuda.synchronize()
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
    ms = elapsed * 1e3 / (n * reps)
    c = clocks.summary or {}
    return dict(ms=ms, sm_mhz=c.get("sm_mhz"), power_w=c.get("power_w"), capped=c.get("power_capped"),
                kcycles=ms * c["sm_mhz"] if c.get("sm_mhz") else None)  # fmt: skip


def main(out_path, cheap):
    if STAND_INS[cheap] is not None:
        sage_probe._cheap_tile = STAND_INS[cheap]
    variants = {"probe_full": {}, cheap: dict(softmax=False)}
    if cheap == "cheap":
        variants.update({k: v for k, v in sage_probe.VARIANTS.items() if k != "probe_full"})
    rows = []
    for name, (h, seq) in {"1.3b-480p": (12, 32760), "14b-720p": (40, 75600)}.items():
        q, x = sage_probe.inputs(1, h, seq, 128, 0.1, seed=1)
        o = torch.empty_like(q)
        v = torch.randn_like(q)
        vq_perm, vs = quantize_v_fp8_triton(v, summarize_kv(q, v, state=False, stats=True).v_amax, 448.0,
                                            permute_keys=True)  # fmt: skip
        xc = (*x[:4], vq_perm, vs, x[6])
        scale = LOG2E / math.sqrt(128)
        fns = {"kernel": lambda xc=xc, o=o, scale=scale: current.sage_sparse_wgmma(*xc, o, scale)}
        for vname, flags in variants.items():
            fns[vname] = lambda f=flags, x=x, o=o: sage_probe.run_probe(*x, o, **f)
        fns["kernel_again"] = fns["kernel"]
        row = dict(shape=name, cheap=cheap)
        for vname, fn in fns.items():
            row[vname] = dict(burst_ms=time_ms(fn), **sustained(fn))
            print(name, vname, json.dumps(row[vname]), flush=True)
        rows.append(row)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
