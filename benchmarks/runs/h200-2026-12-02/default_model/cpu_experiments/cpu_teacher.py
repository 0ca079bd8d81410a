"""Small-scale CPU check that the teacher learns coherent videos on the run3 VAE's latents."""

import dataclasses
import logging
import sys
from pathlib import Path

import torch

from turbodiffusion.default_model import train

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
s = dataclasses.replace(
    train.TrainSettings(),
    frames=17,
    height=128,
    width=128,
    pool_size=384,
    teacher_batch=16,
    teacher_seconds=1500,
    teacher_warmup=100,
    guidance_options=(3.0,),
    teacher_sampling_steps=16,
)
train.run_stages(["teacher", "guidance", "check"], s, Path(sys.argv[1]), device=torch.device("cpu"))
