#!/bin/bash
set -x
W=/tmp/w2; mkdir -p $W
export PYTHONPATH=.
python work_default/gpu/micro2.py $W/micro2.json > $W/micro2.log 2>&1
python benchmarks/vae_decode.py --resolution 480p --variants default,channels_last+fused --chunk-latents 4 20 --layers --json $W/vae_480p.json > $W/vae.log 2>&1
echo done > $W/DONE
