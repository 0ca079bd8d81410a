"""CPU: held-out adherence of run5's students under SLA at several top-k, merged vs pure rCM weights.

    python benchmarks/runs/h200-2026-12-02c/default_model/cpu_experiments/sla_topk.py WORK 16 \
        merged:0 merged:0.1 merged:0.25 merged:0.5 rcm:0

WORK: run5's work folder (bank, vae, teacher, student, sla .safetensors and record.json). Each argument is
WEIGHTS:TOPK; WEIGHTS merged = rCM + (SLA - teacher) (run5's shipped student), rcm = the rCM student alone
(with the merged proj_l under SLA); TOPK 0 = dense attention. 4 rCM steps, float32, the first N held-out
prompts of the bank, seed 0.
"""

import sys
import time
from pathlib import Path

import torch

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.default_model import train
from turbodiffusion.default_model.check import adherence, sample_videos, to_frames
from turbodiffusion.models.wan.dit import WanDiT

CPU = torch.device("cpu")


def main() -> None:
    torch.set_num_threads(2)
    work = Path(sys.argv[1])
    n = int(sys.argv[2])
    specs = sys.argv[3:]  # weights:topk  (weights: merged|rcm|teacher_sla ; topk 0 = sdpa)
    settings = train.TrainSettings()
    bank = train.load_bank(work, CPU)
    vae = train.load_vae_work(work, CPU)
    teacher, merged, _ = train.merged_student(work)
    rcm, _ = train.load_work_file(work / "student.safetensors", CPU)
    sla_state, _ = train.load_work_file(work / "sla.safetensors", CPU)
    weights = {"merged": merged, "rcm": rcm, "teacher_sla": sla_state}
    ref = None
    for spec in specs:
        name, topk = spec.split(":")
        topk = float(topk)
        att = AttentionConfig("sla", sla_topk=topk) if topk > 0 else AttentionConfig("sdpa")
        state = weights[name]
        if topk == 0:
            state = {k: v for k, v in state.items() if ".proj_l." not in k}
        elif name == "rcm":
            state = {**state, **{k: v for k, v in merged.items() if ".proj_l." in k}}
        dit = WanDiT(settings.dit, att)
        dit.load_state_dict(state)
        dit = dit.float().eval()
        t0 = time.time()
        videos = sample_videos(
            "student",
            dit,
            vae,
            bank.eval_embeddings[:n],
            bank.uncond[None],
            settings.latent_shape(n),
            teacher_steps=0,
            guidance=1.0,
            shift=1.0,
        )
        frames = to_frames(videos)
        res = adherence(frames, bank.eval_keys[:n])
        if ref is None:
            ref = frames
        res["mae_to_first"] = round((frames.float() - ref.float()).abs().mean().item(), 2)
        print(spec, res, f"{time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
