import sys
import time
from pathlib import Path

import torch

from turbodiffusion.default_model import train
from turbodiffusion.default_model.check import adherence, build_dit, sample_videos, to_frames

cpu = torch.device("cpu")
work = Path("work_default/run2/work")
s = train.settled_guidance(train.TrainSettings(), work)
bank = train.load_bank(work, cpu)
vae = train.load_vae_work(work, cpu)
teacher, _ = train.load_work_file(work / "teacher.safetensors", cpu)
n = int(sys.argv[2])
keys = bank.eval_keys[:n]
dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[sys.argv[1]]
dit = build_dit("teacher", teacher, teacher, s.dit, cpu, dtype=dtype)
t = time.time()
v = sample_videos(
    "teacher",
    dit,
    vae.to(dtype),
    bank.eval_embeddings[:n],
    bank.uncond[None],
    s.latent_shape(n),
    teacher_steps=s.teacher_sampling_steps,
    guidance=s.guidance,
    shift=s.teacher_shift,
)
f = to_frames(v)
print(sys.argv[1], "guidance", s.guidance, adherence(f, keys), f"{time.time() - t:.0f}s", flush=True)
