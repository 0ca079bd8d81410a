"""benchmarks/forward_ab.py on the CPU: two arms of one tiny model, eager, with their timings and outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..conftest import REPO

# Arm "b" runs every forward under a flag the script's patched attention reads: its output must differ from
# arm "a"'s, proving each arm's context is in force when its forward runs.
SCRIPT = """
import contextlib, json
import torch
from forward_ab import time_forward_arms
from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan import dit

state = {"scale": 1.0}
original = dit.WanSelfAttention.forward
def scaled(self, x, cos, sin):
    return original(self, x, cos, sin) * state["scale"]
dit.WanSelfAttention.forward = scaled

@contextlib.contextmanager
def doubled():
    state["scale"] = 2.0
    try:
        yield
    finally:
        state["scale"] = 1.0

tiny = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=64, text_len=64)
row = time_forward_arms("wan2.1-t2v-1.3b", "480p", {"a": contextlib.nullcontext, "b": doubled}, 2, 1,
                        attention=AttentionConfig(backend="sdpa"), quant=None, quick_dit=tiny, context_rows=20)
print(json.dumps(row))
"""


def test_forward_ab_quick(tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'benchmarks'}", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    row = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(row["ms"]) == {"a", "b"} and all(v > 0 for v in row["ms"].values())
    assert row["rounds"] == 2 and row["speedup"]["a"] == 1.0 and row["rel_l2"]["a"] == 0.0
    assert row["context_rows"] == 20  # a trimmed prompt's rows, not the config's text_len
    assert row["rel_l2"]["b"] > 1e-3, "arm b's context was not in force during its forward"


ALTERNATION = """
import json, time
import torch
from forward_ab import median, time_alternated

order = []
def arm(name, seconds):
    def call():
        order.append(name)
        time.sleep(seconds)
    return call

ms = time_alternated({"slow": arm("slow", 0.004), "fast": arm("fast", 0.0)}, 3, 2, torch.device("cpu"), per_call=2)
print(json.dumps({"order": order, "ms": ms, "median": {k: median(v) for k, v in ms.items()}}))
"""


def test_time_alternated_alternates_the_arms_and_divides_by_the_calls_a_replay_holds(tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'benchmarks'}", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(
        [sys.executable, "-c", ALTERNATION],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["order"] == ["slow", "slow", "fast", "fast"] * 3  # rounds of reps, the arms in turn
    assert all(len(v) == 6 for v in out["ms"].values())
    assert min(out["ms"]["slow"]) >= 2.0 > max(out["ms"]["fast"])  # 4 ms calls halved by per_call=2
    assert out["median"]["slow"] in out["ms"]["slow"]
