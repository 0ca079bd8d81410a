#!/bin/bash
# The GPU queue after h100-2026-12-05c (queue_items.txt) through benchmarks/device_queue.sh: `queue.sh 570
# [DONE ...]`, the same command again on a warm machine.
exec bash benchmarks/device_queue.sh "${1:-570}" benchmarks/runs/h100-2026-12-05c/device_scripts/queue_items.txt "${@:2}"
