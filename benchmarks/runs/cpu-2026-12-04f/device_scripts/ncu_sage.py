"""One launch of each Sage kernel (``kernel_wgmma``, the reordered variant, the peel-only control) at
14B-720p and 1.3B-480p with SageSLA's linear branch, bracketed by cudaProfilerStart/Stop so that Nsight
Compute sees only those six launches (compiles and warm-up come before).

    ncu --clock-control none --profile-from-start off --set full --import-source no -k regex:_sage_sparse \\
        -o OUT python benchmarks/runs/cpu-2026-12-04f/device_scripts/ncu_sage.py

(PYTHONPATH as ``sage_reorder_ab.py``'s.) Launch order in the report: for each shape, kernel, reorder, peel.
"""

import torch
from pingpong_bench import run
from sage_reorder_ab import LAUNCHERS, case


def main() -> None:
    launches = []
    for h, seq in ((40, 75600), (12, 32760)):
        _, seen = run(*case(1, h, seq, 128, 5, True), LAUNCHERS["kernel"])
        for fn in LAUNCHERS.values():
            launches.append((fn, seen["args"], seen["kwargs"]))
    for fn, args, kwargs in launches:  # compile and warm up outside the profiled range
        fn(*args, **kwargs)
        fn(*args, **kwargs)
    torch.cuda.synchronize()
    torch.cuda.profiler.start()
    for fn, args, kwargs in launches:
        fn(*args, **kwargs)
        torch.cuda.synchronize()
    torch.cuda.profiler.stop()
    print("profiled", [(getattr(fn, "__name__", "?"), args[0].shape) for fn, args, _ in launches], flush=True)


if __name__ == "__main__":
    main()
