#!/bin/bash
# This session's queue of GPU work (queue_items.txt) through benchmarks/device_queue.sh. Run with carry
# [".minilm"]: `queue.sh 570 [DONE ...]`, the same command again on a warm machine.
exec bash benchmarks/device_queue.sh "${1:-570}" benchmarks/runs/cpu-2026-12-05f/device_scripts/queue_items.txt "${@:2}"
