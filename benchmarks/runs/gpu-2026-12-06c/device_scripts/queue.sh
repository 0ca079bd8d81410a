#!/bin/bash
# The next session's GPU queue (queue_items.txt) through benchmarks/device_queue.sh: `queue.sh 560 [DONE ...]`,
# the same command again on a warm machine.
exec bash benchmarks/device_queue.sh "${1:-570}" benchmarks/runs/gpu-2026-12-06c/device_scripts/queue_items.txt "${@:2}"
