"""Prints the numerics this session's record quotes for the text padding as weighted keys (CPU), using the
tests' own inputs and helpers. Run from the repository root:

    PYTHONPATH=. python benchmarks/runs/cpu-2026-12-05d/local_scripts/numerics.py
"""

from __future__ import annotations

import pathlib
import tempfile

import torch

from turbodiffusion.pipelines import TurboPipeline, text
from turbodiffusion.testing.compare import max_rel, rel_l2


def main() -> None:
    from tests.models import test_text_padding as tp
    from tests.pipelines.layouts import TINY_CONFIGS, write_wan21_t2v

    with torch.no_grad():
        m64 = tp.fill_random_(tp.WanDiT(tp.CONFIG), 5).double()
        x, t, ctx, padded = (a.double() for a in tp._dit_inputs())
        print(
            f"float64 DiT, 5 of 64 rows, short vs padded: rel L2 {rel_l2(m64(x, t, ctx), m64(x, t, padded)):.2e}"
        )

        model = tp.fill_random_(tp.WanDiT(tp.CONFIG), 5).to(torch.bfloat16)
        x, t, ctx, padded = (a.bfloat16() for a in tp._dit_inputs(seed=4))
        truth = tp.reference_dit(model.state_dict(), tp.CONFIG, x, t, ctx)
        print(f"bf16 DiT vs float64 reference: short {max_rel(model(x, t, ctx), truth):.2e}, "
              f"padded {max_rel(model(x, t, padded), truth):.2e}")  # fmt: skip

        q, full_kv, stand_in, bias = tp._padded_and_weighted(torch.bfloat16, seed=1)
        truth = tp.sdpa_attention(q.double(), *(a.double() for a in full_kv))
        print(f"bf16 attention vs float64: weighted keys {max_rel(tp.sdpa_attention(q, *stand_in, bias), truth):.2e}, "
              f"padded keys {max_rel(tp.sdpa_attention(q, *full_kv), truth):.2e}")  # fmt: skip

    folder = write_wan21_t2v(pathlib.Path(tempfile.mkdtemp()))
    frames = {}
    for multiple in (4, 16):
        text.CONTEXT_ROWS_MULTIPLE = multiple
        pipe = TurboPipeline.from_pretrained(folder, device="cpu", configs=TINY_CONFIGS, dtype=torch.float32)
        frames[multiple] = pipe(
            "a red circle", seed=3, num_frames=5, height=48, width=64, progress=False
        ).frames
    a, b = frames[4].int(), frames[16].int()
    print(f"pipeline, 4 of 16 rows vs all 16: {(a != b).float().mean().item():.2e} of the uint8 values differ, "
          f"by at most {(a - b).abs().max().item()}")  # fmt: skip


if __name__ == "__main__":
    main()
