# Device-side body of run8 (started by launch_run8.sh from /tmp/repo). From run5's teacher (97.4% held-out):
# two rCM students side by side (batch 8 and batch 16; the tiny model is launch-bound, so a larger batch
# costs little time), then SLA fine-tunes of each at top-k 0.25 and 0.5 side by side, each checked; then
# each timed alone and exported.
set -u
RCM_SECONDS=${RCM_SECONDS:-480}
SLA_SECONDS=${SLA_SECONDS:-240}
TRAIN="python3 -m turbodiffusion.default_model.train"
for r in A B; do
  mkdir -p /tmp/w$r
  cp work_default/run5/work/{bank,vae,teacher}.safetensors work_default/run5/work/record.json /tmp/w$r/
  chmod u+w /tmp/w$r/*
done
$TRAIN student --work /tmp/wA --set rcm_seconds=$RCM_SECONDS --set rcm_batch=8 > /tmp/wA/log 2>&1 &
$TRAIN student --work /tmp/wB --set rcm_seconds=$RCM_SECONDS --set rcm_batch=16 > /tmp/wB/log 2>&1 &
wait
echo "rcm done $(date)"
for r in A B; do for k in 25 50; do
  mkdir -p /tmp/w$r$k/out && cp -p /tmp/w$r/* /tmp/w$r$k/ 2>/dev/null; chmod u+w /tmp/w$r$k/*
  $TRAIN sla check --work /tmp/w$r$k --set sla_topk=0.$k --set sla_seconds=$SLA_SECONDS > /tmp/w$r$k/log 2>&1 &
done; done
wait
echo "sla done $(date)"
for w in A25 A50 B25 B50; do
  $TRAIN time export --work /tmp/w$w --out /tmp/w$w/out >> /tmp/w$w/log 2>&1
done
echo "all done $(date)"
