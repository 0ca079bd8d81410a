#!/bin/bash
# Runs a queue of GPU work across device calls (the device tool: one command a call, about 10 minutes each,
# 8 files back at most, the machine kept warm only while calls follow each other).
#
#   bash benchmarks/device_queue.sh DEADLINE_S ITEMS_FILE [DONE ...]
#
# ITEMS_FILE: one item a line, "name:limit_s:script" (blank lines and # comments skipped), run in order.
# Each call runs the next items that fit before its deadline (DEADLINE_S seconds from now) and marks them
# done in /tmp (kept while the machine stays warm), so the same command given again goes on where the last
# call stopped; names given after ITEMS_FILE count as done (for a fresh machine). An item starts only with
# at least half its own limit left and is cut at the deadline (its log says so). Each item's output goes to
# $OUT/queue_NAME.log, its last 30 lines to stdout; everything the items write under $OUT is packed into one
# archive at the end.
set -u
DEADLINE=$(( $(date +%s) + $1 ))
ITEMS_FILE=$2
STATE=/tmp/td_queue_done
touch $STATE
for name in "${@:3}"; do echo "$name" >> $STATE; done
while IFS=: read -r name limit script; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  grep -qx "$name" $STATE && continue
  left=$(( DEADLINE - $(date +%s) ))
  if (( left * 2 < limit )); then echo "=== $name: not started, ${left}s left of ${limit}s"; continue; fi
  echo "$name" >> $STATE
  echo "=== $name ($script), ${left}s left, $(date -u +%T)"
  start=$(date +%s)
  timeout $left bash $script > $OUT/queue_$name.log 2>&1 < /dev/null
  rc=$?
  (( rc == 124 )) && echo "CUT at the call's deadline" >> $OUT/queue_$name.log
  echo "--- $name rc $rc in $(( $(date +%s) - start ))s"
  tail -n 30 $OUT/queue_$name.log
done < "$ITEMS_FILE"
echo "=== done: $(tr '\n' ' ' < $STATE)"
cd $OUT && tar czf results_$(date -u +%H%M%S).tgz --remove-files $(ls | grep -v '^results_') && ls -la $OUT
