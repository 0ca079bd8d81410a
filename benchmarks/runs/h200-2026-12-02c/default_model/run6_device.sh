# Device-side body of run6 (started by launch_run6.sh from /tmp/repo): two SLA fine-tunes of run5's rCM
# student side by side on the one GPU (top-k 0.1 and 0.25; each process is launch-bound at this size), each
# checked and exported; then each timed alone.
set -u
SLA_SECONDS=${SLA_SECONDS:-150}
for k in 1 2; do
  mkdir -p /tmp/w$k/out
  cp work_default/run5/work/{bank,vae,teacher,student}.safetensors work_default/run5/work/record.json /tmp/w$k/
  chmod u+w /tmp/w$k/*
done
TRAIN="python3 -m turbodiffusion.default_model.train"
$TRAIN sla check export --work /tmp/w1 --out /tmp/w1/out --set sla_topk=0.1 --set sla_seconds=$SLA_SECONDS > /tmp/w1/log 2>&1 &
$TRAIN sla check export --work /tmp/w2 --out /tmp/w2/out --set sla_topk=0.25 --set sla_seconds=$SLA_SECONDS > /tmp/w2/log 2>&1 &
wait
$TRAIN time export --work /tmp/w1 --out /tmp/w1/out --set sla_topk=0.1 >> /tmp/w1/log 2>&1
$TRAIN time export --work /tmp/w2 --out /tmp/w2/out --set sla_topk=0.25 >> /tmp/w2/log 2>&1
