# Device-side: resume run3's VAE (clip phase only), train a fresh teacher on its latents, pick the guidance.
set -u
mkdir -p /tmp/w /tmp/w/out && rm -rf /tmp/repo && cp -r . /tmp/repo; cd /tmp/repo
cp work_default/next/bank.safetensors work_default/next/vae.safetensors work_default/next/record.json /tmp/w/
chmod u+w /tmp/w/*
nvidia-smi --query-gpu=name,memory.used --format=csv
setsid nohup bash -c "python3 -m turbodiffusion.default_model.train vae teacher guidance --resume-vae --work /tmp/w $* > /tmp/w/log 2>&1; echo EXIT \$? >> /tmp/w/log" > /dev/null 2>&1 < /dev/null &
