#!/bin/bash
# The 28th session's GPU work, then the calls queued by earlier sessions, run in order across device calls: each
# call runs the next items that fit before its deadline (seconds from now, $1) and marks them in /tmp (kept
# while the machine stays warm), so the same command given again goes on where the last one stopped; items
# named after $1 count as done (for a fresh machine). An item starts only with at least half its own limit
# left and is cut at the deadline (its log says so). What the items write is packed into one archive, since 8
# files come back at most. Run with carry [".minilm"]: `queue.sh 575 [DONE ...]`.
DEADLINE=$(( $(date +%s) + ${1:-580} ))
STATE=/tmp/td_queue_done
touch $STATE
for name in "${@:2}"; do echo "$name" >> $STATE; done
A=benchmarks/runs/cpu-2026-12-04f/device_scripts
G=benchmarks/runs/cpu-2026-12-04g/device_scripts
C=benchmarks/runs/cpu-2026-12-05/device_scripts
P=benchmarks/runs/cpu-2026-12-05b/device_scripts
S=benchmarks/runs/cpu-2026-12-05c/device_scripts
D=benchmarks/runs/cpu-2026-12-05d/device_scripts
ITEMS=(  # name:limit_s:script
  "text_keys:520:$D/text_keys.sh"
  "e2e_tables:560:$S/call6.sh"
  "profile:360:$D/profile.sh"
  "e2e_14b_480p:360:$S/call7.sh"
  "builtin_gpu:510:$C/call1.sh"
  "a14b_experts:565:$G/call9.sh"
  "cold_start_1.3b:565:$G/call7.sh"
  "quantize_load:575:$G/call8.sh"
  "a14b_encode_chunks:565:$G/call6.sh"
  "compile_forward:565:$A/call4.sh"
)
for item in "${ITEMS[@]}"; do
  IFS=: read -r name limit script <<< "$item"
  grep -qx "$name" $STATE && continue
  left=$(( DEADLINE - $(date +%s) ))
  if (( left * 2 < limit )); then echo "=== $name: not started, ${left}s left of ${limit}s"; continue; fi
  echo "$name" >> $STATE
  echo "=== $name ($script), ${left}s left, $(date -u +%T)"
  start=$(date +%s)
  timeout $left bash $script > $OUT/queue_$name.log 2>&1
  rc=$?
  (( rc == 124 )) && echo "CUT at the call's deadline" >> $OUT/queue_$name.log
  echo "--- $name rc $rc in $(( $(date +%s) - start ))s"
  tail -n 30 $OUT/queue_$name.log
done
echo "=== done: $(tr '\n' ' ' < $STATE)"
cd $OUT && tar czf results_$(date -u +%H%M%S).tgz --remove-files $(ls | grep -v '^results_') && ls -la $OUT
