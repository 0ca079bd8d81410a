# Device-side: resume run4's teacher with the sampler's time distribution, then the rest; then the issue-6
# 1.3B-480p e2e ablation (fused ops and VAE chunking unmeasured on a GPU so far).
# Carry: work_default/gpu/launch_run5.sh work_default/run4/work/{bank,vae,teacher}.safetensors
#        work_default/run4/work/record.json
set -u
mkdir -p /tmp/w /tmp/w/out && rm -rf /tmp/repo && cp -r . /tmp/repo; cd /tmp/repo
cp work_default/run4/work/bank.safetensors work_default/run4/work/vae.safetensors \
   work_default/run4/work/teacher.safetensors work_default/run4/work/record.json /tmp/w/
chmod u+w /tmp/w/*
E2E="PYTHONPATH=. timeout 480 python3 benchmarks/e2e.py wan2.1-t2v-1.3b --resolution 480p --reps 3 --loops all --loop-reps 1 --stage-reps 2 --vae-chunk-latents 1 4 20 --json /tmp/w/e2e_1.3b_480p.json > /tmp/w/e2e.log 2>&1; echo E2E_EXIT \$? >> /tmp/w/e2e.log"
setsid nohup bash -c "python3 -m turbodiffusion.default_model.train teacher guidance student sla check time export --resume-teacher --work /tmp/w --out /tmp/w/out $* > /tmp/w/log 2>&1; echo EXIT \$? >> /tmp/w/log; $E2E" > /dev/null 2>&1 < /dev/null &
