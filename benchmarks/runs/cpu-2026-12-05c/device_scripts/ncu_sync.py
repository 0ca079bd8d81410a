"""One launch each of ``kernel_wgmma`` and ``sage_sync``'s kernel at 14B-720p and 1.3B-480p with SageSLA's
linear branch, bracketed by cudaProfilerStart/Stop so that Nsight Compute sees only those four launches
(compiles and warm-up come before).

    ncu --clock-control none --profile-from-start off --set full --import-source no -k regex:_sage_sparse \\
        -o OUT python benchmarks/runs/cpu-2026-12-05c/device_scripts/ncu_sync.py

(PYTHONPATH as ``sage_sync_ab.py``'s.) Launch order in the report: for each shape, kernel, then sync.
"""

import torch
from sage_sync_ab import ARMS, case, run_arm


def main() -> None:
    launches = []
    for h, seq in ((40, 75600), (12, 32760)):
        x = case(1, h, seq, 128, 5, True)
        for arm, (launcher, _) in ARMS.items():
            _, seen = run_arm(arm, x)
            launches.append((launcher, seen["args"], seen["kwargs"]))
    for fn, args, kwargs in launches:  # compile and warm up outside the profiled range
        fn(*args, **kwargs)
        fn(*args, **kwargs)
    torch.cuda.synchronize()
    torch.cuda.profiler.start()
    for fn, args, kwargs in launches:
        fn(*args, **kwargs)
        torch.cuda.synchronize()
    torch.cuda.profiler.stop()
    print("profiled", [(fn.__module__, args[0].shape) for fn, args, _ in launches], flush=True)


if __name__ == "__main__":
    main()
