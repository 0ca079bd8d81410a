#!/bin/bash
# The GPU queue of cpu-2026-12-05h (queue_items.txt) through benchmarks/device_queue.sh: `queue.sh 570
# [DONE ...]`, the same command again on a warm machine.
exec bash benchmarks/device_queue.sh "${1:-570}" benchmarks/runs/cpu-2026-12-05h/device_scripts/queue_items.txt "${@:2}"
