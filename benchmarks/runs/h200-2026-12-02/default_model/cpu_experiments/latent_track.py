from pathlib import Path

import torch

from turbodiffusion.default_model import train

cpu = torch.device("cpu")
torch.set_num_threads(1)
s = train.TrainSettings()
bank = train.load_bank(Path("work_default"), cpu)
keys = [("red", "circle", "right", None), ("blue", "square", "down", "pink")]
v = train.render_keys(keys, 33, s, torch.Generator().manual_seed(4), cpu)
m = train.foreground_mask(v)[:, 0]  # B T H W


def centroid(mask):
    h, w = mask.shape[-2:]
    ys = torch.arange(h).view(-1, 1).float()
    xs = torch.arange(w).view(1, -1).float()
    tot = mask.sum((-2, -1)).clamp_min(1e-6)
    return (mask * xs).sum((-2, -1)) / tot / w, (mask * ys).sum((-2, -1)) / tot / h


tx, ty = centroid(m)
for name, work in (("run2", "work_default/run2/work"), ("run3", "work_default/run3")):
    vae = train.load_vae_work(Path(work), cpu)
    with torch.no_grad():
        z = vae.encode(v)  # B C F h w normalised
    dev = (z - z[..., :1, :1]).norm(dim=1)  # distance to the corner latent (background)
    for b in range(2):
        thr = dev[b].amax() * 0.3
        lx, ly = centroid((dev[b] > thr).float())
        strength = dev[b].amax((-2, -1))
        print(name, keys[b][:3])
        print("  true x,y @frames 0,4..32:", [f"{tx[b, t]:.2f},{ty[b, t]:.2f}" for t in range(0, 33, 4)])
        print("  latent x,y per latent frame:", [f"{lx[f]:.2f},{ly[f]:.2f}" for f in range(z.shape[2])])
        print("  peak deviation per latent frame:", [f"{x:.1f}" for x in strength.tolist()])
