#!/bin/bash
# For the next GPU machine: the e2e tables of the two targets at the current tree (the Sage kernel with P~ in
# registers since ea0fd00; the last tables, h200-2026-12-04d, predate it), with 04d's exact commands.
set -x
P=e2e bash benchmarks/runs/h200-2026-12-04d/device_scripts/call1.sh
