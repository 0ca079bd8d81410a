#!/bin/bash
# torch.compile against the CUDA graph at 1.3B-480p once more, now that every kernel takes its Python floats
# to fp32 (gpu-2026-12-06: Inductor's fp64 float stopped the compiled forward's build): cpu-2026-12-05h's
# compile_forward.sh without the max-autotune arm, which had not finished autotuning in 294 s.
CAP=300 ARMS=eager,graph,compile exec bash benchmarks/runs/cpu-2026-12-05h/device_scripts/compile_forward.sh
