import sys
import time
from pathlib import Path

import torch

from turbodiffusion.default_model import train
from turbodiffusion.models.wan.vae import WanVAE
from turbodiffusion.models.wan.vae_blocks import AttentionBlock, ResidualBlock

torch.manual_seed(0)
cpu = torch.device("cpu")
s = train.TrainSettings()
bank = train.load_bank(Path("work_default"), cpu)
lr = float(sys.argv[1])
opt_name = sys.argv[2]
vae = WanVAE(train._identity_stats(s.vae)).train()

if sys.argv[3] == "zero":
    for m in vae.modules():
        if isinstance(m, ResidualBlock):
            conv = m.residual[-1]
            torch.nn.init.zeros_(conv.weight)
            torch.nn.init.zeros_(conv.bias)
        if isinstance(m, AttentionBlock):
            torch.nn.init.zeros_(m.proj.weight)
            torch.nn.init.zeros_(m.proj.bias)

opt = (
    torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0)
    if opt_name == "adam"
    else torch.optim.Adam(vae.parameters(), lr=lr, betas=(0.9, 0.99))
)
g = torch.Generator().manual_seed(1)
keys = [bank.keys[i] for i in train._random_keys(bank, 8, g)]
v = train.object_crop(train.render_keys(keys, 1, s, g, cpu), 64, g)
t0 = time.time()
for step in range(150):
    for gr in opt.param_groups:
        gr["lr"] = lr * min(1, (step + 1) / 20)
    loss, rec = train.vae_loss(vae, v, 1e-4, 0)
    opt.zero_grad()
    loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(vae.parameters(), 1e9)
    opt.step()
    if step % 10 == 0:
        print(f"{step} {time.time() - t0:.0f}s loss {loss.item():.4f} gn {gn:.2f}", flush=True)
