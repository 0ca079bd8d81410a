import sys
import time
from pathlib import Path

import torch

from turbodiffusion.default_model import train
from turbodiffusion.models.wan.vae import WanVAE

torch.manual_seed(0)
torch.set_num_threads(1)
cpu = torch.device("cpu")
s = train.TrainSettings()
bank = train.load_bank(Path("work_default"), cpu)
vae = WanVAE(train._identity_stats(s.vae)).train()
if sys.argv[1] == "init":
    train.temporal_identity_init_(vae)
opt = torch.optim.AdamW(vae.parameters(), lr=4e-4, weight_decay=0)
g = torch.Generator().manual_seed(1)
t0 = time.time()
for phase, frames, batch, steps in (("image", 1, 8, 150), ("video", 9, 4, 40)):
    for step in range(steps):
        keys = [bank.keys[i] for i in train._random_keys(bank, batch, g)]
        v = train.object_crop(train.render_keys(keys, frames, s, g, cpu), 64, g)
        for gr in opt.param_groups:
            gr["lr"] = 4e-4 * min(1, (step + 1) / 50) if phase == "image" else 4e-4
        loss, rec = train.vae_loss(vae, v, 1e-4, 10.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if step % 10 == 0 or (phase == "video" and step < 10):
            print(f"{phase} {step} {time.time() - t0:.0f}s loss {loss.item():.4f}", flush=True)
