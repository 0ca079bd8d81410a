# PYTHONPATH of this session's device scripts (sourced by callN.sh).
export PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts:benchmarks/runs/cpu-2026-12-04f/device_scripts:benchmarks/runs/cpu-2026-12-05c/device_scripts
